"""Moving a database between backends (`rankbot db migrate --from A --to B`): TinyDB file →
PostgreSQL, and PostgreSQL → TinyDB file for backups.

Both backends hold the same documents in tables of the same names (`bot.store.postgres.schema`),
so a move copies every table document by document, in its order: history, raw days, state
(detector states, known models, health, backfill marks), subscriptions, held alerts, the
outbox with its bodies and blobs, Slack installations and OAuth states. What the bot knows
about what it announced moves with it (the event log, the detector states, the sent posts'
keys), so it goes on without announcing anything again. The target must be empty (a move never
merges), and the counts of every table are compared after the copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from bot.errors import StoreIOError, UsageError
from bot.store.postgres import PgStore
from bot.store.postgres.schema import DOC_TABLES
from bot.store.tinydb import TinyStore
from bot.store.tinydb.files import translated, write_atomically
from bot.store.tinydb.journal import encode_base
from bot.store.tinydb.store import fresh_meta

CHUNK = 2_000
"""Documents per INSERT statement."""


@dataclass(frozen=True)
class Moved:
    """Documents per table, as read from the source and found in the target."""

    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _check(source: Mapping[str, int], target: Mapping[str, int], where: str) -> Moved:
    wrong = [
        f"{t}: {source[t]} → {target.get(t, 0)}"
        for t in DOC_TABLES
        if source[t] != target.get(t, 0)
    ]
    if wrong:
        raise StoreIOError(
            f"{where} does not hold what was copied ({'; '.join(wrong)}): nothing was "
            "deleted; look at both databases before using either"
        )
    return Moved(dict(source))


async def tiny_to_postgres(path: Path, target: PgStore) -> Moved:
    """Copy the TinyDB database at `path` into the empty PostgreSQL database `target`."""
    if not path.exists():
        raise UsageError(f"--from {path}: no such database file")
    store = TinyStore.open(path, readonly=True)
    try:
        tables = store.documents()
    finally:
        store.close_now()
    await _require_empty(target)
    source: dict[str, int] = {}
    async with target.raw() as conn:
        for table in DOC_TABLES:
            docs = [doc for _, doc in sorted(tables.get(table, {}).items(), key=_by_id)]
            source[table] = len(docs)
            for start in range(0, len(docs), CHUNK):
                await conn.execute(
                    f"INSERT INTO {table} (doc) SELECT d FROM jsonb_array_elements(%s) "
                    "WITH ORDINALITY AS a(d, n) ORDER BY n",
                    (Jsonb(docs[start : start + CHUNK]),),
                )
    return _check(source, await target.counts(), target.location)


async def postgres_to_tiny(source_store: PgStore, path: Path) -> Moved:
    """Write the PostgreSQL database `source_store` into a new TinyDB file at `path`."""
    if path.exists():
        raise UsageError(f"--to {path} exists: a move never overwrites; choose a new file")
    tables: dict[str, dict[str, Any]] = {"meta": {"1": fresh_meta()}}
    source: dict[str, int] = {}
    async with source_store.raw() as conn:
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for table in DOC_TABLES:
            cur = await conn.execute(f"SELECT doc FROM {table} ORDER BY id")
            rows = await cur.fetchall()
            tables[table] = {str(i): row[0] for i, row in enumerate(rows, start=1)}
            source[table] = len(rows)
    with translated("write", path):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, encode_base(tables))
    written = TinyStore.open(path, readonly=True)
    try:
        found = {t: len(docs) for t, docs in written.documents().items()}
    finally:
        written.close_now()
    return _check(source, found, str(path))


async def _require_empty(target: PgStore) -> None:
    counts = await target.counts()
    held = {t: n for t, n in counts.items() if n}
    if held:
        listed = ", ".join(f"{t} ({n})" for t, n in held.items())
        raise UsageError(
            f"--to {target.location} is not empty ({listed}): a move never merges; "
            "move into a new database"
        )


def _by_id(entry: tuple[str, Any]) -> int:
    return int(entry[0])
