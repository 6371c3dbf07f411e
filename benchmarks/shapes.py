"""Realistic shapes for the benchmarks, and how they measure.

- `year_of_days`: a year of OpenRouter daily rows as the Data API returns them (the top 50
  models of each day plus `other`), from a pool of 90 models with real author slugs: a
  Zipf-like spread (about 400B tokens a day at #1, a few billion at #50), daily noise,
  launches every couple of weeks, and a few changes at the top. It ends with `STEADY_DAYS`
  identical days, so a benchmark can add a quiet day (nothing is news) or a busy one.
- `busy_days`: two days after that, on which a new model takes #1 (the day stream announces
  it on the first, the rolling week confirms it on the second, with entries, exits and moves).
- `subscription_mix`: channels as people set them up: mostly the defaults on the weekly
  ranking, some also daily, some with author or country filters or another top N, a few
  digests, quiet hours, mutes and charts off.
- `Meter`: whole-process CPU (every thread, `time.process_time`) plus the CPU of child
  processes that are still running (the chart worker, read from /proc), and wall time.
- `ApiServer`: the OpenRouter Data API fake of the test suite (`tests/fakes/openrouter_api.py`)
  on loopback HTTP in a process of its own (`openrouter_server.py`): the real httpx client of
  the real `OpenRouterSource` asks it over TCP, and its CPU is not counted as rankbot's.

Every benchmark prints the machine's load next to its figures: the machine is shared.
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bot.config.file import Config
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import ChannelRef
from bot.core.subscription import DEFAULT_KINDS, Filters, Subscription
from bot.store.protocols import Store
from tests.fakes.openrouter_api import KEY, Rows

if TYPE_CHECKING:
    from bot.app import Bot

AUTHORS = [
    ("openai", 6), ("anthropic", 5), ("google", 7), ("x-ai", 4), ("deepseek", 5),
    ("qwen", 8), ("moonshotai", 3), ("z-ai", 4), ("minimax", 3), ("meta-llama", 5),
    ("mistralai", 6), ("stealth", 2), ("nvidia", 3), ("cohere", 2), ("amazon", 3),
    ("microsoft", 3), ("bytedance-seed", 3), ("baidu", 2), ("tencent", 2), ("inception", 2),
    ("liquid", 2), ("ai21", 2), ("perplexity", 2), ("thudm", 2),
]  # fmt: skip
START = date(2025, 7, 1)
DAYS = 365
STEADY_DAYS = 10
NEWCOMER = "moonshotai/kimi-k3-20260630"
"""The model that takes #1 on the busy days."""


def _pool(rng: random.Random) -> list[str]:
    return [f"{author}/model-{i}" for author, count in AUTHORS for i in range(count)]


def catalogue_payload() -> dict[str, Any]:
    """The real `/api/v1/models` answer (336 models, 529 kB), plus an entry naming each
    synthetic model of `year_of_days` (a model is in the catalogue before it is ranked): a
    refresh parses what the real one does, and every ranked model has a catalogue name."""
    path = (
        Path(__file__).resolve().parents[1] / "tests/fixtures/openrouter/models-2026-08-01.json.gz"
    )
    payload: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    template = payload["data"][0]
    for model in [*_pool(random.Random(0)), NEWCOMER]:
        author, _, slug = model.partition("/")
        name = f"{author.title()}: {slug.replace('-', ' ').title()}"
        payload["data"].append({**template, "id": model, "canonical_slug": model, "name": name})
    return payload


def year_of_days(days: int = DAYS, seed: int = 7) -> dict[date, Rows]:
    rng = random.Random(seed)
    pool = _pool(rng)
    rng.shuffle(pool)
    # Zipf-like levels; about a third of the pool starts unlaunched
    level = {m: 4e11 / (i + 1) ** 1.1 for i, m in enumerate(pool)}
    launched = set(pool[: int(len(pool) * 0.65)])
    out: dict[date, Rows] = {}
    last: Rows = []
    for d in range(days):
        day = START + timedelta(days=d)
        if d >= days - STEADY_DAYS:
            out[day] = list(last)
            continue
        if d % 14 == 7 and len(launched) < len(pool):  # a launch every two weeks
            fresh = next(m for m in pool if m not in launched)
            launched.add(fresh)
            level[fresh] = 4e11 / rng.uniform(1.5, 25)
        for m in sorted(launched):
            level[m] *= math.exp(rng.gauss(0.0005, 0.04))
        ranked = sorted(launched, key=lambda m: -level[m])
        listed = ranked[:50]
        rows = [(m, int(level[m])) for m in listed]
        other = int(sum(level[m] for m in ranked[50:]) + 2e11)
        last = [*rows, ("other", other)]
        out[day] = last
    return out


def last_day(days: dict[date, Rows]) -> date:
    return max(days)


def quiet_days(days: dict[date, Rows]) -> list[tuple[date, Rows]]:
    """Two days after the steady stretch, with the same figures: nothing is news. The first
    is the eve: a running bot has stored a day before (a process's first store pays for its
    caches once: the next document id of each table, the known models), so the second is
    the cycle a benchmark measures, as `busy_days` does."""
    end = last_day(days)
    return [(end + timedelta(days=k), list(days[end])) for k in (1, 2)]


def busy_days(days: dict[date, Rows]) -> list[tuple[date, Rows]]:
    """Three days on which `NEWCOMER` arrives at #1 (a Chinese model: the country balance
    flips) while the daily ranking shuffles around #10 and a model surges. The day stream
    announces the newcomer on the first day; the rolling week, which needs two consecutive
    days (`[source.confirm] week = 2`), on the third: the busy day a benchmark measures,
    when most channels (those following the week) get a grouped post."""
    end = last_day(days)
    base = [r for r in days[end] if r[0] != "other"]
    other = dict(days[end])["other"]
    top = base[0][1]
    out = []
    for k in (1, 2, 3):
        rows = [(m, t) for m, t in base[:-1]]
        i, j = 6 + k, 10 + k  # one model from just outside the top 10 swaps into it
        (a, ta), (b, tb) = rows[i], rows[j]
        rows[i], rows[j] = (b, ta), (a, tb)
        m, t = rows[20 + k]
        rows[20 + k] = (m, int(t * (1.6 + 0.3 * k)))  # a surge
        rows.sort(key=lambda r: -r[1])
        out.append((end + timedelta(days=k), [(NEWCOMER, top * 6), *rows, ("other", other)]))
    return out


def subscription_mix(count: int, seed: int = 11, *, now: datetime) -> list[Subscription]:
    """`count` established channels (confirmed) on Slack and Discord. (Webhook channels are
    declared in the config file, which the fan-out benchmarks do.)"""
    rng = random.Random(seed)
    authors = [a for a, _ in AUTHORS]
    subs = []
    for i in range(count):
        platform = rng.choices(["slack", "discord"], weights=[60, 40])[0]
        sub = Subscription(
            ChannelRef(platform, f"W{i % 97:03d}", f"c{i:05d}"),
            created_at=now - timedelta(days=200),
            confirmed=True,
        )
        roll = rng.random()
        if roll < 0.55:
            pass  # the defaults: new_leader country_flip top_entry top_exit milestone, weekly
        elif roll < 0.70:
            sub = replace(sub, periods=("week", "day"))
        elif roll < 0.78:
            sub = replace(sub, kinds=(*DEFAULT_KINDS, "rank_change", "new_model"))
        elif roll < 0.84:
            sub = replace(sub, filters=Filters(authors=tuple(rng.sample(authors, 3))))
        elif roll < 0.88:
            sub = replace(sub, filters=Filters(countries=("CN",)), periods=("week", "day"))
        elif roll < 0.95:
            sub = replace(sub, filters=Filters(top_n=rng.choice([5, 20])))
        elif roll < 0.97:
            sub = replace(sub, kinds=("new_leader",), periods=("day",))
        else:
            sub = replace(sub, kinds=("surge", "drop"), filters=Filters(min_change_pct=80))
        extra = rng.random()
        if extra < 0.02:
            sub = replace(sub, digest=Digest("daily", dtime(9), "Europe/Berlin"))
        elif extra < 0.03:
            sub = replace(sub, quiet=QuietHours(dtime(22), dtime(7), "America/New_York"))
        elif extra < 0.035:
            sub = replace(sub, mute_until=now + timedelta(days=2))
        if rng.random() < 0.1:
            sub = replace(sub, charts=False)
        subs.append(sub)
    return subs


@functools.cache
def harness_http() -> httpx.Client:
    """The benchmarks' own HTTP client (publishing a day to the API fake, reading a fake's
    counters), one for the whole run. `httpx.post(...)` makes a client per call, and each
    left a reference cycle holding a TLS context (CA certificates) whose freeing costs
    ~1 ms: freed by the first garbage collection of the cycle measured next, it was charged
    to rankbot (1-4 ms of a quiet poll, in the runs where a collection fell inside it)."""
    return httpx.Client(timeout=30)


class ApiServer:
    """`openrouter_server.py` in a child process, serving `year_of_days(seed)`."""

    def __init__(self, seed: int = 7) -> None:
        self._seed = seed
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ApiServer:
        script = Path(__file__).with_name("openrouter_server.py")
        self._proc = subprocess.Popen(
            [sys.executable, str(script), str(self._seed)], stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        self.base_url = f"http://127.0.0.1:{int(self._proc.stdout.readline())}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)

    def publish(self, day: date, rows: Rows) -> None:
        """Make `day` available, as the real API does the morning after."""
        body = {"date": day.isoformat(), "rows": [[m, t] for m, t in rows]}
        harness_http().post(f"{self.base_url}/_bench/day", json=body).raise_for_status()


def as_of_now(day: date) -> datetime:
    """The moment the poller sees `day` published (the next morning, after 02:10 UTC)."""
    return datetime.combine(day + timedelta(days=1), dtime(2, 30), tzinfo=UTC)


class MovingClock:
    """The bot's clock in a benchmark: set to a simulated moment (`set`), from which it runs
    on at the real clock's pace. A frozen clock would never let delivery's rate limits
    (windows on the injected clock) free a token: the first 50 Discord posts would go and
    the rest would wait forever."""

    def __init__(self, moment: datetime) -> None:
        self.set(moment)

    def set(self, moment: datetime) -> None:
        self._moment, self._since = moment, time.monotonic()

    def __call__(self) -> datetime:
        return self._moment + timedelta(seconds=time.monotonic() - self._since)


async def bot_on_the_eve(
    store: Store, config: Config, api: ApiServer, count: int, kind: str, clock: MovingClock
) -> Bot:
    """The production bot on `store` with `count` subscriptions (`subscription_mix`), its
    caches warm, every day of a `kind` ("quiet" or "busy") poll's news published and polled
    but the last, which is published: its next tick is the cycle a benchmark measures."""
    from bot import app

    days = year_of_days()
    clock.set(as_of_now(max(days)))
    await add_subscriptions(store, subscription_mix(count, now=clock()))
    bot = await app.build_bot(config, store, app.build_source(config), {}, clock=clock)
    await bot.poller.tick()  # nothing new: caches warm, the day's prune done
    news = quiet_days(days) if kind == "quiet" else busy_days(days)
    for day, rows in news[:-1]:  # the eve
        api.publish(day, rows)
        clock.set(as_of_now(day))
        await bot.poller.tick()
        await bot.charts.settle()
    day, rows = news[-1]
    api.publish(day, rows)
    clock.set(as_of_now(day))
    return bot


# --- measuring ---------------------------------------------------------------------------------


def children_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by running child processes, to the nanosecond: the sum of
    their threads' on-CPU time in `/proc/PID/task/TID/schedstat` (what `time.process_time()`
    reads inside the process). `/proc/PID/stat` counts in clock ticks of 10 ms, and one
    chart costs 70-120 ms: read twice per cycle, that was ±10 % of the chart on every cycle.
    A thread that has ended is not in `task/` (the children measured here keep theirs: the
    chart worker and PostgreSQL's backends run one thread each); a process whose schedstat
    cannot be read is counted from `stat`."""
    total = 0.0
    for pid in pids:
        try:
            total += _schedstat_cpu(pid)
        except (OSError, ValueError, IndexError):
            total += _stat_cpu(pid)
    return total


def _schedstat_cpu(pid: int) -> float:
    tasks = Path(f"/proc/{pid}/task")
    return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks.iterdir()) / 1e9


def _stat_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Meter:
    """CPU of this process (all threads) plus `pids`' CPU, and wall time, between start/stop."""

    pids: list[int]
    cpu: float = 0.0
    wall: float = 0.0

    def __enter__(self) -> Meter:
        self._cpu0 = time.process_time() + children_cpu(self.pids)
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() + children_cpu(self.pids) - self._cpu0
        self.wall = time.perf_counter() - self._wall0


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f} on {os.cpu_count()} cores"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


# --- a year-sized store, built through the production path ------------------------------------


def bot_config(tmp: Path, base_url: str) -> Config:
    """The bot's config for the benchmarks: the live source (on the fake API), three periods."""
    from bot import app

    return app.config_from_mapping(
        {
            "source": {
                "base_url": base_url,
                "backfill_since": START.isoformat(),
                "periods": ["day", "week", "month"],
            }
        },
        base=tmp,
    )


async def build_year_store(path: Path, api: ApiServer) -> float:
    """Backfill a year through the real `OpenRouterSource` and poller into `path` from `api`;
    returns the seconds it took. The first tick of a fresh store runs the backfill (silent)."""
    from bot import app

    os.environ.setdefault("OPENROUTER_API_KEY", KEY)
    config = bot_config(path.parent, api.base_url)
    now = as_of_now(last_day(year_of_days()))
    began = time.perf_counter()
    async with app.open_database(path) as store:
        source = app.build_source(config)
        bot = await app.build_bot(config, store, source, {}, clock=lambda: now)
        await bot.poller.tick()
    return time.perf_counter() - began


async def add_subscriptions(store: Store, subs: list[Subscription]) -> None:
    async with store.transaction():
        for sub in subs:
            await store.subscriptions.upsert(sub)


def copy_store(source: Path, target: Path) -> None:
    from bot.store.tinydb import copy_database

    copy_database(source, target)
