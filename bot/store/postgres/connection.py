"""Where a PostgreSQL store is and how to reach it: the URL's parts rankbot checks, the error
translation, and the unit of work every repository shares (`Session`).

Why a `Session`: repositories run their SQL through one object that knows whether the calling
task is inside `store.transaction()` (then its statements join that transaction's connection)
or not (then a read borrows a pool connection in autocommit mode, and a write is a transaction
of its own). A task is the owner, as in the TinyDB backend: a task started inside a block does
not join it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bot.errors import ExitCode, StoreConflict, StoreIOError, StoreReadOnly

Conn = AsyncConnection[tuple[Any, ...]]


def is_database_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def masked(url: str) -> str:
    """The URL without its password, for every message and log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def has_password(url: str) -> bool:
    parts = urlsplit(url)
    return parts.password is not None or "password=" in parts.query


@contextlib.contextmanager
def translated(url: str) -> Iterator[None]:
    """psycopg's connection and server errors as the store's errors, naming the database
    (never its password)."""
    try:
        yield
    except (psycopg.errors.IntegrityError, psycopg.errors.TransactionRollback) as exc:
        raise StoreConflict(f"PostgreSQL at {masked(url)}: {_first_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        code = (
            ExitCode.CREDENTIALS
            if "password authentication failed" in first or "no password supplied" in first
            else ExitCode.STORE_IO
        )
        raise StoreIOError(
            f"PostgreSQL at {masked(url)}: {first.replace(url, masked(url))}", exit_code=code
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Session:
    """The pool and the open transactions, by task."""

    def __init__(self, pool: AsyncConnectionPool[Conn], url: str, *, readonly: bool) -> None:
        self.pool = pool
        self.url = url
        self.readonly = readonly
        self._open: dict[asyncio.Task[Any], Conn] = {}
        self._turn = asyncio.Lock()

    def current(self) -> Conn | None:
        task = asyncio.current_task()
        return self._open.get(task) if task is not None else None

    @contextlib.asynccontextmanager
    async def transaction(self, *, apart: bool = False) -> AsyncIterator[Conn]:
        """Join the task's transaction, or begin one that commits when the block ends.

        The store's transactions run one at a time in a process, as in the TinyDB backend
        (a task writing while another's block is open waits for it: the contract suite
        checks it), so a process's own writes never deadlock on each other's row locks.
        `apart`: a short statement of its own that touches no repository's rows (a lease
        claim, a rate-limit count) and need not wait for that turn."""
        conn = self.current()
        if conn is not None:
            yield conn
            return
        if self.readonly:
            raise StoreReadOnly(f"{masked(self.url)} is open read-only")
        task = asyncio.current_task()
        assert task is not None
        async with contextlib.AsyncExitStack() as stack:
            if not apart:
                await stack.enter_async_context(self._turn)
            with translated(self.url):
                async with self.pool.connection() as conn, conn.transaction():
                    self._open[task] = conn
                    try:
                        yield conn
                    finally:
                        del self._open[task]

    @contextlib.asynccontextmanager
    async def reading(self, *, committed: bool = False) -> AsyncIterator[Conn]:
        """The task's transaction connection (it sees its own writes), else a pool one;
        `committed`: always a pool one, seeing only what is committed (delivery's view)."""
        conn = None if committed else self.current()
        if conn is not None:
            yield conn
            return
        with translated(self.url):
            async with self.pool.connection() as conn:
                yield conn

    async def rows(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] = (),
        *,
        committed: bool = False,
    ) -> list[Any]:
        async with self.reading(committed=committed) as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    async def row(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        async with self.reading() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    async def value(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        found = await self.row(sql, params)
        return found[0] if found is not None else None

    async def write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Run one statement in the task's transaction (or one of its own); its rows, if it
        returns any."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall() if cur.description is not None else []
