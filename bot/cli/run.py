"""`rankbot run` and `rankbot poll --once [--dry-run]`: the bot, forever or for one cycle.

The bot is built by the composition root (`bot.app`); this module parses, runs and reports.
`poll --once` exits 8 when the source failed (`bot.errors.ExitCode.SOURCE_FAILED`): the posts
planned before still went out, and a scheduler can tell the two apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import app
from bot.cli.common import config_from_args, database_path, report_line
from bot.config.file import Config
from bot.delivery.settings import DeliverySettings
from bot.engine.poller import TickReport
from bot.errors import ExitCode, UsageError
from bot.platforms.console import ConsoleSender
from bot.render.template_check import check_overrides
from bot.render.templates import Renderer
from bot.sources.base import Source

log = logging.getLogger("rankbot.run")


def _source(args: argparse.Namespace, config: Config) -> Source:
    return app.build_source(config, Path(args.history) if args.history else None)


def require_webhook_urls(config: Config, environ: Mapping[str, str] = os.environ) -> None:
    """`run` and `poll` refuse to start when a `[[channels]]` entry's `url_env` variable is
    unset: a channel that could never be posted to would only fill up with waiting alerts."""
    missing = [d for d in config.section("channels") if not environ.get(d.url_env)]
    if missing:
        names = ", ".join(f"{d.url_env} (for [[channels]] {d.name!r})" for d in missing)
        raise UsageError(
            f"webhook URL not set: {names}; export it with the channel's webhook URL, or "
            "remove the table from the config"
        )


def poll_outcome(report: TickReport, failed: int, waiting: int) -> ExitCode:
    """What `poll --once` tells cron: the source failed (8), some posts failed for good
    (10), some still wait for a retry or a paused channel (11), or all delivered (0)."""
    if report.source_error:
        return ExitCode.SOURCE_FAILED
    if failed:
        return ExitCode.POSTS_FAILED
    if waiting:
        return ExitCode.POSTS_WAITING
    return ExitCode.OK


async def poll_once(args: argparse.Namespace, config: Config) -> int:
    """One tick, then one delivery attempt per due post (`rankbot poll --once`)."""
    if not args.dry_run:
        require_webhook_urls(config)
    check_overrides(config.templates_dir)
    renderer = Renderer(config.templates_dir)
    settings: DeliverySettings = config.section("delivery")
    async with (
        app.open_database(database_path(config), dry_run=args.dry_run) as store,
        app.webhook_client(settings) as client,
    ):
        if args.dry_run:
            bot = await app.build_bot(
                config,
                store,
                _source(args, config),
                app.OneForAll(ConsoleSender(renderer)),
                settings=replace(settings, limits={}),
            )
            report = await app.one_cycle(bot)
        else:
            senders = app.default_senders(config, client, renderer)
            bot = await app.build_bot(config, store, _source(args, config), senders)
            async with contextlib.AsyncExitStack() as adapters:
                await app.start_chat_adapters(config, bot, senders, adapters)
                report = await app.one_cycle(bot)
        stats, pending = bot.delivery.stats, await bot.outbox.count()
    verb = "would be sent" if args.dry_run else "sent"
    report_line(
        f"polled {bot.poller.source.name}: {report.snapshots} snapshot(s), {report.events} "
        f"event(s), {report.enqueued} post(s) planned; {stats.sent} {verb}, {pending} "
        f"pending, {stats.failed} failed"
        + (f"; source error: {report.source_error}" if report.source_error else "")
        + (" (dry run: nothing stored)" if args.dry_run else "")
    )
    if args.dry_run:
        return ExitCode.SOURCE_FAILED if report.source_error else ExitCode.OK
    return poll_outcome(report, stats.failed, pending)


async def run(args: argparse.Namespace, config: Config) -> int:
    """`rankbot run --role ROLE`: what `bot.app.ROLES` says the role runs, until stopped."""
    role = app.ROLES[args.role]
    if not (role.polls or role.delivers):
        return await serve_web(args.role, config)
    if role.polls and role.delivers:
        return await run_all(args, config)
    return await run_part(args, config)


async def run_part(args: argparse.Namespace, config: Config) -> int:
    """`--role poller` or `--role worker`: one part of the bot beside other processes on
    PostgreSQL (`bot.app.run_part`), until stopped."""
    settings: DeliverySettings = config.section("delivery")
    async with (
        app.open_database(database_path(config)) as store,
        app.webhook_client(settings) as client,
        app.ops_listener_for_store(config, store) as ops,  # health, gauges, counters
    ):
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await app.run_part(
                args.role, config, store, client, lambda: _source(args, config), stop, ops
            )
    return 0


async def serve_web(role: str, config: Config) -> int:
    """`--role web`: the HTTP endpoints only (`bot.app.start_web`), until stopped."""
    async with (
        app.open_database(database_path(config)) as store,
        contextlib.AsyncExitStack() as stack,
    ):
        app.require_shared_database(store, role)
        ops = await stack.enter_async_context(app.ops_listener_for_store(config, store))
        stop = asyncio.Event()
        with stop_on_signals(stop):
            web = await app.start_web(config, store, stack, health=ops.health)
            log.info("rankbot %s running: %s", role, ", ".join(web.started))
            await stop.wait()
    log.info("rankbot %s stopped", role)
    return 0


async def run_all(args: argparse.Namespace, config: Config) -> int:
    """`rankbot run`: poller, delivery, and the Slack and Discord adapters that are configured,
    all in this one loop until stopped, with the `[ops]` listener when one is set."""
    require_webhook_urls(config)
    check_overrides(config.templates_dir)
    renderer = Renderer(config.templates_dir)
    settings: DeliverySettings = config.section("delivery")
    async with (
        app.open_database(database_path(config)) as store,
        app.webhook_client(settings) as client,
    ):
        senders = app.default_senders(config, client, renderer)
        bot = await app.build_bot(config, store, _source(args, config), senders)
        app.warm_charts()
        with stop_on_signals(bot.stop):
            async with (
                app.ops_listener(config, bot),
                contextlib.AsyncExitStack() as adapters,
            ):
                started = await app.start_chat_adapters(config, bot, senders, adapters)
                log.info("rankbot running: %s", ", ".join(started) or "webhooks and console only")
                cut = await app.run_until_stopped(bot, settings.drain_seconds)
            pending = await bot.outbox.count()
    log.info(
        "rankbot stopped%s: %d post(s) sent, %d pending for the next start%s",
        f" ({bot.failure})" if bot.failure else "",
        bot.delivery.stats.sent,
        pending,
        f" ({cut} cut off after {settings.drain_seconds:g} s)" if cut else "",
    )
    if bot.failure is not None:
        raise bot.failure
    return 0


@contextlib.contextmanager
def stop_on_signals(stopping: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stopping` (the bot's `stop`: `app.run_until_stopped` ends
    gracefully) instead of killing the process on the spot; a second one while stopping is
    logged and ignored (the drain is bounded by `[delivery] drain_seconds`)."""
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        if stopping.is_set():
            log.warning("%s again: already stopping", sig.name)
            return
        log.info("%s: stopping (posts in flight may finish)", sig.name)
        stopping.set()

    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def cmd_poll(args: argparse.Namespace) -> int:
    return asyncio.run(poll_once(args, config_from_args(args)))


def cmd_run(args: argparse.Namespace) -> int:
    return asyncio.run(run(args, config_from_args(args)))


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `run` and `poll` to the `rankbot` parser (called from `bot.cli.main.build_parser`)."""
    run_parser = sub.add_parser(
        "run",
        parents=[common],
        help="poll, detect and deliver forever (the bot)",
        description="Poll the source on its schedule, store each new snapshot, plan one "
        "grouped post per subscribed channel and deliver it through the outbox.",
    )
    run_parser.add_argument(
        "--history", metavar="FILE", help="poll a JSON Lines history, not the API"
    )
    run_parser.add_argument(
        "--role",
        choices=list(app.ROLES),
        default="all",
        help="what this process runs: all (the default: one process does everything), or one "
        "part of several processes sharing a PostgreSQL database: poller, worker, web (only the "
        "HTTP endpoints of Slack and Discord); see docs/scaling.md",
    )
    run_parser.set_defaults(handler=cmd_run)

    poll = sub.add_parser(
        "poll",
        parents=[common],
        help="one poll → detect → deliver cycle, then exit",
        description="Run one cycle: poll, store, plan, and give every due post one attempt "
        "(what fails temporarily stays in the outbox for the next run).",
    )
    poll.add_argument("--once", action="store_true", required=True, help="one cycle, then exit")
    poll.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent to whom; send nothing, store nothing (works on a copy)",
    )
    poll.add_argument("--history", metavar="FILE", help="poll a JSON Lines history, not the API")
    poll.set_defaults(handler=cmd_poll)
