"""From a fresh snapshot to the events it causes: store → detect → log, in one atomic write.

This is the seam every source goes through (the replay file, the demo, the live OpenRouter
poller, a backfill): whatever produced the snapshot, the same rules decide what is news, and
the engine, never a source, calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.core.countries import CountryTable
from bot.core.events import DetectorState, DetectParams, Event, baseline, detect, milestones_reached
from bot.core.model import Snapshot
from bot.sources.base import Fetched
from bot.store import keys
from bot.store.database import Store, Stored


@dataclass(frozen=True, slots=True)
class Ingested:
    snapshot: Snapshot
    stored: Stored
    events: list[Event]


def ingest(
    store: Store, snapshot: Snapshot, *, params: DetectParams, countries: CountryTable
) -> Ingested:
    """Store `snapshot` and, if it is news, detect and log its events.

    Everything (snapshot, detector state, known models, event log) is written in one batch,
    so a crash leaves either all of it or none of it: no snapshot stored without its events.
    """
    with store.batch():
        previous = store.latest_snapshot(snapshot.source, snapshot.period)
        stored = store.add_snapshot(snapshot)
        if stored is not Stored.NEW:
            return Ingested(snapshot, stored, [])
        key = keys.detector(snapshot.source, snapshot.period)
        raw_state = store.get_state(key)
        state = DetectorState.from_dict(raw_state) if raw_state is not None else None
        if state is not None and previous is not None and not state.milestones_complete:
            state = _with_history_milestones(store, state, previous, params)
        events, new_state = detect(
            state,
            previous,
            snapshot,
            params=params,
            countries=countries,
            known_models=store.known_models(snapshot.source),
        )
        store.set_state(key, new_state.to_dict())
        store.add_known_models(snapshot.source, (e.model for e in snapshot.entries))
        logged = store.log_events(events)
    return Ingested(snapshot, stored, logged)


def ingest_baseline(
    store: Store, snapshots: list[Snapshot], *, params: DetectParams, countries: CountryTable
) -> int:
    """Store history (a backfill) without announcing any of it; return how many were new.

    The detector state is rebuilt as a silent baseline from the newest snapshot of each stream,
    and every listed model becomes known, so the first live snapshot after a backfill compares
    against real data and only real news is announced. Milestones count every imported
    snapshot and every threshold the stream's state already held: a model that passed 1T
    anywhere in the history has passed it.
    """
    stored = 0
    with store.batch():
        streams: dict[tuple[str, str], list[Snapshot]] = {}
        for snapshot in snapshots:
            if store.add_snapshot(snapshot) is Stored.NEW:
                stored += 1
            store.add_known_models(snapshot.source, (e.model for e in snapshot.entries))
            streams.setdefault((snapshot.source, snapshot.period), []).append(snapshot)
        for (source, period), imported in streams.items():
            latest = store.latest_snapshot(source, period)
            if latest is None:
                continue
            key = keys.detector(source, period)
            raw_state = store.get_state(key)
            kept = DetectorState.from_dict(raw_state).milestones if raw_state else None
            state = baseline(latest, params, countries, history=imported, milestones=kept)
            store.set_state(key, state.to_dict())
    return stored


def _with_history_milestones(
    store: Store, state: DetectorState, previous: Snapshot, params: DetectParams
) -> DetectorState:
    """A state from before milestones counted the whole history (schema 1), completed once.

    Every stored snapshot older than `previous` counts; `previous` itself does not, because a
    threshold it reached is either in the state already (announced) or still waiting for its
    confirmation, which a rebuild must not swallow.
    """
    older = [
        s for s in store.snapshots(previous.source, previous.period) if s.as_of < previous.as_of
    ]
    milestones = milestones_reached(older, params.milestones, state.milestones)
    return replace(state, milestones=milestones, milestones_complete=True)


def store_baseline(
    store: Store, fetched: Fetched, *, params: DetectParams, countries: CountryTable
) -> int:
    """Store a fetch's `baseline` silently and run its `on_stored`, in one atomic write.

    What the poller does with a backfill's history, and `rankbot backfill` too; returns how
    many snapshots were new.
    """
    with store.batch():
        stored = ingest_baseline(store, fetched.baseline, params=params, countries=countries)
        if fetched.on_stored is not None:
            fetched.on_stored(store)
    return stored
