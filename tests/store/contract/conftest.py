"""The shared contract suite: every test here runs against every store backend.

A backend is a `Backend`: it opens a fresh store and reopens it (to check that what was
committed is durable). The embedded TinyDB backend is the first; a networked backend
(PostgreSQL, issue 16) adds its `Backend` to `BACKENDS` and runs the same tests unchanged.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.store.protocols import Store
from bot.store.tinydb import TinyStore


class Backend:
    """Opens stores of one backend; the last one opened is closed after the test."""

    def __init__(self, name: str, opener: Callable[[], Store | Awaitable[Store]]) -> None:
        self.name = name
        self._opener = opener
        self.current: Store | None = None

    async def open(self) -> Store:
        opened = self._opener()
        self.current = await opened if inspect.isawaitable(opened) else opened
        return self.current

    async def reopen(self, store: Store) -> Store:
        """Close `store` and open the same database again: what it returns is durable."""
        await store.close()
        return await self.open()

    async def close(self) -> None:
        if self.current is not None:
            await self.current.close()
            self.current = None


def tinydb(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend("tinydb", lambda: TinyStore.open(tmp_path / "db.json"))


def postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A migrated database on the session's throwaway server, emptied for each test (the
    tests skip, saying why, when PostgreSQL is not installed)."""
    from tests.store.postgres.database import empty_database

    url = empty_database(request.getfixturevalue("postgres_server"), "contract")
    return Backend("postgres", lambda: open_postgres(url))


async def open_postgres(url: str) -> Store:
    from bot.store.postgres import PgStore

    return await PgStore.open(url)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "tinydb": tinydb,
    "postgres": postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = BACKENDS[request.param](request, tmp_path)
    yield made
    await made.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
