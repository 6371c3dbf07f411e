"""`PgStore`: the PostgreSQL backend of `bot.store.protocols.Store`, for several processes on
one database (issue 16: pollers, workers, web processes).

Opened with `PgStore.open(url)`: a psycopg 3 connection pool (`psycopg_pool`), then the schema
check: a database whose schema is not `schema.LATEST` is refused with the one line to run
`rankbot db upgrade` (`migrate_schema`), so a new rankbot never runs half-migrated and an
old one never writes a newer schema. Passwords come from the environment or libpq's
`~/.pgpass`, never from the config file (`bot.config`); `location` never shows one.

Transactions are PostgreSQL's: `transaction()` holds one pool connection for the calling
task until the block ends and commits it (see `bot.store.postgres.connection.Session`).
Besides the `Store` repositories it offers what several processes need: `leases` (the
outbox's post leases for the `worker` role), `rate_windows` (platform limits counted in the
database) and `leadership()` (an advisory lock on a connection of its own, for the `poller`
role).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from bot.errors import StoreCorrupt, StoreNotMigrated, StoreReadOnly
from bot.store.postgres import schema
from bot.store.postgres.connection import Conn, Session, masked, translated
from bot.store.postgres.held import PgHeldAlerts
from bot.store.postgres.history import PgHistory
from bot.store.postgres.outbox import PgOutbox
from bot.store.postgres.rate_windows import PgRateWindows
from bot.store.postgres.slack import PgSlackInstallations
from bot.store.postgres.state import PgSourceDays, PgStateValues
from bot.store.postgres.subscriptions import PgSubscriptions
from bot.store.protocols import SCHEMA_VERSION, Compacted

DEFAULT_POOL_SIZE = 5
CONNECT_TIMEOUT_SECONDS = 10.0
LEADER_LOCK = 0x706F6C6C  # "poll"
"""The advisory lock the active poller holds."""


async def connect(url: str) -> Conn:
    """One connection in autocommit mode, errors translated (naming the database)."""
    with translated(url):
        return await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
        )


async def schema_version(conn: Conn) -> int:
    """The newest migration applied (0: none, or not a rankbot database yet)."""
    cur = await conn.execute("SELECT to_regclass('rankbot_schema') IS NOT NULL")
    found = await cur.fetchone()
    if not found or not found[0]:
        return 0
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM rankbot_schema")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate_schema(url: str) -> tuple[int, int]:
    """Apply the migrations this database lacks (`rankbot db upgrade`); safe when several
    processes run it at once (an advisory lock; each migration in its own transaction).
    Returns the versions before and after."""
    conn = await connect(url)
    try:
        with translated(url):
            await conn.execute("SELECT pg_advisory_lock(%s)", (schema.MIGRATION_LOCK,))
            try:
                await conn.execute(schema.CREATE_VERSIONS)
                before = await schema_version(conn)
                if before > schema.LATEST:
                    raise _newer(url, before)
                for version in range(before + 1, schema.LATEST + 1):
                    async with conn.transaction():
                        await conn.execute(schema.MIGRATIONS[version - 1])
                        await conn.execute(
                            "INSERT INTO rankbot_schema (version) VALUES (%s)", (version,)
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (schema.MIGRATION_LOCK,))
        return before, schema.LATEST
    finally:
        await conn.close()


def _newer(url: str, version: int) -> StoreCorrupt:
    return StoreCorrupt(
        f"{masked(url)} has PostgreSQL schema version {version}; this rankbot knows up to "
        f"{schema.LATEST} (a newer rankbot migrated it: upgrade rankbot)"
    )


class PgLeadership:
    """The poller's lead: a session advisory lock on a connection only it uses, so the lock
    lives exactly as long as that connection (a killed process's lock goes with its socket)."""

    def __init__(self, url: str, key: int = LEADER_LOCK) -> None:
        self._url = url
        self._key = key
        self._conn: Conn | None = None

    async def try_lead(self) -> bool:
        if self._conn is not None and await self.still_leading():
            return True
        conn = await connect(self._url)
        with translated(self._url):
            cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,))
            got = await cur.fetchone()
        if got and got[0]:
            self._conn = conn
            return True
        await conn.close()
        return False

    async def still_leading(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.execute("SELECT 1")
        except psycopg.Error:
            await self.resign()
            return False
        return True

    async def resign(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()


class PgStore:
    """Open with `await PgStore.open(url)`; use as `async with` (or call `close()`)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._state = PgStateValues(session)
        self._days = PgSourceDays(session)
        self._history = PgHistory(session, self._state)
        self._held = PgHeldAlerts(session, self._history)
        self._subscriptions = PgSubscriptions(session, self._held)
        self._outbox = PgOutbox(session, self._history)
        self._slack = PgSlackInstallations(session)
        self._rate_windows = PgRateWindows(session)

    @classmethod
    async def open(
        cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, readonly: bool = False
    ) -> PgStore:
        """Connect and check the schema; raises `StoreIOError` (unreachable, refused),
        `StoreNotMigrated` or `StoreCorrupt` (a newer schema) with the fix."""
        conn = await connect(url)
        try:
            with translated(url):
                version = await schema_version(conn)
        finally:
            await conn.close()
        if version > schema.LATEST:
            raise _newer(url, version)
        if version < schema.LATEST:
            raise StoreNotMigrated(
                f"{masked(url)} is at rankbot schema version {version} of {schema.LATEST}: "
                f"run `rankbot db upgrade` first"
            )
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            open=False,
            timeout=CONNECT_TIMEOUT_SECONDS,
            name="rankbot",
        )
        with translated(url):
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        return cls(Session(pool, url, readonly=readonly))

    # --- the Store protocol ---------------------------------------------------------------------

    @property
    def history(self) -> PgHistory:
        return self._history

    @property
    def days(self) -> PgSourceDays:
        return self._days

    @property
    def state(self) -> PgStateValues:
        return self._state

    @property
    def subscriptions(self) -> PgSubscriptions:
        return self._subscriptions

    @property
    def held(self) -> PgHeldAlerts:
        return self._held

    @property
    def outbox(self) -> PgOutbox:
        return self._outbox

    @property
    def slack(self) -> PgSlackInstallations:
        return self._slack

    @property
    def location(self) -> str:
        return masked(self._session.url)

    @property
    def url(self) -> str:
        """The URL as given (it may hold a password from the environment: never print it)."""
        return self._session.url

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._session.transaction()

    async def compact(self) -> Compacted:
        """PostgreSQL reclaims space itself (autovacuum); `VACUUM` here is the explicit ask."""
        if self._session.readonly:
            raise StoreReadOnly(f"{self.location} is open read-only")
        before = await self._size()
        with translated(self._session.url):
            async with self._session.pool.connection() as conn:
                await conn.execute("VACUUM")
        return Compacted(before, await self._size())

    async def _size(self) -> int:
        return int(await self._session.value("SELECT pg_database_size(current_database())"))

    async def close(self) -> None:
        await self._session.pool.close()

    async def __aenter__(self) -> PgStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- several processes ----------------------------------------------------------------------

    @property
    def leases(self) -> PgOutbox:
        return self._outbox

    @property
    def rate_windows(self) -> PgRateWindows:
        return self._rate_windows

    def leadership(self) -> PgLeadership:
        return PgLeadership(self._session.url)

    async def counts(self) -> dict[str, int]:
        """Documents per table (`rankbot db migrate` checks them)."""
        out = {}
        for table in schema.DOC_TABLES:
            out[table] = int(await self._session.value(f"SELECT count(*) FROM {table}"))
        return out

    @contextlib.asynccontextmanager
    async def raw(self) -> AsyncIterator[Conn]:
        """A connection of the pool, for `rankbot db migrate`'s bulk copy."""
        async with self._session.transaction() as conn:
            yield conn
