"""Small helpers shared by the tests: snapshots from (model, tokens) pairs, and a look into a
database from sync code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from bot import app
from bot.core.model import Snapshot
from bot.store.protocols import Store

T = TypeVar("T")


def snap(
    as_of: str,
    figures: dict[str, int] | list[tuple[str, int]],
    *,
    period: str = "week",
    source: str = "openrouter",
    total: int | None = None,
    attribution: str | None = None,
) -> Snapshot:
    items = figures.items() if isinstance(figures, dict) else figures
    return Snapshot.create(
        source=source,
        period=period,
        as_of=as_of,
        entries=[{"model": m, "tokens": t} for m, t in items],
        total=total,
        attribution=attribution,
    )


def read_store(path: Path, read: Callable[[Store], Awaitable[T]], *, readonly: bool = True) -> T:
    """Run `read(store)` on the database at `path` (read-only by default), from sync code."""

    async def run() -> T:
        async with app.open_database(path, readonly=readonly) as store:
            return await read(store)

    return asyncio.run(run())
