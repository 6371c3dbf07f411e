"""Figures for `rankbot backtest`: 120 days of a year of daily 50-model data, production wiring.

Run: .venv/bin/python benchmarks/backtest.py

The Data API is served by the loopback HTTP fake of the tests (a real server on 127.0.0.1,
`[source] base_url`), holding a year of daily top-50 rows that move like real ones (a random
walk per model, jumps, launches). Channels: five, with the default kinds, everything, a top 5
with min-move, a daily digest and quiet hours, day and week periods, charts on. Measured:

1. the first backtest of the last 120 days: filling the day cache (30-day ranges) + the run;
2. the same backtest again, answered from the cache (the figure the goal is about: < 20 s);
3. the same 120 days as a history file of day snapshots;
4. the baseline, in the same run: the bare store → detect of the same day and week snapshots
   (no poller, planner, outbox, rendering or charts), and the ratio of (2) to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes: the loopback API

from bot.cli import backtest
from bot.cli.main import main
from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.engine.ingest import ingest
from bot.sources.openrouter import range_cache
from bot.sources.openrouter.rows import Day
from bot.sources.openrouter.windows import snapshots_for
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import KEY, Rows
from tests.fakes.openrouter_http import OpenRouterHttpFake
from tests.fakes.threaded import threaded

FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)  # a year of data
SINCE, UNTIL = LAST - timedelta(days=118), LAST + timedelta(days=1)  # 120 days
TODAY = datetime(2026, 3, 1, 12, tzinfo=UTC)
AUTHORS = ["openai", "google", "anthropic", "deepseek", "qwen", "minimax", "z-ai", "x-ai"]
AUTHORS += ["meta-llama", "mistralai", "moonshotai", "stealth"]


def year_of_rows(seed: int = 7) -> dict[date, Rows]:
    """70 models: a daily random walk each (±6 %), a rare jump (×2 or ×½), a dozen launched
    during the year; each day lists the top 50 plus `other`, as the API does."""
    rng = random.Random(seed)
    models = {
        f"{AUTHORS[i % len(AUTHORS)]}/model-{i:02}": math.exp(rng.uniform(math.log(5), 7)) * 1e9
        for i in range(70)
    }
    launch = {m: FIRST + timedelta(days=rng.randrange(365)) for m in list(models)[58:]}
    days: dict[date, Rows] = {}
    for offset in range((LAST - FIRST).days + 1):
        day = FIRST + timedelta(days=offset)
        for model in models:
            jump = rng.choice((2.0, 0.5)) if rng.random() < 0.004 else 1.0
            models[model] *= jump * math.exp(rng.gauss(0, 0.06))
        live = [(m, int(t)) for m, t in models.items() if launch.get(m, FIRST) <= day]
        live.sort(key=lambda r: (-r[1], r[0]))
        days[day] = [*live[:50], ("other", sum(t for _, t in live[50:]) + 10**12)]
    return days


def write_config(path: Path, base_url: str) -> Path:
    path.write_text(
        f"""
[source]
base_url = "{base_url}"
backfill_since = "{FIRST.isoformat()}"

[[channels]]
name = "defaults"
platform = "webhook"
url_env = "RANKBOT_WEBHOOK_DEFAULTS"

[[channels]]
name = "everything"
platform = "slack-webhook"
url_env = "RANKBOT_WEBHOOK_EVERYTHING"
kinds = ["new_leader", "country_flip", "top_entry", "top_exit", "milestone", "rank_change",
         "surge", "drop", "new_model"]
periods = ["day", "week"]

[[channels]]
name = "digest"
platform = "discord-webhook"
url_env = "RANKBOT_WEBHOOK_DIGEST"
kinds = ["new_leader", "top_entry", "top_exit", "rank_change", "surge", "drop"]
periods = ["day", "week"]
digest = "daily"
digest_at = "09:00"
timezone = "Europe/Berlin"

[[channels]]
name = "quiet"
platform = "webhook"
url_env = "RANKBOT_WEBHOOK_QUIET"
kinds = ["new_leader", "country_flip", "milestone", "new_model"]
quiet = "22:00-07:30"
timezone = "America/New_York"
"""
    )
    return path


def history_file(path: Path, days: dict[date, Rows]) -> Path:
    with path.open("w") as out:
        for day, rows in days.items():
            listed = [(m, t) for m, t in rows if m != "other"]
            snapshot = {
                "period": "day",
                "as_of": day.isoformat(),
                "total": sum(t for _, t in rows),
                "entries": [{"model": m, "tokens": t} for m, t in listed],
            }
            out.write(json.dumps(snapshot) + "\n")
    return path


def run(*args: str) -> tuple[float, int]:
    """`rankbot backtest --json …` in this process; seconds and posts printed."""
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["backtest", "--json", *args])
    elapsed = time.perf_counter() - t0
    assert code == 0, code
    return elapsed, len(out.getvalue().splitlines())


def bare_detection(days: dict[date, Rows], workdir: Path) -> tuple[float, int, int]:
    """The baseline: the same day and week snapshots through store → detect, nothing else."""
    held = {
        d: Day(d, {m: t for m, t in rows if m != "other"}, dict(rows)["other"], "x")
        for d, rows in days.items()
    }
    snapshots = snapshots_for(sorted(held), held, ("day", "week"), str)
    since = [s for s in snapshots if s.as_of >= SINCE - timedelta(days=1)]
    before = [s for s in snapshots if s.as_of < SINCE - timedelta(days=1)]
    countries = shipped_table()

    async def detect() -> tuple[float, int]:
        async with TinyStore.open(workdir / "bare.db.json") as store:
            for snapshot in before:
                await ingest(store, snapshot, params=DetectParams(), countries=countries)
            t0 = time.perf_counter()
            events = 0
            for snapshot in since:
                confirm = 2 if snapshot.period == "week" else 1
                params = DetectParams(confirm=confirm, extra_top_ns=(5,), rank_move_floor=2)
                ingested = await ingest(store, snapshot, params=params, countries=countries)
                events += len(ingested.events)
            return time.perf_counter() - t0, events

    elapsed, events = asyncio.run(detect())
    return elapsed, len(since), events


def main_bench() -> None:
    days = year_of_rows()
    load = os.getloadavg()
    with (
        tempfile.TemporaryDirectory(prefix="rankbot-bench-") as tmp,
        mock.patch.object(backtest, "utcnow", lambda: TODAY),
        mock.patch.object(range_cache, "utcnow", lambda: TODAY),
        mock.patch.dict(os.environ, {"XDG_CACHE_HOME": f"{tmp}/cache", "OPENROUTER_API_KEY": KEY}),
    ):
        work = Path(tmp)
        with threaded(OpenRouterHttpFake(days)) as fake:
            config = write_config(work / "rankbot.toml", fake.base_url)
            window = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
            subscribe = ["--subscribe", "top_entry top_exit rank_change top=5 min-move=2"]
            args = [*window, "--config", str(config), *subscribe]
            cold, posts = run(*args)
            requests = len(fake.requests)
            warm, again = run(*args)
            assert again == posts and len(fake.requests) == requests
        history = history_file(work / "year.jsonl", days)
        from_file, file_posts = run(*args, "--history", str(history))
        bare, snapshots, events = bare_detection(days, work)
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    print(
        f"backtest, 120 days of a year of 50-model days, 5 channels, loopback Data API: "
        f"{posts} posts"
    )
    print(f"  first run (fills the cache, {requests} requests): {cold:.1f} s")
    print(f"  again, from the cache (0 requests): {warm:.1f} s  (goal: under 20 s)")
    print(f"  the same days as a history file of day snapshots: {from_file:.1f} s", end="")
    print(f" ({file_posts} posts)")
    print(
        f"baseline, bare store → detect of the same {snapshots} day and week snapshots "
        f"({events} events): {bare:.2f} s"
    )
    print(f"ratio, backtest from the cache / bare detection: {warm / bare:.1f}×")


if __name__ == "__main__":
    main_bench()
