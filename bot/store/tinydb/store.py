"""`TinyStore`: the embedded backend of `bot.store.protocols.Store`, on TinyDB.

Everything is held in memory (TinyDB's tables over `JournalStorage`), so reads answer without
waiting; each repository keeps the in-memory indexes its hot lookups need (by channel, by
key). Writes happen inside transactions (`transaction()`): documents change in memory at
once, one at a time (`IncrementalTable`), and at the end of the block the changed documents
go to the journal thread as one commit (`bot.store.tinydb.journal`). The block's task waits
until that commit is durable; the next transaction may start meanwhile, so commits that come
together share one fsync.

Transactions run one at a time (an asyncio lock held while the block runs); a block that
raises is rolled back in memory from the versions its documents had before (`Changes`). If
the disk refuses a commit, the store stops accepting writes (every later commit raises the
same `StoreIOError`): memory and disk no longer agree, and a restart reads the disk again.

On open: the lock (`bot.store.tinydb.files`), the base, the journal replayed on top, a
schema 1/2/3 file upgraded (`bot.store.tinydb.migrate`: a backup is kept next to it), and a
compaction when the journal has outgrown the base.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from bot.clock import utcnow
from bot.errors import StoreCorrupt, StoreIOError, StoreReadOnly
from bot.store.protocols import SCHEMA_VERSION, Compacted
from bot.store.tinydb import migrate
from bot.store.tinydb.files import (
    FILE_MODE,
    acquire_lock,
    fsync_dir,
    journal_path,
    real_path,
    translated,
    write_atomically,
)
from bot.store.tinydb.held import TinyHeldAlerts
from bot.store.tinydb.history import TinyHistory
from bot.store.tinydb.journal import (
    JournalGap,
    JournalWriter,
    Tables,
    encode_base,
    replay,
)
from bot.store.tinydb.outbox import TinyOutbox
from bot.store.tinydb.slack import TinySlackInstallations
from bot.store.tinydb.state import TinySourceDays, TinyStateValues
from bot.store.tinydb.subscriptions import TinySubscriptions
from bot.store.tinydb.table import (
    Alike,
    Changes,
    Database,
    Doc,
    JournalStorage,
    Listener,
    Op,
)

COMPACT_ON_OPEN_BYTES = 1_048_576
"""At open, a journal larger than this and than the base is compacted (nothing else runs)."""
T = TypeVar("T")

OPEN_RETRIES = 5
"""A read-only open that meets a compaction half-way (the journal no longer continues the
base it read) reads again."""


class TinyStore:
    """Open with `TinyStore.open(path)`; use as `async with` (or call `close()`)."""

    def __init__(
        self,
        path: Path,
        tables: Tables,
        *,
        seq: int,
        readonly: bool,
        lock_fd: int | None,
        journal_bytes: int,
        base_bytes: int,
    ) -> None:
        self._path = path
        self._readonly = readonly
        self._lock_fd = lock_fd
        self._seq = seq
        self._storage = JournalStorage(tables)
        self._db = Database(storage=lambda: self._storage)
        self._meta: Doc = dict(tables.get("meta", {}).get("1") or {})
        self._listeners: dict[str, list[Listener]] = {}
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._writer: JournalWriter | None = None
        self._compacting: asyncio.Future[None] | None = None
        db = self._db
        self._history = TinyHistory(db)
        self._state = TinyStateValues(self, db)
        self._days = TinySourceDays(self, db)
        self._held = TinyHeldAlerts(self, db, self._history)
        self._subscriptions = TinySubscriptions(self, db, self._held)
        self._outbox = TinyOutbox(self, db, self._history)
        self._slack = TinySlackInstallations(self, db)
        if not readonly:  # last: a database whose records do not load creates no journal
            self._writer = JournalWriter(path, journal_bytes=journal_bytes, base_bytes=base_bytes)
        self._history.bind(self, self._state)

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> TinyStore:
        """Open (or create) the database at `path`; see the module docstring for what that
        involves. Raises `StoreBusy`, `StoreCorrupt` or `StoreIOError` with the fix."""
        path = real_path(Path(path))
        lock_fd = None
        if not readonly:
            with translated("open", path):
                path.parent.mkdir(parents=True, exist_ok=True)
                lock_fd = acquire_lock(path)
        try:
            for attempt in range(OPEN_RETRIES):
                try:
                    return cls._load(path, readonly=readonly, lock_fd=lock_fd)
                except JournalGap:
                    if not readonly or attempt == OPEN_RETRIES - 1:
                        raise
            raise AssertionError("unreachable")
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    @classmethod
    def _load(cls, path: Path, *, readonly: bool, lock_fd: int | None) -> TinyStore:
        with translated("read", path):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                raw = b""
            journal = journal_path(path)
            journal_size = journal.stat().st_size if journal.exists() else 0
        if not raw.strip():
            if journal_size:
                raise StoreCorrupt(
                    f"{journal} exists but its base {path} does not: restore {path.name} "
                    f"from a backup, or move {journal.name} away to start an empty database"
                )
            tables: Tables = {"meta": {"1": fresh_meta()}}
            if not readonly:
                with translated("create", path):
                    write_atomically(path, encode_base(tables))
            return cls(
                path,
                tables,
                seq=0,
                readonly=readonly,
                lock_fd=lock_fd,
                journal_bytes=0,
                base_bytes=len(raw),
            )
        tables = parse_base(path, raw)
        version = schema_of(tables)
        if version not in migrate.READABLE:
            raise StoreCorrupt(
                f"{path} has schema version {version!r}; this rankbot reads versions "
                f"{', '.join(map(str, migrate.READABLE))} (a newer rankbot wrote it: "
                "upgrade rankbot)"
            )
        if version == 3:  # its journal is read by this rankbot: the upgrade includes it
            meta3 = tables["meta"]["1"]
            with translated("read", path):
                done = replay(path, tables, int(meta3.get("seq", 0)))
            tables["meta"]["1"] = {**meta3, "seq": done.seq}
            if not readonly:  # the backup: the whole schema 3 database, journal included
                raw = b"".join(encode_base(tables))
        if version < SCHEMA_VERSION:
            old = tables
            tables = cls._checked(path, lambda: migrate.upgrade(old, version))
            if not readonly:  # only what loads is upgraded: a bad file is left as it was
                cls._checked(path, lambda: cls._open_in_memory(path, tables, len(raw)))
                cls._write_upgrade(path, raw, tables, version)
        meta = tables["meta"]["1"]
        with translated("read", path):
            replayed = replay(path, tables, int(meta.get("seq", 0)))
        journal_bytes = replayed.good_bytes if not readonly else replayed.size
        store = cls._checked(
            path,
            lambda: cls(
                path,
                tables,
                seq=replayed.seq,
                readonly=readonly,
                lock_fd=lock_fd,
                journal_bytes=journal_bytes,
                base_bytes=len(raw),
            ),
        )
        if not readonly and replayed.good_bytes < replayed.size:
            with translated("repair", journal):
                os.truncate(journal, replayed.good_bytes)
        if not readonly and journal_bytes > max(len(raw), COMPACT_ON_OPEN_BYTES):
            store._compact_now()
        return store

    @classmethod
    def _open_in_memory(cls, path: Path, tables: Tables, base_bytes: int) -> TinyStore:
        return cls(
            path, tables, seq=0, readonly=True, lock_fd=None, journal_bytes=0, base_bytes=base_bytes
        )

    @staticmethod
    def _checked(path: Path, build: Callable[[], T]) -> T:
        """`build()`, with a record of the wrong shape (valid JSON, not rankbot's: a list
        where a post should be, a missing key) reported as `StoreCorrupt` before anything is
        written, instead of a crash after."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise StoreCorrupt(
                f"{path} does not hold a rankbot database (a record has the wrong shape: "
                f"{type(exc).__name__}): restore it from a backup, or point [store] path or "
                "--db at another file"
            ) from None

    @staticmethod
    def _write_upgrade(path: Path, raw: bytes, tables: Tables, version: int) -> None:
        """Keep the old file as `P.schema<N>.bak`, then write the upgraded base."""
        backup = path.with_name(f"{path.name}.schema{version}.bak")
        with translated("back up", path):
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with open(fd, "wb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            fsync_dir(path.parent)
            write_atomically(path, encode_base(tables))
            journal = journal_path(path)
            if journal.exists():
                journal.unlink()

    def _compact_now(self) -> None:
        """Compaction while nothing else runs (at open): the same files, written inline."""
        tables = self._snapshot_tables()
        tables["meta"] = {"1": {**self._meta, "seq": self._seq}}
        with translated("compact", self._path):
            size = write_atomically(self._path, encode_base(tables))
            os.truncate(journal_path(self._path), 0)
        assert self._writer is not None
        self._writer.base_bytes, self._writer.journal_bytes = size, 0

    # --- the Store protocol ---------------------------------------------------------------------

    @property
    def history(self) -> TinyHistory:
        return self._history

    @property
    def days(self) -> TinySourceDays:
        return self._days

    @property
    def state(self) -> TinyStateValues:
        return self._state

    @property
    def subscriptions(self) -> TinySubscriptions:
        return self._subscriptions

    @property
    def held(self) -> TinyHeldAlerts:
        return self._held

    @property
    def outbox(self) -> TinyOutbox:
        return self._outbox

    @property
    def slack(self) -> TinySlackInstallations:
        return self._slack

    @property
    def location(self) -> str:
        return str(self._path)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    @property
    def busy(self) -> bool:
        """A commit is on its way to the disk (tests on virtual time wait for it)."""
        return self._writer is not None and self._writer.busy

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if self._storage.open is not None and self._owner is task:
            yield  # joins the transaction this task already holds
            return
        if self._readonly:
            raise StoreReadOnly(f"{self._path} is open read-only")
        async with self._lock:
            self._check_writable()
            changes = Changes()
            self._storage.open, self._owner = changes, task
            try:
                yield
            except BaseException:
                changes.rollback()
                raise
            finally:
                self._storage.open, self._owner = None, None
            ops = changes.ops()
            if not ops:
                return
            self._seq += 1
            durable = self._submit(ops)
        await asyncio.shield(durable)

    def _submit(self, ops: list[Op]) -> asyncio.Future[None]:
        assert self._writer is not None
        # sorted out before the journal thread wakes up: afterwards this loop would share the
        # GIL with its encoding of the same thousands of documents
        by_table: dict[str, list[tuple[int, Doc | None]]] = {}
        listeners = self._listeners
        for op in ops:
            if isinstance(op, Alike):
                if op.table.name in listeners:
                    by_table.setdefault(op.table.name, []).extend(op.entries())
                continue
            table, doc_id, doc = op
            if table in listeners:
                entries = by_table.get(table)
                if entries is None:
                    entries = by_table[table] = []
                entries.append((doc_id, doc))
        durable = self._writer.submit(self._seq, ops)
        if by_table:

            def committed(future: asyncio.Future[None]) -> None:
                if future.cancelled() or future.exception() is not None:
                    return
                for table, entries in by_table.items():
                    for listener in self._listeners[table]:
                        listener(entries)

            durable.add_done_callback(committed)
        if self._writer.wants_compaction() and self._compacting is None:
            self._compacting = self._writer.compact(
                self._seq, self._snapshot_tables(), dict(self._meta)
            )
            self._compacting.add_done_callback(self._compacted)
        return durable

    def _compacted(self, future: asyncio.Future[None]) -> None:
        self._compacting = None
        if not future.cancelled():
            future.exception()  # a failure is the writer's `failed`: the next commit raises

    def _check_writable(self) -> None:
        if self._writer is not None and self._writer.failed is not None:
            raise self._writer.failed

    def on_commit(self, table: str, listener: Listener) -> None:
        """Call `listener` with a table's changed documents once their commit is durable
        (in commit order): for views that must show only what a crash cannot take back."""
        self._listeners.setdefault(table, []).append(listener)

    def documents(self) -> dict[str, dict[str, Doc]]:
        """Every table's documents by id, as they are now (`rankbot db migrate` copies them;
        documents are never changed in place, so shallow copies are safe)."""
        return self._snapshot_tables()

    def _snapshot_tables(self) -> dict[str, dict[str, Doc]]:
        """The tables as they are now: shallow copies (documents are never changed in place)."""
        return {name: dict(docs) for name, docs in self._storage.data.items()}

    async def compact(self) -> Compacted:
        if self._readonly or self._writer is None:
            raise StoreReadOnly(f"{self._path} is open read-only")
        before = self._disk_bytes()
        async with self._lock:
            self._check_writable()
            job = self._writer.compact(self._seq, self._snapshot_tables(), dict(self._meta))
        await asyncio.shield(job)
        return Compacted(before, self._disk_bytes())

    def _disk_bytes(self) -> int:
        total = 0
        for file in (self._path, journal_path(self._path)):
            with contextlib.suppress(FileNotFoundError):
                total += file.stat().st_size
        return total

    async def close(self) -> None:
        self.close_now()

    def close_now(self) -> None:
        """Close without a loop (after `asyncio.run` ended): the journal thread drains first."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def __aenter__(self) -> TinyStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- for the repositories -------------------------------------------------------------------

    def write(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A repository's write: joins the caller's transaction or is one of its own. Joining
        is the common case (a poll writes thousands of documents in one transaction), so it
        costs nothing: no generator-based context manager is made for it."""
        if self._storage.open is not None and self._owner is asyncio.current_task():
            return _JOINED
        return self.transaction()

    def failed(self) -> StoreIOError | None:
        return self._writer.failed if self._writer is not None else None


class _Joined(contextlib.AbstractAsyncContextManager[None]):
    """The caller already holds the transaction: nothing to begin or end."""

    async def __aexit__(self, *exc: object) -> None:
        return None


_JOINED = _Joined()


def fresh_meta() -> Doc:
    return {"schema": SCHEMA_VERSION, "created": utcnow().isoformat(timespec="seconds"), "seq": 0}


def parse_base(path: Path, raw: bytes) -> Tables:
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise StoreCorrupt(f"{path} is not UTF-8 JSON: restore it from a backup") from None
    except ValueError as exc:
        raise StoreCorrupt(f"{path} is not valid JSON ({exc})") from None
    except RecursionError:
        raise StoreCorrupt(f"{path} is nested too deeply to be a rankbot database") from None
    if not isinstance(data, dict) or not all(
        isinstance(table, dict) and all(isinstance(doc, dict) for doc in table.values())
        for table in data.values()
    ):
        raise StoreCorrupt(
            f"{path} does not hold a rankbot database (every table must map ids to records): "
            "restore it from a backup, or point [store] path or --db at another file"
        )
    return data


def schema_of(tables: Tables) -> Any:
    """The file's schema version: a file without one is from rankbot's first version."""
    meta = tables.get("meta", {}).get("1")
    return meta.get("schema") if isinstance(meta, dict) else 1


def copy_database(source: Path, target: Path) -> None:
    """Copy a database's files (base and journal) for a throwaway run (`--dry-run`)."""
    source = real_path(source)
    with translated("copy", source):
        if source.exists():
            shutil.copyfile(source, target)
        if journal_path(source).exists():
            shutil.copyfile(journal_path(source), journal_path(target))
