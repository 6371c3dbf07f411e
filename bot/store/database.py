"""rankbot's one database file: snapshots, the event log and bot state, in TinyDB.

Other parts of the shell (outbox, subscriptions, source health) keep their own tables in the
same file through `Store.table`, so a single atomic write covers everything one poll changes
(see `Store.batch`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import platformdirs
from tinydb import Query, TinyDB
from tinydb.table import Table

from bot.clock import utcnow
from bot.core.events import Event
from bot.core.model import Snapshot
from bot.errors import StoreCorrupt
from bot.store import keys
from bot.store.atomic_json import AtomicJSONStorage

SCHEMA_VERSION = 2
"""1 → 2: detector states may lack `milestones_complete`; the pipeline then rebuilds their
milestones once from the stored snapshots (schema 1 took them from the newest one only). The
file layout is unchanged, so a schema-1 file is upgraded in place when opened for writing."""
READABLE_VERSIONS = (1, 2)


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("rankbot")) / "rankbot.db.json"


class Stored(Enum):
    NEW = "new"
    UNCHANGED = "unchanged"
    RESTATED = "restated"
    LATE = "late"
    """An older date filled in after newer ones: history, not news."""


class Store:
    """Open with `Store.open(path)`; use as a context manager so the lock is released."""

    def __init__(self, db: TinyDB, storage: AtomicJSONStorage) -> None:
        self._db = db
        self._storage = storage
        self._snapshots = db.table("snapshots")
        self._events = db.table("events")
        self._state = db.table("state")
        self._check_schema()
        self._latest: dict[tuple[str, str], dict[str, Any]] = {}
        self._event_keys: set[str] = {doc["key"] for doc in self._events.all()}
        for doc in self._snapshots.all():
            self._remember(doc)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        storage_box: list[AtomicJSONStorage] = []

        def make_storage(p: str) -> AtomicJSONStorage:
            storage_box.append(AtomicJSONStorage(p, readonly=readonly))
            return storage_box[0]

        db = TinyDB(str(path), storage=make_storage)
        try:
            return cls(db, storage_box[0])
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._storage.path

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Everything written inside reaches the disk in one atomic write, or not at all."""
        with self._storage.deferred():
            yield

    def table(self, name: str) -> Table:
        return self._db.table(name)

    def _check_schema(self) -> None:
        meta = self._db.table("meta")
        doc = meta.get(doc_id=1)
        if doc is None:
            if not self._storage.readonly:
                meta.insert({"schema": SCHEMA_VERSION, "created": _now()})
            return
        version = doc.get("schema")
        if version not in READABLE_VERSIONS:
            raise StoreCorrupt(
                f"{self._storage.path} has schema version {version!r}; "
                f"this rankbot reads versions {', '.join(map(str, READABLE_VERSIONS))}"
                " (a newer rankbot wrote it: upgrade rankbot)"
            )
        if version != SCHEMA_VERSION and not self._storage.readonly:
            meta.update({"schema": SCHEMA_VERSION, "upgraded": _now()}, doc_ids=[1])

    @property
    def schema_version(self) -> int:
        doc = self._db.table("meta").get(doc_id=1)
        return int(doc["schema"]) if isinstance(doc, dict) else SCHEMA_VERSION

    # --- snapshots ---------------------------------------------------------------------------

    def _remember(self, doc: dict[str, Any]) -> None:
        key = (doc["source"], doc["period"])
        latest = self._latest.get(key)
        if latest is None or doc["as_of"] >= latest["as_of"]:
            self._latest[key] = doc

    def add_snapshot(self, snapshot: Snapshot) -> Stored:
        """Store a reading unless it says exactly what the latest one of its stream says.

        A reading for a date already held replaces it (figures may be restated) and reports
        `RESTATED`, so the caller can keep the history right without alerting again; only
        `NEW` readings are news.
        """
        digest = snapshot.content_hash()
        key = (snapshot.source, snapshot.period)
        latest = self._latest.get(key)
        if latest is not None and latest["hash"] == digest:
            return Stored.UNCHANGED
        doc = {**snapshot.to_dict(), "hash": digest, "stored_at": _now()}
        q = Query()
        existing = self._snapshots.search(
            (q.source == snapshot.source)
            & (q.period == snapshot.period)
            & (q.as_of == snapshot.as_of.isoformat())
        )
        if existing:
            if existing[0]["hash"] == digest:
                return Stored.UNCHANGED
            self._snapshots.update(doc, doc_ids=[existing[0].doc_id])
            if latest is not None and latest["as_of"] == doc["as_of"]:
                self._latest[key] = doc
            return Stored.RESTATED
        self._snapshots.insert(doc)
        if latest is not None and doc["as_of"] < latest["as_of"]:
            return Stored.LATE
        self._latest[key] = doc
        return Stored.NEW

    def latest_snapshot(self, source: str, period: str) -> Snapshot | None:
        doc = self._latest.get((source, period))
        return Snapshot.from_dict(doc) if doc is not None else None

    def snapshots(self, source: str, period: str, *, last: int | None = None) -> list[Snapshot]:
        """A stream's snapshots, oldest first (optionally only the `last` few)."""
        q = Query()
        docs = self._snapshots.search((q.source == source) & (q.period == period))
        docs.sort(key=lambda d: d["as_of"])
        if last is not None:
            docs = docs[-last:] if last > 0 else []
        return [Snapshot.from_dict(d) for d in docs]

    def streams(self) -> list[tuple[str, str]]:
        return sorted(self._latest)

    def snapshot_count(self) -> int:
        return len(self._snapshots)

    # --- detector state and known models -----------------------------------------------------

    def get_state(self, key: str) -> Any:
        doc = self._state.get(Query().key == key)
        return doc["value"] if doc is not None else None

    def set_state(self, key: str, value: Any) -> None:
        self._state.upsert({"key": key, "value": value}, Query().key == key)

    def known_models(self, source: str) -> set[str]:
        return set(self.get_state(keys.known_models(source)) or [])

    def add_known_models(self, source: str, models: Iterable[str]) -> None:
        known = self.known_models(source)
        fresh = set(models) - known
        if fresh:
            self.set_state(keys.known_models(source), sorted(known | fresh))

    # --- event log ---------------------------------------------------------------------------

    def log_events(self, events: Iterable[Event]) -> list[Event]:
        """Append events not logged before (by key); return the ones that were new."""
        fresh = [e for e in events if e.key not in self._event_keys]
        if fresh:
            self._events.insert_multiple({**e.to_dict(), "logged_at": _now()} for e in fresh)
            self._event_keys.update(e.key for e in fresh)
        return fresh

    def events(self, *, last: int | None = None) -> list[Event]:
        docs = self._events.all()
        if last is not None:
            docs = docs[-last:] if last > 0 else []
        return [Event.from_dict({k: v for k, v in d.items() if k != "logged_at"}) for d in docs]


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")
