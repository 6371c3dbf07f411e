"""Figures for the foundation: detection + rendering cost, and the store after a year.

Run: .venv/bin/python benchmarks/pipeline.py
Prints (1) the time to detect and render the events between two 400-entry snapshots and
(2) the size and open time of a store after appending a year of hourly snapshots (8,760, the
ranking changing once a day, so most are identical to their predecessor and not stored).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, detect
from bot.core.model import Snapshot
from bot.engine.ingest import ingest
from bot.render.templates import Renderer
from bot.store.tinydb import TinyStore

AUTHORS = ["openai", "google", "anthropic", "deepseek", "qwen", "minimax", "z-ai", "stealth"]


def ranking(rng: random.Random, n: int, as_of: date, *, period: str = "week") -> Snapshot:
    entries = [
        {"model": f"{AUTHORS[i % len(AUTHORS)]}/model-{i}", "tokens": rng.randint(1, 2_000) * 10**9}
        for i in range(n)
    ]
    return Snapshot.create(source="openrouter", period=period, as_of=as_of, entries=entries)


def bench_detect_render() -> None:
    rng = random.Random(1)
    a = ranking(rng, 400, date(2026, 2, 9))
    b = ranking(rng, 400, date(2026, 2, 16))
    countries, renderer = shipped_table(), Renderer()
    params = DetectParams(top_n=10, extra_top_ns=(5, 25, 50), rank_move=3)
    _, state = detect(None, None, a, params=params, countries=countries)
    timings, render_timings, count = [], [], 0
    for _ in range(20):
        t0 = time.perf_counter()
        events, _ = detect(state, a, b, params=params, countries=countries, known_models=set())
        t1 = time.perf_counter()
        renderer.group(events)
        t2 = time.perf_counter()
        timings.append(t1 - t0)
        render_timings.append(t2 - t1)
        count = len(events)
    detect_ms = statistics.median(timings) * 1e3
    render_ms = statistics.median(render_timings) * 1e3
    print(f"detect, 400 vs 400 entries ({count} events): median {detect_ms:.1f} ms")
    print(f"render those {count} events as one grouped message: median {render_ms:.1f} ms")


def bench_year_of_hourly_polls() -> None:
    rng = random.Random(2)
    countries, params = shipped_table(), DetectParams()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.db.json"
        start = date(2025, 1, 1)
        t0 = time.perf_counter()

        async def append_year() -> int:
            stored = 0
            async with TinyStore.open(path) as store:
                day_snapshot = None
                for hour in range(8760):
                    if hour % 24 == 0:
                        day_snapshot = ranking(
                            rng, 50, start + timedelta(days=hour // 24), period="day"
                        )
                    assert day_snapshot is not None
                    result = await ingest(store, day_snapshot, params=params, countries=countries)
                    stored += result.stored.value == "new"
            return stored

        async def latest() -> None:
            async with TinyStore.open(path, readonly=True) as store:
                await store.history.latest_snapshot("openrouter", "day")

        async def read_all_snapshots() -> list[Snapshot]:
            async with TinyStore.open(path, readonly=True) as store:
                return await store.history.snapshots("openrouter", "day")

        stored = asyncio.run(append_year())
        append = time.perf_counter() - t0
        size = path.stat().st_size
        opens = []
        for _ in range(5):
            t1 = time.perf_counter()
            asyncio.run(latest())
            opens.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        history = asyncio.run(read_all_snapshots())
        read_all = time.perf_counter() - t2
    print(
        f"8,760 hourly polls: {stored} snapshots stored (the rest identical), "
        f"append took {append:.1f} s"
    )
    print(
        f"store file: {size / 1e6:.1f} MB; open: median {statistics.median(opens) * 1e3:.0f} ms; "
        f"reading all {len(history)} snapshots: {read_all * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    bench_detect_render()
    bench_year_of_hourly_polls()
