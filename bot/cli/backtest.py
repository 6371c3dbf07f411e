"""`rankbot backtest`: what would my channels have received?

Runs the REAL path, not a model of it: the source (the live Data API through its cache, or a
history file released day by day), the poller with its day/week/month snapshots and their
confirmations, detection, and the planner per subscription with quiet hours and digests,
built by the composition root (`bot.app.build_bot`) on a virtual clock, into a throwaway
store in a temporary directory. Nothing is sent and the real database is only read (for its
subscriptions, with `--db`). What the outbox holds at the end is what each channel would
have received, when, grouped exactly as it would have been posted.

The virtual clock ticks every hour, at every time the source asks to be polled, and at every
quiet-hours end and digest time of the channels, so held posts are released when the live
bot would have released them. The history before `--since` is stored first as a silent
baseline (the source's backfill, or the file's earlier snapshots), as the live bot has it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot import app
from bot.cli.common import config_from_args
from bot.clock import utcnow
from bot.commands import parse as command_parse
from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.messages import Caller, ChannelRef, CommandContext, Message
from bot.core.subscription import CONFIG_WORKSPACE, Subscription
from bot.errors import SourceError, UsageError
from bot.render.templates import Renderer
from bot.render.text import render_text
from bot.sources.base import Source
from bot.sources.openrouter.api import KEY_ENV
from bot.sources.openrouter.backfill import FIRST_DAY
from bot.sources.openrouter.range_cache import (
    CachedApi,
    DayCache,
    default_cache_dir,
    visible_through,
)
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.source import OpenRouterSource
from bot.sources.replay import TimedReplay, load_history

BASELINE_DAYS = 35
"""At least this much history before `--since` (a 30-day window, and a few days more)."""


class VirtualClock:
    """The backtest's `now`: every part of the bot reads it instead of the wall clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class Post:
    """One post a channel would have received, at `at`."""

    channel: ChannelRef
    at: datetime
    key: str
    message: Message


@dataclass(frozen=True, slots=True)
class Result:
    posts: list[Post]
    channels: list[Subscription]
    ticks: int


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def run_backtest(
    config: Config,
    source: Source,
    clock: VirtualClock,
    *,
    start: datetime,
    end: datetime,
    subscriptions: Sequence[Subscription] = (),
    subscribe: Sequence[str] = (),
    workdir: Path,
) -> Result:
    """Tick the real bot from `start` to `end` on `clock`; return every post it planned.

    `subscriptions` (from a database; those declared in a config file are taken from
    `config`, as the live bot does) join the config's `[[channels]]`; each `subscribe`
    line (the words of `/rankbot subscribe`) becomes one more channel. Mutes, pauses and
    the "watching from now on" confirmations are left out: they say nothing about filters.
    """
    clock.now = start
    async with app.open_database(workdir / "backtest.db.json") as store:
        bot = await app.build_bot(config, store, source, {}, clock=clock)
        subs = store.subscriptions
        for sub in subscriptions:
            if sub.channel.workspace != CONFIG_WORKSPACE:  # the config file is their truth
                await subs.upsert(sub)
        services = Services(store, config)
        for index, words in enumerate(subscribe, start=1):
            channel = ChannelRef("backtest", "cli", _subscribe_name(index, len(subscribe)))
            caller = Caller("backtest", "you", can_manage=True)
            ctx = CommandContext(channel, caller, start)
            reply = await execute(f"subscribe {words}", ctx, services)
            if not reply.ok:
                raise UsageError(f"--subscribe {words!r}: {reply.text.splitlines()[0]}")
        channels = [
            await subs.upsert(
                replace(
                    s, confirmed=True, mute_until=None, skipped=0, paused=False, pause_reason=None
                )
            )
            for s in await subs.all()
        ]
        ticks = 0
        while clock.now < end:
            report = await bot.poller.tick()
            ticks += 1
            if report.source_error:
                raise SourceError(
                    f"the source failed at {clock.now:%Y-%m-%d %H:%M} UTC (virtual): "
                    f"{report.source_error}; the days fetched so far are cached, run the "
                    "backtest again later"
                )
            clock.now = next_tick(clock.now, bot.poller.next_poll, channels)
        await bot.charts.settle()
        posts = [
            Post(item.channel, item.enqueued_at, item.key, item.message)
            for channel in await bot.outbox.channels()
            for item in await bot.outbox.pending(channel)
        ]
    posts.sort(key=lambda p: (p.at, p.channel.key, p.key))
    return Result(posts, channels, ticks)


def next_tick(now: datetime, poll: datetime | None, channels: Iterable[Subscription]) -> datetime:
    """The next moment anything can happen: the next hour, the source's next poll, or a
    channel's quiet hours ending or digest falling due."""
    hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    candidates = [hour]
    if poll is not None and poll > now:
        candidates.append(poll)
    for sub in channels:
        if sub.digest is not None:
            candidates.append(sub.digest.next_due(now))
        if sub.quiet is not None:
            candidates.append(_next_local(now, sub.quiet.end, sub.quiet.tz))
    return min(candidates)


def _next_local(now: datetime, clock: time, tz: str) -> datetime:
    """The first moment strictly after `now` whose local time in `tz` is `clock`."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    for offset in (0, 1, 2):
        candidate = datetime.combine(local.date() + timedelta(days=offset), clock, tzinfo=zone)
        if candidate > now:
            return candidate.astimezone(UTC)
    raise AssertionError("a local time comes back within two days")  # pragma: no cover


def _subscribe_name(index: int, count: int) -> str:
    return "--subscribe" if count == 1 else f"--subscribe-{index}"


# --- the command line ---


def _date(flag: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a date like 2026-01-31, got {text!r}") from None


def _check_subscribe(words: str) -> None:
    """A `--subscribe` line must parse as `/rankbot subscribe` would, before anything runs."""
    try:
        command_parse.parse_subscribe(tuple(words.split()))
    except command_parse.ParseError as exc:
        example = exc.example.removeprefix("subscribe ").strip()
        raise UsageError(f'--subscribe "{words}": {exc} Example: --subscribe "{example}"') from None


def _db_subscriptions(path: Path) -> list[Subscription]:
    """The subscriptions of a real database, read without taking its write lock."""
    if not path.is_file():
        raise UsageError(f"--db: no database at {path}: give the file the bot runs on")
    return asyncio.run(_read_subscriptions(path))


async def _read_subscriptions(path: Path) -> list[Subscription]:
    async with app.open_database(path, readonly=True) as store:
        return await store.subscriptions.all()


def _live_source(
    config: Config, clock: VirtualClock, since: date
) -> tuple[OpenRouterSource, CachedApi]:
    """The real OpenRouter source on the virtual clock, answering from the day cache (and the
    API for what it lacks), plus a client of the same cache to fill it first."""
    key = os.environ.get(KEY_ENV)
    if not key:
        raise UsageError(
            f"{KEY_ENV} is not set: create a key at openrouter.ai/keys and export it "
            "(or backtest a recorded history with --history FILE)"
        )
    settings: SourceSettings = config.section("source")
    baseline = max(FIRST_DAY, since - timedelta(days=BASELINE_DAYS))
    settings = replace(settings, backfill_since=min(settings.backfill_since, baseline))
    cache = DayCache(default_cache_dir(settings.base_url))
    source = OpenRouterSource(
        settings,
        api_key=key,
        api_class=partial(CachedApi, cache=cache, visible_through=lambda: visible_through(clock())),
    )
    filler = OpenRouterSource(
        settings,
        api_key=key,
        limiter=source.limiter,
        api_class=partial(CachedApi, cache=cache, since=settings.backfill_since),
    ).api()
    assert isinstance(filler, CachedApi)
    return source, filler


async def _prefetch(filler: CachedApi, until: date, err: TextIO) -> None:
    """Every day from the backfill's first to `until` into the cache, in 30-day ranges."""

    def show(start: date, end: date) -> None:
        err.write(f"\rbacktest: fetched {start} … {end} into the cache")
        err.flush()

    async with filler:
        asked = await filler.prefetch(filler.since, until, show)
    if asked:
        err.write(f"\nbacktest: {asked} range(s) fetched, cached in {filler.cache.root}\n")


def cmd_backtest(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    since = _date("--since", args.since)
    today = utcnow().date()
    for words in args.subscribe or ():
        _check_subscribe(words)
    subscriptions = _db_subscriptions(Path(args.db)) if args.db else []
    clock = VirtualClock(day_start(since))
    source: Source
    filler: CachedApi | None = None
    if args.history:
        path = Path(args.history)
        if not path.is_file():
            raise UsageError(f"--history: file not found: {path}")
        snapshots = load_history(path)
        if not snapshots:
            raise UsageError(f"--history: {path} holds no snapshot")
        settings: SourceSettings = config.section("source")
        source = TimedReplay(snapshots, start=day_start(since), published_at=settings.after_utc)
        default_until = max(s.as_of for s in snapshots) + timedelta(days=1)
    else:
        if since >= today:
            raise UsageError(f"--since {since} is not in the past: the data ends yesterday")
        live, filler = _live_source(config, clock, since)
        source, default_until = live, today
    until = _date("--until", args.until) if args.until else default_until
    if until < since:
        raise UsageError(f"--until {until} is before --since {since}: swap them")
    if filler is not None and until > today:
        raise UsageError(f"--until {until} is in the future: the data ends yesterday")
    start, end = day_start(since), min(day_start(until + timedelta(days=1)), utcnow())
    if filler is not None:
        asyncio.run(_prefetch(filler, until - timedelta(days=1), sys.stderr))
    with tempfile.TemporaryDirectory(prefix="rankbot-backtest-") as tmp:
        result = asyncio.run(
            run_backtest(
                config,
                source,
                clock,
                start=start,
                end=end,
                subscriptions=subscriptions,
                subscribe=args.subscribe or (),
                workdir=Path(tmp),
            )
        )
    renderer = Renderer(config.templates_dir)
    if args.json:
        for post in result.posts:
            print(json.dumps(post_json(post, renderer), ensure_ascii=False, sort_keys=True))
    else:
        print_summary(result, since, until, renderer, sys.stdout)
    return 0


def post_json(post: Post, renderer: Renderer) -> dict[str, Any]:
    """One planned post as `--json` prints it."""
    chart = post.message.attachments[0].filename if post.message.attachments else None
    return {
        "channel": post.channel.key,
        "at": post.at.isoformat(),
        "key": post.key,
        "events": [e.to_dict() for e in post.message.events],
        "text": render_text(renderer, post.message),
        "chart": chart,
    }


def print_summary(
    result: Result, since: date, until: date, renderer: Renderer, out: TextIO
) -> None:
    days = (until - since).days + 1
    out.write(
        f"rankbot backtest, {since} to {until} ({days} days): {len(result.channels)} "
        f"channel(s), {len(result.posts)} post(s)\n"
    )
    for sub in sorted(result.channels, key=lambda s: s.channel.key):
        posts = [p for p in result.posts if p.channel == sub.channel]
        alerts = sum(len(p.message.events) for p in posts)
        out.write(f"\n{sub.channel.key} ({describe(sub)})\n")
        out.write(f"  {len(posts)} post(s), {alerts} alert(s)\n")
        for post in posts:
            first = render_text(renderer, post.message).split("\n", 1)[0]
            out.write(f"  {post.at:%Y-%m-%d %H:%M} UTC  {first}\n")


def describe(sub: Subscription) -> str:
    """`new_leader, top_entry · week · top 10 · digest daily at 09:00 UTC`: the settings that
    decide what a channel gets."""
    parts = [", ".join(sub.kinds), ", ".join(sub.periods), f"top {sub.filters.top_n}", sub.mode]
    if sub.quiet is not None:
        parts.append(f"quiet {sub.quiet}")
    return " · ".join(parts)


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `backtest` to the `rankbot` parser."""
    cache = default_cache_dir("https://openrouter.ai").parent.parent
    parser = sub.add_parser(
        "backtest",
        parents=[common],
        help="what would my channels have received? (replays the real bot, sends nothing)",
        description="Run the real bot (source, snapshots and confirmations, detection, "
        "planning with quiet hours and digests) day by day on a virtual clock from a silent "
        "baseline before --since, and print what each channel would have received, when, "
        "grouped as it would have been posted. Channels: the config's [[channels]], the "
        "subscriptions of --db (read only; mutes and pauses ignored) and one per --subscribe. "
        "Nothing is sent; the real database is never written. The live API's days are "
        f"cached in {cache} and reused by later backtests.",
    )
    parser.add_argument("--since", required=True, metavar="DATE", help="first day (YYYY-MM-DD)")
    parser.add_argument(
        "--until",
        metavar="DATE",
        help="last day (default: today, or the day after the history file's last snapshot)",
    )
    parser.add_argument("--history", metavar="FILE", help="a JSON Lines history, not the API")
    parser.add_argument(
        "--subscribe",
        metavar="WORDS",
        action="append",
        help='a hypothetical channel, with the words of `/rankbot subscribe` (e.g. "new_leader '
        'top=5 period=day"); may be repeated',
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per post: channel, at, key, events (every field), text, chart",
    )
    parser.set_defaults(handler=cmd_backtest)
