"""The shared contract suite: every test here runs against every store backend.

A backend is a `Backend`: it opens a fresh store and reopens it (to check that what was
committed is durable). The embedded TinyDB backend is the first; a networked backend
(PostgreSQL, issue 16) adds its `Backend` to `BACKENDS` and runs the same tests unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.store.protocols import Store
from bot.store.tinydb import TinyStore


class Backend:
    """Opens stores of one backend; the last one opened is closed after the test."""

    def __init__(self, name: str, opener: Callable[[], Store]) -> None:
        self.name = name
        self._opener = opener
        self.current: Store | None = None

    async def open(self) -> Store:
        self.current = self._opener()
        return self.current

    async def reopen(self, store: Store) -> Store:
        """Close `store` and open the same database again: what it returns is durable."""
        await store.close()
        return await self.open()

    async def close(self) -> None:
        if self.current is not None:
            await self.current.close()
            self.current = None


def tinydb(tmp_path: Path) -> Backend:
    return Backend("tinydb", lambda: TinyStore.open(tmp_path / "db.json"))


BACKENDS: dict[str, Callable[[Path], Backend]] = {"tinydb": tinydb}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = BACKENDS[request.param](tmp_path)
    yield made
    await made.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
