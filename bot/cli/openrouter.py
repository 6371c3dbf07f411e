"""`rankbot fetch` and `rankbot backfill`, and the key check of `rankbot check`: the OpenRouter
source by hand.

Parsing and printing only; the work is in the source, the backfill and the row parser, and
the backfill's history is stored by the engine (`bot.engine.ingest.store_baseline`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import date, timedelta
from typing import Any

from bot import app
from bot.cli.common import config_from_args, database_path
from bot.clock import utcnow
from bot.engine.ingest import store_baseline
from bot.errors import ExitCode, SourceError, UsageError
from bot.render.templates import human_tokens
from bot.sources.openrouter import catalogue
from bot.sources.openrouter.api import BAD_KEY, KEY_ENV, AuthError, OpenRouterError
from bot.sources.openrouter.backfill import BackfillReport, ProgressBar
from bot.sources.openrouter.rows import SuspectPayload, parse_payload
from bot.sources.openrouter.source import OpenRouterSource
from bot.sources.openrouter.windows import window_snapshot


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-05-11, got {text!r}") from None


def cmd_fetch(args: argparse.Namespace) -> int:
    """Print what one day parses to, without storing anything."""
    source = OpenRouterSource.from_config(config_from_args(args))
    now = utcnow()
    day = args.date or now.date() - timedelta(days=1)

    async def fetch() -> tuple[Any, dict[str, str]]:
        async with source.api() as api:
            payload = await api.rankings_daily(day, day)
            try:
                names = catalogue.names_from_models(await api.models())
            except OpenRouterError:
                names = {}
        return payload, names

    try:
        payload, names = asyncio.run(fetch())
        parsed = parse_payload(payload, today=now.date())
    except SuspectPayload as exc:
        raise SourceError(f"rejected as suspect: {exc}") from None
    if parsed.rejected:
        raise SourceError("; ".join(f"rejected as suspect: {r}" for r in parsed.rejected))
    if not parsed.days:
        raise UsageError(f"OpenRouter has no rows for {day.isoformat()} (as of {parsed.as_of})")
    snapshot = window_snapshot(
        parsed.days[-1:], "day", lambda m: catalogue.display_name(m, names), fetched_at=now
    )
    if args.json:
        print(json.dumps(snapshot.to_dict(), ensure_ascii=False))
        return 0
    print(f"OpenRouter · day · {snapshot.as_of.isoformat()}: {len(snapshot.entries)} models")
    for entry in snapshot.entries:
        print(f"{entry.rank:>3}. {entry.name:<40} {human_tokens(entry.tokens):>7}  {entry.model}")
    other = (snapshot.total or 0) - snapshot.listed_total
    total = human_tokens(snapshot.total)
    print(f"     other models: {human_tokens(other)}; platform total {total}")
    print(snapshot.attribution)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    source = OpenRouterSource.from_config(config)
    since = args.since or source.settings.backfill_since

    async def backfill() -> tuple[BackfillReport, int]:
        async with app.open_database(database_path(config)) as store:
            report = await source.run_backfill(
                store, utcnow(), since=since, progress=ProgressBar(0)
            )
            added = await store_baseline(
                store, report.as_fetched(), params=config.detect, countries=config.countries
            )
        return report, added

    report, added = asyncio.run(backfill())
    print(
        f"backfill from {since.isoformat()}: {report.ranges} range(s) fetched with "
        f"{report.requests} request(s), {report.days} day(s) stored, "
        f"{added} snapshot(s) added as a silent baseline"
    )
    for reason in report.rejected:
        print(f"rejected as suspect: {reason}")
    return 0


def check_key(args: argparse.Namespace) -> tuple[int, str]:
    """Whether the key works, with one request for yesterday (for `rankbot check`): the
    exit code (2 no key, 6 unreachable, 7 key refused, 8 other API trouble) and one line."""
    source = OpenRouterSource.from_config(config_from_args(args))
    if not os.environ.get(KEY_ENV):
        return ExitCode.USAGE, BAD_KEY
    day = utcnow().date() - timedelta(days=1)

    async def ask() -> Any:
        async with source.api() as api:
            return await api.rankings_daily(day, day)

    try:
        payload = asyncio.run(ask())
    except AuthError as exc:
        return exc.code, BAD_KEY
    except OpenRouterError as exc:
        return exc.code, f"{KEY_ENV} is set, but OpenRouter could not be asked: {exc}"
    meta = payload.get("meta") if isinstance(payload, dict) else None
    as_of = meta.get("as_of") if isinstance(meta, dict) else None
    return ExitCode.OK, (
        f"{KEY_ENV} works: OpenRouter answered for {day.isoformat()} "
        f"(data as of {as_of or 'unknown'}) at {source.settings.base_url}"
    )


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `fetch` and `backfill` to the `rankbot` parser (`check` is `bot.cli.check`)."""
    fetch = sub.add_parser(
        "fetch",
        parents=[common],
        help="print what one day of the OpenRouter Data API parses to (stores nothing)",
        description="Fetch one completed UTC day from OpenRouter's rankings Data API, "
        "validate it and print the ranking it parses to, without storing it.",
    )
    fetch.add_argument("--date", type=_date, metavar="D", help="the day (default: yesterday)")
    fetch.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    fetch.set_defaults(handler=cmd_fetch)

    backfill = sub.add_parser(
        "backfill",
        parents=[common],
        help="store OpenRouter history as a silent baseline (resumable)",
        description="Fetch the daily rankings since a date in 30-day ranges (within the "
        "API's limits, with a progress bar), store them and derive day/week/month history "
        "without announcing any of it. An interrupted backfill resumes where it stopped.",
    )
    backfill.add_argument(
        "--since", type=_date, metavar="D", help="first day (default: [source] backfill_since)"
    )
    backfill.set_defaults(handler=cmd_backfill)
