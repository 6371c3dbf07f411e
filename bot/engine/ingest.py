"""From a fresh snapshot to the events it causes: store → detect → log, in one transaction.

This is the seam every source goes through (the replay file, the demo, the live OpenRouter
poller, a backfill): whatever produced the snapshot, the same rules decide what is news, and
the engine, never a source, calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.clock import utcnow
from bot.core.countries import CountryTable
from bot.core.events import DetectorState, DetectParams, Event, baseline, detect, milestones_reached
from bot.core.model import Snapshot
from bot.net.slices import Slices
from bot.sources.base import Fetched
from bot.store.protocols import History, Store, Stored


@dataclass(frozen=True, slots=True)
class Ingested:
    snapshot: Snapshot
    stored: Stored
    events: list[Event]


async def ingest(
    store: Store,
    snapshot: Snapshot,
    *,
    params: DetectParams,
    countries: CountryTable,
    now: datetime | None = None,
) -> Ingested:
    """Store `snapshot` and, if it is news, detect and log its events.

    Everything (snapshot, detector state, known models, event log) is written in one
    transaction, so a crash leaves either all of it or none of it: no snapshot stored without
    its events.
    """
    history = store.history
    async with store.transaction():
        previous = await history.latest_snapshot(snapshot.source, snapshot.period)
        stored = await history.add_snapshot(snapshot)
        if stored is not Stored.NEW:
            return Ingested(snapshot, stored, [])
        state = await history.detector_state(snapshot.source, snapshot.period)
        if state is not None and previous is not None and not state.milestones_complete:
            state = await _with_history_milestones(history, state, previous, params)
        events, new_state = detect(
            state,
            previous,
            snapshot,
            params=params,
            countries=countries,
            known_models=await history.known_models(snapshot.source),
        )
        await history.set_detector_state(snapshot.source, snapshot.period, new_state)
        await history.add_known_models(snapshot.source, (e.model for e in snapshot.entries))
        logged = await history.log_events(events, now or utcnow())
    return Ingested(snapshot, stored, logged)


async def ingest_baseline(
    store: Store, snapshots: list[Snapshot], *, params: DetectParams, countries: CountryTable
) -> int:
    """Store history (a backfill) without announcing any of it; return how many were new.

    The detector state is rebuilt as a silent baseline from the newest snapshot of each stream,
    and every listed model becomes known, so the first live snapshot after a backfill compares
    against real data and only real news is announced. Milestones count every imported
    snapshot and every threshold the stream's state already held: a model that passed 1T
    anywhere in the history has passed it.

    A year of history is seconds of CPU: it runs in slices (`bot.net.slices`), inside one
    transaction, so the event loop keeps answering (other writers wait for the transaction).
    """
    history = store.history
    stored = 0
    slices = Slices()
    async with store.transaction():
        streams: dict[tuple[str, str], list[Snapshot]] = {}
        for snapshot in snapshots:
            if await history.add_snapshot(snapshot) is Stored.NEW:
                stored += 1
            await history.add_known_models(snapshot.source, (e.model for e in snapshot.entries))
            streams.setdefault((snapshot.source, snapshot.period), []).append(snapshot)
            await slices.pause()
        for (source, period), imported in streams.items():
            latest = await history.latest_snapshot(source, period)
            if latest is None:
                continue
            kept = await history.detector_state(source, period)
            state = baseline(
                latest,
                params,
                countries,
                history=imported,
                milestones=kept.milestones if kept is not None else None,
            )
            await history.set_detector_state(source, period, state)
            await slices.pause()
    return stored


async def _with_history_milestones(
    history: History, state: DetectorState, previous: Snapshot, params: DetectParams
) -> DetectorState:
    """A state from before milestones counted the whole history (schema 1), completed once.

    Every stored snapshot older than `previous` counts; `previous` itself does not, because a
    threshold it reached is either in the state already (announced) or still waiting for its
    confirmation, which a rebuild must not swallow.
    """
    older = [
        s
        for s in await history.snapshots(previous.source, previous.period)
        if s.as_of < previous.as_of
    ]
    milestones = milestones_reached(older, params.milestones, state.milestones)
    return replace(state, milestones=milestones, milestones_complete=True)


async def store_baseline(
    store: Store, fetched: Fetched, *, params: DetectParams, countries: CountryTable
) -> int:
    """Store a fetch's `baseline` silently and run its `on_stored`, in one transaction.

    What the poller does with a backfill's history, and `rankbot backfill` too; returns how
    many snapshots were new.
    """
    async with store.transaction():
        stored = await ingest_baseline(store, fetched.baseline, params=params, countries=countries)
        if fetched.on_stored is not None:
            await fetched.on_stored(store)
    return stored
