"""`TinyHistory`: snapshots, the event log, detector states and known models.

Snapshots are indexed by stream and by (stream, date), and the newest of each stream is kept
at hand, so storing one poll's snapshots never scans the table. Decoded values (`Snapshot`,
`Event`) are cached per stored document and checked by identity, since a stored document is
replaced, never changed (`bot.store.tinydb.table`): `/top` and charts do not re-validate the
same snapshot on every call. Detector states and known models live in the `state` table under
their `bot.store.keys` (the layout of schema 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from bot.clock import utcnow
from bot.core.events import DetectorState, Event
from bot.core.model import Snapshot
from bot.store import keys
from bot.store.protocols import Stored
from bot.store.tinydb.table import Database, Doc, Index, UniqueIndex, Writes

if TYPE_CHECKING:
    from bot.store.tinydb.state import TinyStateValues

SNAPSHOTS = "snapshots"
EVENTS = "events"


def _stream(doc: Mapping[str, Any]) -> tuple[str, str]:
    return (doc["source"], doc["period"])


class TinyHistory:
    def __init__(self, db: Database) -> None:
        self.snapshots_table = db.incremental(SNAPSHOTS)
        self.events_table = db.incremental(EVENTS)
        self._by_stream = self.snapshots_table.add_index(Index(_stream))
        self._by_date = self.snapshots_table.add_index(
            UniqueIndex(lambda d: (d["source"], d["period"], d["as_of"]))
        )
        self._by_key = self.events_table.add_index(UniqueIndex(lambda d: d["key"]))
        self._latest: dict[tuple[str, str], int] = {}
        for doc_id in sorted(int(k) for k in self.snapshots_table.raw):
            self._remember(doc_id)
        self._decoded: dict[int, tuple[Doc, Snapshot]] = {}
        self._events: dict[int, tuple[Doc, Event]] = {}
        self._known: dict[str, tuple[Any, frozenset[str]]] = {}
        self._store: Writes | None = None
        self._state: TinyStateValues | None = None

    def bind(self, store: Writes, state: TinyStateValues) -> None:
        self._store, self._state = store, state

    @property
    def _write(self) -> Writes:
        assert self._store is not None
        return self._store

    @property
    def _values(self) -> TinyStateValues:
        assert self._state is not None
        return self._state

    # --- snapshots -----------------------------------------------------------------------------

    def _remember(self, doc_id: int) -> None:
        doc = self.snapshots_table.doc(doc_id)
        if doc is None:
            return
        stream = _stream(doc)
        latest = self._latest_doc(stream)
        if latest is None or doc["as_of"] >= latest["as_of"]:
            self._latest[stream] = doc_id

    def _latest_doc(self, stream: tuple[str, str]) -> Doc | None:
        doc_id = self._latest.get(stream)
        if doc_id is None:
            return None
        doc = self.snapshots_table.doc(doc_id)
        if doc is None:  # rolled back: find the newest again
            ids = self._by_stream.ids(stream)
            if not ids:
                del self._latest[stream]
                return None
            docs = [(self.snapshots_table.doc(i), i) for i in ids]
            best = max(((d["as_of"], i) for d, i in docs if d is not None), default=None)
            if best is None:
                return None
            self._latest[stream] = best[1]
            return self.snapshots_table.doc(best[1])
        return doc

    def _snapshot(self, doc_id: int) -> Snapshot:
        doc = self.snapshots_table.doc(doc_id)
        assert doc is not None
        cached = self._decoded.get(doc_id)
        if cached is not None and cached[0] is doc:
            return cached[1]
        snapshot = Snapshot.from_dict(doc)
        self._decoded[doc_id] = (doc, snapshot)
        return snapshot

    async def add_snapshot(self, snapshot: Snapshot) -> Stored:
        as_dict = snapshot.to_dict()
        digest = snapshot.content_hash(as_dict)
        stream = (snapshot.source, snapshot.period)
        latest = self._latest_doc(stream)
        if latest is not None and latest["hash"] == digest:
            return Stored.UNCHANGED
        doc = {**as_dict, "hash": digest, "stored_at": _now()}
        async with self._write.write():
            existing = self._by_date.get((*stream, doc["as_of"]))
            if existing is not None:
                old = self.snapshots_table.doc(existing)
                if old is not None and old["hash"] == digest:
                    return Stored.UNCHANGED
                self.snapshots_table.put(existing, doc)
                self._decoded[existing] = (doc, snapshot)
                return Stored.RESTATED
            doc_id = self.snapshots_table.add(doc)
            self._decoded[doc_id] = (doc, snapshot)
            if latest is not None and doc["as_of"] < latest["as_of"]:
                return Stored.LATE
            self._latest[stream] = doc_id
        return Stored.NEW

    async def latest_snapshot(self, source: str, period: str) -> Snapshot | None:
        self._latest_doc((source, period))
        doc_id = self._latest.get((source, period))
        return self._snapshot(doc_id) if doc_id is not None else None

    async def snapshots(
        self, source: str, period: str, *, last: int | None = None, until: date | None = None
    ) -> list[Snapshot]:
        table = self.snapshots_table
        dated = []
        for doc_id in self._by_stream.ids((source, period)):
            doc = table.doc(doc_id)
            if doc is not None:
                dated.append((doc["as_of"], doc_id))
        dated.sort()
        if until is not None:
            limit = until.isoformat()
            dated = [d for d in dated if d[0] <= limit]
        if last is not None:
            dated = dated[-last:] if last > 0 else []
        return [self._snapshot(doc_id) for _, doc_id in dated]

    async def streams(self) -> list[tuple[str, str]]:
        return sorted(cast(tuple[str, str], s) for s in self._by_stream.groups)

    async def snapshot_count(self) -> int:
        return len(self.snapshots_table.raw)

    # --- detector state and known models ---------------------------------------------------------

    async def detector_state(self, source: str, period: str) -> DetectorState | None:
        raw = self._values.raw(keys.detector(source, period))
        return DetectorState.from_dict(raw) if raw is not None else None

    async def set_detector_state(self, source: str, period: str, state: DetectorState) -> None:
        async with self._write.write():
            self._values.put(keys.detector(source, period), state.to_dict())

    async def known_models(self, source: str) -> frozenset[str]:
        raw = self._values.raw(keys.known_models(source))
        cached = self._known.get(source)
        if cached is not None and cached[0] is raw:
            return cached[1]
        known = frozenset(raw or ())
        self._known[source] = (raw, known)
        return known

    async def add_known_models(self, source: str, models: Iterable[str]) -> None:
        known = await self.known_models(source)
        fresh = set(models) - known
        if fresh:
            async with self._write.write():
                self._values.put(keys.known_models(source), sorted(known | fresh))

    # --- the event log -------------------------------------------------------------------------

    async def log_events(self, events: Iterable[Event], now: datetime) -> list[Event]:
        fresh: list[Event] = []
        seen: set[str] = set()
        for event in events:
            key = event.key
            if key not in seen and self._by_key.get(key) is None:
                seen.add(key)
                fresh.append(event)
        if fresh:
            async with self._write.write():
                self.remember(fresh, now)
        return fresh

    def remember(self, events: Iterable[Event], now: datetime) -> None:
        """Log the events not logged yet, inside the caller's open transaction."""
        stamp = now.isoformat(timespec="seconds")
        for event in events:
            if self._by_key.get(event.key) is None:
                doc = {**event.to_dict(), "logged_at": stamp}
                doc_id = self.events_table.add(doc)
                self._events[doc_id] = (doc, event)

    def by_key(self, key: str) -> Event | None:
        doc_id = self._by_key.get(key)
        return self._event(doc_id) if doc_id is not None else None

    def _event(self, doc_id: int) -> Event:
        doc = self.events_table.doc(doc_id)
        assert doc is not None
        cached = self._events.get(doc_id)
        if cached is not None and cached[0] is doc:
            return cached[1]
        event = Event.from_dict({k: v for k, v in doc.items() if k != "logged_at"})
        self._events[doc_id] = (doc, event)
        return event

    async def events(self, *, last: int | None = None) -> list[Event]:
        ids = sorted(int(k) for k in self.events_table.raw)
        if last is not None:
            ids = ids[-last:] if last > 0 else []
        return [self._event(i) for i in ids]


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")
