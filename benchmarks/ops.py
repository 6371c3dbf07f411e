"""Figures for the `[ops]` side: what the heartbeat's gauge sample and `rankbot status` cost
on the bot's loop as channels grow (100, 1,000, 10,000 subscribed channels, a tenth of them
paused, each with a pending and a failed post), and one `/metrics` scrape.

Run: .venv/bin/python benchmarks/ops.py

The baseline, measured in the same run: one `Subscriptions.all()` of the same store (the
one linear read both need; the backend caches it, so it is cheap after the first call), so
the ratio says what the rest adds.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import app
from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.ops.admin import Admin
from bot.ops.health import Health
from bot.ops.metrics import Metrics
from bot.store.protocols import FAILED, Outcome

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


async def fill(store: Any, channels: int) -> None:
    refs = [ChannelRef("slack", "T1", f"C{i:05d}") for i in range(channels)]
    async with store.transaction():
        for ref in refs:
            await store.subscriptions.upsert(Subscription(ref, created_at=NOW, confirmed=True))
    message = Message(notice="x")
    posts = [Planned(ref, message, f"p{i}:{n}") for i, ref in enumerate(refs) for n in (0, 1)]
    await store.outbox.enqueue(posts, now=NOW)
    await store.outbox.record(
        [Outcome(f"p{i}:0", FAILED, NOW, reason="gone", failure="access") for i in range(channels)]
    )
    for ref in refs[::10]:
        await store.subscriptions.pause(ref, "gone", NOW)


async def best_of(runs: int, work: Callable[[], Awaitable[Any]]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best


async def measure(channels: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = app.config_from_mapping({}, base=Path(tmp))
        async with app.open_database(Path(tmp) / "db.json") as store:
            await fill(store, channels)
            metrics = Metrics(Health())
            admin = Admin(store, config)
            base = await best_of(5, store.subscriptions.all)
            cheap = await best_of(5, lambda: metrics.sample(store, NOW, full=False))
            sample = await best_of(5, lambda: metrics.sample(store, NOW))
            status = await best_of(5, lambda: admin.status({}))
            scrape = min(_timed(metrics.exposition) for _ in range(5))
    print(
        f"{channels:>6} channels: baseline subscriptions.all {base * 1e3:7.2f} ms | "
        f"counts sample {cheap * 1e3:5.2f} ms | full sample {sample * 1e3:7.2f} ms "
        f"({sample / base:4.1f}x) | "
        f"status {status * 1e3:7.2f} ms ({status / base:4.1f}x) | /metrics {scrape * 1e3:5.2f} ms"
    )


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


async def main() -> None:
    for channels in (100, 1_000, 10_000):
        await measure(channels)


if __name__ == "__main__":
    asyncio.run(main())
