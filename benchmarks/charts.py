"""Figures for the charts: the time to draw each kind from a year of weekly data (52 weeks ×
10 models), the PNG size, and memory.

Run: .venv/bin/python benchmarks/charts.py
Prints, per kind, the median of 7 renders after one warm-up (the first render of a process
also loads fonts), the peak Python heap during one render (tracemalloc; Agg's pixel buffer is
allocated in C++ and not included) and, at the end, the process's peak resident memory.
"""

from __future__ import annotations

import random
import resource
import statistics
import time
import tracemalloc
from datetime import date, timedelta

from bot.core.countries import shipped_table
from bot.core.model import Snapshot
from bot.render.charts import KINDS, render_chart

AUTHORS = ["openai", "google", "anthropic", "deepseek", "qwen", "minimax", "z-ai", "x-ai"]
AUTHORS += ["moonshotai", "mistralai"]


def year_of_weeks(weeks: int = 52, models: int = 10) -> list[Snapshot]:
    rng = random.Random(7)
    level = [rng.uniform(2e11, 1.5e12) for _ in range(models)]
    history = []
    for week in range(weeks):
        level = [max(1e10, v * rng.uniform(0.85, 1.18)) for v in level]
        entries = [
            {"model": f"{AUTHORS[i % len(AUTHORS)]}/m-{i}", "name": f"Model {i}", "tokens": int(v)}
            for i, v in enumerate(level)
        ]
        history.append(
            Snapshot.create(
                source="openrouter",
                period="week",
                as_of=date(2025, 3, 3) + timedelta(weeks=week),
                entries=entries,
            )
        )
    return history


def main() -> None:
    history, countries = year_of_weeks(), shipped_table()
    t0 = time.perf_counter()
    render_chart("trend", history, n=10, weeks=52, countries=countries)
    print(
        f"first render of the process (imports matplotlib, loads fonts): "
        f"{(time.perf_counter() - t0) * 1e3:.0f} ms"
    )
    for kind in KINDS:
        timings = []
        for _ in range(7):
            t0 = time.perf_counter()
            png = render_chart(kind, history, n=10, weeks=52, countries=countries)
            timings.append(time.perf_counter() - t0)
        tracemalloc.start()
        render_chart(kind, history, n=10, weeks=52, countries=countries)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"{kind:<9} 52 weeks × 10 models: median {statistics.median(timings) * 1e3:.0f} ms "
            f"(min {min(timings) * 1e3:.0f}, max {max(timings) * 1e3:.0f}), "
            f"PNG {len(png) / 1024:.0f} KiB, peak Python heap {peak / 2**20:.1f} MiB"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak resident memory: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
