"""`PgHistory`: snapshots, the event log, detector states and known models on PostgreSQL.

A snapshot is stored once per (source, period, date): the unique key makes a second poller
that raced to store the same reading fail its whole transaction instead of storing it twice.
Decoded values are cached by what identifies them (a snapshot by its row and content hash, an
event by its key, which never changes), and reads fetch only the documents not cached yet, so
`/top` and charts do not move a year of snapshots over the wire on every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from psycopg.types.json import Jsonb

from bot.clock import utcnow
from bot.core.events import DetectorState, Event
from bot.core.model import Snapshot
from bot.store import keys
from bot.store.postgres.connection import Session
from bot.store.postgres.state import PgStateValues
from bot.store.protocols import Stored


class PgHistory:
    def __init__(self, session: Session, state: PgStateValues) -> None:
        self._db = session
        self._state = state
        self._snapshots: dict[int, tuple[str, Snapshot]] = {}
        self._events: dict[str, Event] = {}

    # --- snapshots -----------------------------------------------------------------------------

    async def add_snapshot(self, snapshot: Snapshot) -> Stored:
        as_dict = snapshot.to_dict()
        digest = snapshot.content_hash(as_dict)
        stream = (snapshot.source, snapshot.period)
        latest = await self._db.row(
            "SELECT as_of, hash FROM snapshots WHERE source = %s AND period = %s "
            "ORDER BY as_of DESC LIMIT 1",
            stream,
        )
        if latest is not None and latest[1] == digest:
            return Stored.UNCHANGED
        doc = {**as_dict, "hash": digest, "stored_at": _now()}
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "SELECT id, hash FROM snapshots WHERE source = %s AND period = %s AND as_of = %s",
                (*stream, doc["as_of"]),
            )
            existing = await cur.fetchone()
            if existing is not None:
                if existing[1] == digest:
                    return Stored.UNCHANGED
                await conn.execute(
                    "UPDATE snapshots SET doc = %s WHERE id = %s", (Jsonb(doc), existing[0])
                )
                self._snapshots[existing[0]] = (digest, snapshot)
                return Stored.RESTATED
            cur = await conn.execute(
                "INSERT INTO snapshots (doc) VALUES (%s) RETURNING id", (Jsonb(doc),)
            )
            added = await cur.fetchone()
            assert added is not None
            self._snapshots[added[0]] = (digest, snapshot)
        if latest is not None and doc["as_of"] < latest[0]:
            return Stored.LATE
        return Stored.NEW

    async def _decoded(self, rows: list[Any]) -> list[Snapshot]:
        """Rows of (id, hash) in order → snapshots, fetching the documents not cached."""
        missing = [r[0] for r in rows if self._snapshots.get(r[0], ("",))[0] != r[1]]
        if missing:
            for doc_id, doc in await self._db.rows(
                "SELECT id, doc FROM snapshots WHERE id = ANY(%s)", (missing,)
            ):
                self._snapshots[doc_id] = (doc["hash"], Snapshot.from_dict(doc))
        return [self._snapshots[r[0]][1] for r in rows if r[0] in self._snapshots]

    async def latest_snapshot(self, source: str, period: str) -> Snapshot | None:
        rows = await self._db.rows(
            "SELECT id, hash FROM snapshots WHERE source = %s AND period = %s "
            "ORDER BY as_of DESC LIMIT 1",
            (source, period),
        )
        found = await self._decoded(rows)
        return found[0] if found else None

    async def snapshots(
        self, source: str, period: str, *, last: int | None = None, until: date | None = None
    ) -> list[Snapshot]:
        if last is not None and last <= 0:
            return []
        limit = until.isoformat() if until is not None else None
        rows = await self._db.rows(
            "SELECT id, hash FROM (SELECT id, hash, as_of FROM snapshots "
            "WHERE source = %s AND period = %s AND (%s::text IS NULL OR as_of <= %s) "
            "ORDER BY as_of DESC LIMIT %s) newest ORDER BY as_of",
            (source, period, limit, limit, last),
        )
        return await self._decoded(rows)

    async def streams(self) -> list[tuple[str, str]]:
        rows = await self._db.rows(
            "SELECT DISTINCT source, period FROM snapshots ORDER BY source, period"
        )
        return [(r[0], r[1]) for r in rows]

    async def snapshot_count(self) -> int:
        return int(await self._db.value("SELECT count(*) FROM snapshots"))

    # --- detector state and known models -------------------------------------------------------

    async def detector_state(self, source: str, period: str) -> DetectorState | None:
        raw = await self._state.get(keys.detector(source, period))
        return DetectorState.from_dict(raw) if raw is not None else None

    async def set_detector_state(self, source: str, period: str, state: DetectorState) -> None:
        await self._state.set(keys.detector(source, period), state.to_dict())

    async def known_models(self, source: str) -> frozenset[str]:
        return frozenset(await self._state.get(keys.known_models(source)) or ())

    async def add_known_models(self, source: str, models: Iterable[str]) -> None:
        async with self._db.transaction():
            known = await self.known_models(source)
            fresh = set(models) - known
            if fresh:
                await self._state.set(keys.known_models(source), sorted(known | fresh))

    # --- the event log -------------------------------------------------------------------------

    async def log_events(self, events: Iterable[Event], now: datetime) -> list[Event]:
        fresh: dict[str, Event] = {}
        for event in events:
            fresh.setdefault(event.key, event)
        if not fresh:
            return []
        added = await self.remember(fresh.values(), now)
        return [e for e in fresh.values() if e.key in added]

    async def remember(self, events: Iterable[Event], now: datetime) -> set[str]:
        """Log the events not logged yet (in the caller's transaction, or one of its own);
        return the keys that were new."""
        stamp = now.isoformat(timespec="seconds")
        docs = [{**e.to_dict(), "logged_at": stamp} for e in events]
        if not docs:
            return set()
        rows = await self._db.write(
            "INSERT INTO events (doc) SELECT d FROM jsonb_array_elements(%s) WITH ORDINALITY "
            "AS a(d, n) ORDER BY n ON CONFLICT (key) DO NOTHING RETURNING key",
            (Jsonb(docs),),
        )
        return {r[0] for r in rows}

    async def by_keys(self, wanted: Iterable[str]) -> dict[str, Event]:
        """Logged events by key (a key not logged is left out)."""
        wanted = set(wanted)
        missing = [k for k in wanted if k not in self._events]
        if missing:
            for key, doc in await self._db.rows(
                "SELECT key, doc FROM events WHERE key = ANY(%s)", (missing,)
            ):
                self._events[key] = _event(doc)
        return {k: self._events[k] for k in wanted if k in self._events}

    async def events(self, *, last: int | None = None) -> list[Event]:
        if last is not None and last <= 0:
            return []
        rows = await self._db.rows(
            "SELECT key, doc FROM (SELECT id, key, doc FROM events ORDER BY id DESC LIMIT %s) "
            "newest ORDER BY id",
            (last,),
        )
        out = []
        for key, doc in rows:
            event = self._events.get(key)
            if event is None:
                event = self._events[key] = _event(doc)
            out.append(event)
        return out


def _event(doc: dict[str, Any]) -> Event:
    return Event.from_dict({k: v for k, v in doc.items() if k != "logged_at"})


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")
