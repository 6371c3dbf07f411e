"""`rankbot backtest` over 120 days, from a history file and from the Data API served by a
loopback HTTP fake: exactly the posts derived by hand below, per channel, and the same posts
as the real poller produces over the same days when it is ticked every 10 minutes on a faked
clock. Also: errors are one line and exit 2, the real database is never written, and a second
backtest answers from the cache without a single request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import app
from bot.cli import backtest
from bot.cli.main import main
from bot.commands.execute import Services, execute
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.core.subscription import SUBSCRIBABLE_KINDS, Subscription
from bot.render.templates import Renderer
from bot.sources.base import Source
from bot.sources.openrouter import range_cache
from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.source import OpenRouterSource
from bot.sources.replay import TimedReplay, load_history
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import KEY, Clock, Rows
from tests.fakes.openrouter_http import OpenRouterHttpFake
from tests.fakes.threaded import threaded

FIRST = date(2025, 11, 1)  # the history (and the source's backfill) starts here
SINCE, UNTIL = date(2026, 1, 1), date(2026, 4, 30)  # 120 days
LAST = UNTIL - timedelta(days=1)  # the last day with data: published on UNTIL
TODAY = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
B = 1_000_000_000

BASE: dict[str, int] = {
    "openai/gpt-a": 900,
    "google/gem-b": 800,
    "anthropic/cl-c": 700,
    "meta-llama/ll-d": 600,
    "x-ai/gr-e": 500,
    "openai/gpt-f": 400,
    "google/gem-g": 300,
    "anthropic/cl-h": 250,
    "meta-llama/ll-i": 200,
    "x-ai/gr-j": 150,
    "openai/gpt-k": 100,
    "google/gem-l": 80,
}
NEW = "mistralai/new-n"


def figures(day: date) -> dict[str, int]:
    """Flat, but: Gem B overtakes GPT A from 10 Jan; a new model enters at #4 on 9 Feb; Gem G
    doubles on 15 Mar only."""
    out = dict(BASE)
    if day >= date(2026, 1, 10):
        out["google/gem-b"] = 990
    if day >= date(2026, 2, 9):
        out[NEW] = 650
    if day == date(2026, 3, 15):
        out["google/gem-g"] = 620
    return {m: t * B for m, t in out.items()}


def rows(day: date) -> Rows:
    return [*figures(day).items(), ("other", 1000 * B)]


DAYS = {
    FIRST + timedelta(days=i): rows(FIRST + timedelta(days=i))
    for i in range((LAST - FIRST).days + 1)
}

# --- the channels and what each must get, derived by hand ---
#
# Published the next day at 02:10 UTC (history file: [source.schedule] after_utc; the API: a
# day appears at 02:00, polled at 02:10), ranks by tokens:
# - 10 Jan: Gem B 990 > GPT A 900: a new #1 (B: +24 %, no surge, and under 1T: no milestone;
#   A: one place down, no move).
# - 9 Feb: New N (650) at #4: new_model; top 5: N in, X E (#5 → #6) out; top 10: N in, X J
#   (#10 → #11) out; everyone else moves one place (no rank_change).
# - 15 Mar: Gem G 300 → 620: surge +107 %, #8 → #5; top 5: G in, Llama D (#5 → #6) out. G
#   also moved 3 places inside the top 10 it was in already: a rank_change that says it entered
#   the top 5, so the top-5 channel (--subscribe) hears the entry only and a top-10 channel
#   (the digest) hears the move.
#   16 Mar: back: drop -52 %, #5 → #8 (rank_change, 3 places), top 5: G out, D in.

LEADERS = ChannelRef("webhook", "config", "leaders")  # [[channels]]: new_leader, day
TUNED = ChannelRef("backtest", "cli", "--subscribe")  # --subscribe "new_model top_entry …"
DIGEST = ChannelRef("slack", "T1", "C-digest")  # --db: everything, daily digest at 09:00
QUIET = ChannelRef("slack", "T1", "C-quiet")  # --db: new_leader, surge; quiet 00:00-08:00
SUBSCRIBE = "new_model top_entry top_exit top=5 period=day"


def k(kind: str, day: str, subject: str) -> str:
    return f"{kind}:openrouter:day:{day}:{subject}"


LEADER = k("new_leader", "2026-01-10", "google/gem-b")
N_NEW = k("new_model", "2026-02-09", NEW)
SURGE = k("surge", "2026-03-15", "google/gem-g")
DROP = k("drop", "2026-03-16", "google/gem-g")
EXPECTED: list[tuple[str, str, frozenset[str]]] = [
    (LEADERS.key, "2026-01-11T02:10", frozenset({LEADER})),
    (QUIET.key, "2026-01-11T08:00", frozenset({LEADER})),
    (DIGEST.key, "2026-01-11T09:00", frozenset({LEADER})),
    (
        TUNED.key,
        "2026-02-10T02:10",
        frozenset(
            {
                N_NEW,
                k("top_entry", "2026-02-09", f"{NEW}@top5"),
                k("top_exit", "2026-02-09", "x-ai/gr-e@top5"),
            }
        ),
    ),
    (
        DIGEST.key,
        "2026-02-10T09:00",
        frozenset(
            {
                N_NEW,
                k("top_entry", "2026-02-09", f"{NEW}@top10"),
                k("top_exit", "2026-02-09", "x-ai/gr-j@top10"),
            }
        ),
    ),
    (
        TUNED.key,
        "2026-03-16T02:10",
        frozenset(
            {
                k("top_entry", "2026-03-15", "google/gem-g@top5"),
                k("top_exit", "2026-03-15", "meta-llama/ll-d@top5"),
            }
        ),
    ),
    (QUIET.key, "2026-03-16T08:00", frozenset({SURGE})),
    (
        DIGEST.key,
        "2026-03-16T09:00",
        frozenset({SURGE, k("rank_change", "2026-03-15", "google/gem-g")}),
    ),
    (
        TUNED.key,
        "2026-03-17T02:10",
        frozenset(
            {
                k("top_exit", "2026-03-16", "google/gem-g@top5"),
                k("top_entry", "2026-03-16", "meta-llama/ll-d@top5"),
            }
        ),
    ),
    (
        DIGEST.key,
        "2026-03-17T09:00",
        frozenset({DROP, k("rank_change", "2026-03-16", "google/gem-g")}),
    ),
]


def summarise(posts: list[dict[str, Any]]) -> list[tuple[str, str, frozenset[str]]]:
    return [(p["channel"], p["at"][:16], frozenset(e["key"] for e in p["events"])) for p in posts]


# --- fixtures ---


@pytest.fixture(autouse=True)
def _frozen_today(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """'Today' is 1 Jun 2026 for the command, and its cache lives in the test's directory."""
    monkeypatch.setattr(backtest, "utcnow", lambda: TODAY)
    monkeypatch.setattr(range_cache, "utcnow", lambda: TODAY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)


def write_history(path: Path) -> Path:
    lines = []
    for day, day_rows in DAYS.items():
        listed = [(m, t) for m, t in day_rows if m != "other"]
        snapshot = {
            "source": "openrouter",
            "period": "day",
            "as_of": day.isoformat(),
            "total": sum(t for _, t in day_rows),
            "attribution": f"Test figures, as of {day.isoformat()}.",
            "entries": [{"model": m, "tokens": t} for m, t in listed],
        }
        lines.append(json.dumps(snapshot))
    path.write_text("\n".join(lines) + "\n")
    return path


def write_config(path: Path, base_url: str = "https://openrouter.test") -> Path:
    path.write_text(
        f"""
[source]
base_url = "{base_url}"
periods = ["day"]
backfill_since = "{FIRST.isoformat()}"

[[channels]]
name = "leaders"
platform = "webhook"
url_env = "RANKBOT_WEBHOOK_LEADERS"
kinds = ["new_leader"]
periods = ["day"]
"""
    )
    return path


def database_subscriptions() -> list[Subscription]:
    created = datetime(2025, 10, 1, tzinfo=UTC)
    return [
        Subscription(
            DIGEST,
            kinds=SUBSCRIBABLE_KINDS,
            periods=("day",),
            digest=Digest("daily", time(9), "UTC"),
            created_at=created,
            confirmed=True,
        ),
        Subscription(
            QUIET,
            kinds=("new_leader", "surge"),
            periods=("day",),
            quiet=QuietHours(time(0), time(8), "UTC"),
            mute_until=TODAY + timedelta(days=3),  # muted now: the backtest ignores it
            created_at=created,
            confirmed=True,
        ),
    ]


def write_database(path: Path) -> Path:
    asyncio.run(_write_database(path))
    return path


async def _write_database(path: Path) -> None:
    async with TinyStore.open(path) as store:
        for sub in database_subscriptions():
            await store.subscriptions.upsert(sub)
        # a [[channels]] table since removed from the file: the live bot drops it, so must this
        gone = ChannelRef("webhook", "config", "removed")
        await store.subscriptions.upsert(
            Subscription(gone, kinds=SUBSCRIBABLE_KINDS, periods=("day",))
        )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "history": write_history(tmp_path / "history.jsonl"),
        "db": write_database(tmp_path / "real.db.json"),
    }


@pytest.fixture
def api() -> Iterator[OpenRouterHttpFake]:
    with threaded(OpenRouterHttpFake(dict(DAYS))) as fake:
        yield fake


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["backtest", "--json", *args]) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines()]


def common_args(config: Path, db: Path) -> list[str]:
    return [
        "--since",
        SINCE.isoformat(),
        "--until",
        UNTIL.isoformat(),
        "--config",
        str(config),
        "--db",
        str(db),
        "--subscribe",
        SUBSCRIBE,
    ]


# --- the real poller, ticked every 10 minutes, for comparison ---

TICK = timedelta(minutes=10)
"""Denser than the backtest's own ticks (hourly, plus the source's polls and the channels'
quiet-hours ends and digest times), and on a grid every one of those times falls on."""


class Moment:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def real_poller(config_path: Path, make_source: Any, workdir: Path) -> list[dict[str, Any]]:
    """The bot as `rankbot run` wires it, on a clock moved 10 minutes per tick."""
    config = app.load_config(config_path)
    moment = Moment(backtest.day_start(SINCE))
    async with TinyStore.open(workdir / "poller.db.json") as store:
        bot = await app.build_bot(config, store, make_source(moment), {}, clock=moment)
        subs = store.subscriptions
        for sub in database_subscriptions():
            await subs.upsert(replace(sub, mute_until=None))
        caller = Caller("backtest", "you", can_manage=True)
        await execute(
            f"subscribe {SUBSCRIBE}",
            CommandContext(TUNED, caller, moment.now),
            Services(store, config),
        )
        for sub in await subs.all():
            await subs.upsert(replace(sub, confirmed=True))
        end = backtest.day_start(UNTIL + timedelta(days=1))
        while moment.now < end:
            await bot.poller.tick()
            moment.now += TICK
        await bot.charts.settle()
        renderer = Renderer()
        items = [i for c in await bot.outbox.channels() for i in await bot.outbox.pending(c)]
        posts = [backtest.Post(i.channel, i.enqueued_at, i.key, i.message) for i in items]
        posts.sort(key=lambda p: (p.at, p.channel.key, p.key))
        return [backtest.post_json(p, renderer) for p in posts]


# --- the tests ---


def test_a_history_file_gives_exactly_the_posts_derived_by_hand(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "rankbot.toml")
    before = files["db"].read_bytes()
    posts = run_json(capsys, "--history", str(files["history"]), *common_args(config, files["db"]))
    assert summarise(posts) == EXPECTED
    assert files["db"].read_bytes() == before  # the real database is only read
    digest = next(p for p in posts if p["channel"] == DIGEST.key)
    assert digest["key"].startswith("digest:") and digest["text"].startswith(
        "Daily digest: 1 alert"
    )
    quiet = next(p for p in posts if p["channel"] == QUIET.key)
    assert quiet["text"].startswith("Held during quiet hours (00:00-08:00 UTC)")
    tuned = next(p for p in posts if p["channel"] == TUNED.key)
    assert tuned["text"].startswith("rankbot: 3 changes · 9 Feb 2026\n")

    def history_source(moment: Moment) -> Source:
        return TimedReplay(load_history(files["history"]), start=moment.now)

    expected = asyncio.run(real_poller(config, history_source, tmp_path))
    assert posts == expected


def test_the_data_api_over_loopback_gives_the_same_posts_as_the_real_poller(
    tmp_path: Path,
    files: dict[str, Path],
    api: OpenRouterHttpFake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path / "rankbot.toml", api.base_url)
    posts = run_json(capsys, *common_args(config, files["db"]))
    assert summarise(posts) == EXPECTED
    assert "OpenRouter (openrouter.ai/rankings), as of 2026-06-01 02:00 UTC." in posts[0]["text"]
    # 1 Nov … 29 Apr in 30-day ranges, then every poll was answered from the cache
    assert len(api.ranking_requests) == 6

    def live_source(moment: Moment) -> Source:
        settings = app.load_config(config).section("source")
        # a poll a day for 120 days, each on the loopback: the minute window need not wait
        # in real time, and the day budget is the backtest's business, not this comparison's
        clock = Clock()
        limiter = RequestLimiter(per_day=10_000, clock=clock, sleep=clock.sleep)
        source = OpenRouterSource(settings, api_key=KEY, limiter=limiter, sleep=clock.sleep)
        api.visible = lambda: range_cache.visible_through(moment.now)
        return source

    expected = asyncio.run(real_poller(config, live_source, tmp_path))
    assert posts == expected

    api.visible = None
    asked = len(api.requests)
    again = run_json(capsys, *common_args(config, files["db"]))
    assert again == posts
    assert len(api.requests) == asked  # a second backtest is answered from the cache alone


def test_the_summary_lists_each_channel_and_its_posts(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "rankbot.toml")
    args = ["--history", str(files["history"]), *common_args(config, files["db"])]
    assert main(["backtest", *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "rankbot backtest, 2026-01-01 to 2026-04-30 (120 days): 4 channel(s), 10 post(s)\n"
    )
    assert (
        "\nbacktest:cli:--subscribe (top_entry, top_exit, new_model · day · top 5 · immediate)\n"
        "  3 post(s), 7 alert(s)\n"
        "  2026-02-10 02:10 UTC  rankbot: 3 changes · 9 Feb 2026\n"
    ) in out
    assert "  2026-01-11 08:00 UTC  Held during quiet hours (00:00-08:00 UTC)\n" in out
    assert "\nwebhook:config:leaders (new_leader · day · top 10 · immediate)\n" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "--since: expected a date like 2026-01-31, got '2026-13-01'"),
        (
            ["--since", "2026-03-01", "--until", "2026-02-01"],
            "--until 2026-02-01 is before --since 2026-03-01: swap them",
        ),
        (["--since", "2026-01-01", "--db", "nowhere.db.json"], "--db: no database at nowhere"),
        (
            ["--since", "2026-01-01", "--subscribe", "new_leader top=99"],
            '--subscribe "new_leader top=99": top must be a whole number from 1 to 50',
        ),
        (["--since", "2026-01-01", "--history", "missing.jsonl"], "--history: file not found"),
        (["--since", "2026-07-01"], "--since 2026-07-01 is not in the past"),
        (["--since", "2026-01-01", "--until", "2026-06-02"], "--until 2026-06-02 is in the future"),
    ],
)
def test_mistakes_are_one_line_with_the_fix_and_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_config(tmp_path / "rankbot.toml")
    assert main(["backtest", "--config", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rankbot: error: ") and message in err, err


def test_the_live_api_needs_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")
    config = write_config(tmp_path / "rankbot.toml")
    assert main(["backtest", "--config", str(config), "--since", "2026-01-01"]) == 2
    assert "OPENROUTER_API_KEY is not set" in capsys.readouterr().err
