"""From a fresh snapshot to the events it causes: store → detect → log, in one atomic write.

This is the seam every source goes through (the replay file, the demo, the live OpenRouter
poller, a backfill): whatever produced the snapshot, the same rules decide what is news, and
the engine, never a source, calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.countries import CountryTable
from bot.core.events import DetectorState, DetectParams, Event, baseline, detect
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
    against real data and only real news is announced.
    """
    stored = 0
    with store.batch():
        newest: dict[tuple[str, str], Snapshot] = {}
        for snapshot in snapshots:
            if store.add_snapshot(snapshot) is Stored.NEW:
                stored += 1
            store.add_known_models(snapshot.source, (e.model for e in snapshot.entries))
            key = (snapshot.source, snapshot.period)
            if key not in newest or snapshot.as_of >= newest[key].as_of:
                newest[key] = snapshot
        for (source, period), _ in newest.items():
            latest = store.latest_snapshot(source, period)
            if latest is not None:
                store.set_state(
                    keys.detector(source, period), baseline(latest, params, countries).to_dict()
                )
    return stored


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
