"""The poller: poll the source, store, detect, plan, enqueue, deliver, in one asyncio loop.

One tick: the planner releases what is due (confirmations of new subscriptions, posts held
for quiet hours or digests); then the new snapshots from the source are ingested (store →
detect → log), the planner turns all their events into one post per channel, and those posts
are enqueued, all in ONE atomic write: a crash leaves either the snapshots with their posts in
the outbox, or neither (never events logged whose posts were lost). Then delivery is told the
outbox changed.
Between ticks the poller sleeps until the source can have something new, waking at least every
`MAX_SLEEP` so held-back posts go out on time. Delivery runs as a sibling task in the same
loop (`Delivery.serve`), as do the Slack and Discord adapters.

`rankbot run` runs forever; `rankbot poll --once [--dry-run]` runs one tick and delivers once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import httpx

from bot.cli.common import config_from_args
from bot.clock import Clock, utcnow
from bot.config.file import Config
from bot.core.countries import CountryTable
from bot.core.events import DetectParams, Event
from bot.core.history_format import load_history
from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.model import Snapshot
from bot.core.planning import health_text
from bot.delivery.sender import Sender
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery
from bot.engine import planner as notify
from bot.engine.ingest import ingest
from bot.errors import UsageError
from bot.platforms.console import ConsoleSender
from bot.platforms.webhook import WebhookSender, env_name
from bot.render.templates import Renderer
from bot.sources.base import Source
from bot.sources.openrouter.api import KEY_ENV
from bot.sources.openrouter.source import OpenRouterSource
from bot.store.database import Store
from bot.store.outbox import Outbox
from bot.store.subscriptions import Subscriptions

log = logging.getLogger("rankbot.runner")

MAX_SLEEP = timedelta(seconds=60)
"""Longest sleep between ticks: held-back posts (quiet hours, digests) are released by ticks."""


class Planned(Protocol):
    channel: ChannelRef
    message: Message
    key: str


class Planner(Protocol):
    """What `bot.notify` offers: events → posts per channel, and posts held back until now."""

    def after_ingest(
        self, store: Store, events: list[Event], now: datetime
    ) -> Sequence[Planned]: ...

    def flush_due(self, store: Store, now: datetime) -> Sequence[Planned]: ...

    def health(
        self, store: Store, notice: str, text: str, now: datetime, operator: ChannelRef | None
    ) -> Sequence[Planned]: ...


class ReplaySource:
    """A `Source` over recorded snapshots (a history file), for dry runs, demos and tests.

    Each poll hands over the next `per_poll` snapshots (all that are left by default), and
    the next poll is `interval` later; the store's own dedup makes re-reading harmless.
    """

    name = "replay"

    def __init__(
        self,
        snapshots: Sequence[Snapshot],
        *,
        per_poll: int | None = None,
        interval: timedelta = timedelta(hours=1),
    ) -> None:
        self._left = list(snapshots)
        self._per_poll = per_poll
        self._interval = interval

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> ReplaySource:
        return cls(load_history(path), **kwargs)

    @property
    def exhausted(self) -> bool:
        return not self._left

    async def fetch_new(self, store: Store, now: datetime) -> list[Snapshot]:
        count = len(self._left) if self._per_poll is None else self._per_poll
        batch, self._left = self._left[:count], self._left[count:]
        return batch

    def next_poll(self, now: datetime) -> datetime:
        return now + self._interval


@dataclass(frozen=True, slots=True)
class TickReport:
    snapshots: int = 0
    events: int = 0
    enqueued: int = 0
    source_error: str | None = None


class Poller:
    """One tick at a time; `params(period)` gives the detection thresholds of a period.

    A tick asks the source only once its `next_poll` time has come, but always releases the
    posts the planner held back, so ticks can be more frequent than polls.
    """

    def __init__(
        self,
        store: Store,
        source: Source,
        planner: Planner,
        outbox: Outbox,
        *,
        params: Callable[[str], DetectParams],
        countries: CountryTable,
        clock: Clock = utcnow,
        operator: ChannelRef | None = None,
    ) -> None:
        self.store = store
        self._operator = operator
        self.source = source
        self._planner = planner
        self._outbox = outbox
        self._params = params
        self._countries = countries
        self._clock = clock
        self.next_poll: datetime | None = None
        """When the source is asked next (None: at the first tick)."""

    async def tick(self) -> TickReport:
        now = self._clock()
        snapshots: list[Snapshot] = []
        source_error = None
        if self.next_poll is None or now >= self.next_poll:
            try:
                snapshots = await self.source.fetch_new(self.store, now)
            except Exception as exc:
                # An outage of the rankings must not stop held-back posts or delivery; the
                # source is asked again at its next poll (its own health is its business).
                source_error = f"{type(exc).__name__}: {exc}"
                log.warning("poll of %s failed: %s", self.source.name, source_error)
            self.next_poll = self.source.next_poll(now)
        with self.store.batch():  # first: a new channel's confirmation precedes its alerts
            enqueued = self._enqueue(self._planner.flush_due(self.store, now), now)
            enqueued += self._enqueue(self._health_notices(now), now)
        # Everything one poll brought (a day and its rolling week; several days after an
        # outage) becomes ONE grouped post per channel, written with the snapshots at once.
        fresh: list[Event] = []
        with self.store.batch():
            for snapshot in snapshots:
                params = self._params(snapshot.period)
                fresh += ingest(
                    self.store, snapshot, params=params, countries=self._countries
                ).events
            planned = self._planner.after_ingest(self.store, fresh, now)
            enqueued += self._enqueue(self._with_charts(planned), now)
        events = len(fresh)
        return TickReport(len(snapshots), events, enqueued, source_error)

    def _with_charts(self, planned: Sequence[Planned]) -> list[Planned]:
        """Attach the chart of a post's most important charted event (a new #1: the trend; a
        country flip: the shares) when the channel has charts on. Drawn once per tick and
        event, only for these rare kinds; a post whose chart cannot be drawn goes without."""
        from bot.commands.chart import EVENT_CHARTS, alert_attachment  # matplotlib: only here

        charts: dict[str, Attachment | None] = {}
        subscriptions = Subscriptions(self.store)
        out: list[Planned] = []
        for post in planned:
            sub = subscriptions.get(post.channel)
            charted = [e for e in post.message.events if e.kind in EVENT_CHARTS]
            if sub is None or not sub.charts or not charted:
                out.append(post)
                continue
            event = charted[0]
            if event.key not in charts:
                try:
                    charts[event.key] = alert_attachment(event, self.store, self._countries)
                except Exception:  # a picture must never cost the alert
                    log.exception("chart for %s failed; the alert goes without it", event.key)
                    charts[event.key] = None
            chart = charts[event.key]
            message = replace(post.message, attachments=(chart,)) if chart else post.message
            out.append(replace(post, message=message))  # type: ignore[type-var]
        return out

    def _health_notices(self, now: datetime) -> Sequence[Planned]:
        """One notice after a sustained outage and one on recovery, when the source keeps
        health (`health_notice`, which records the notice as given: this runs inside the
        same batch as the enqueue, so a crash can neither lose nor repeat it)."""
        notice_of = getattr(self.source, "health_notice", None)
        notice = notice_of(self.store, now) if notice_of is not None else None
        if notice is None:
            return []
        outage_hours = getattr(getattr(self.source, "settings", None), "outage_hours", 24)
        health = self.store.get_state(f"health:{self.source.name}") or {}
        text = health_text(self.source.name, notice, health, outage_hours)
        log.warning("source %s: %s notice sent", self.source.name, notice)
        return self._planner.health(self.store, notice, text, now, self._operator)

    def _enqueue(self, planned: Sequence[Planned], now: datetime) -> int:
        return sum(self._outbox.enqueue(p.channel, p.message, key=p.key, now=now) for p in planned)


async def run_forever(
    poller: Poller,
    delivery: Delivery,
    *,
    clock: Clock = utcnow,
) -> None:
    """Tick, wake delivery, sleep until the next poll; stops only if the store or delivery
    fails (a restart then resumes from the outbox)."""
    deliveries = asyncio.ensure_future(delivery.serve())
    try:
        while True:
            report = await poller.tick()
            log.info("poll: %s", report)
            delivery.kick()
            now = clock()
            wake = min(poller.next_poll or now, now + MAX_SLEEP)
            await asyncio.wait({deliveries}, timeout=max(0.0, (wake - now).total_seconds()))
            if deliveries.done():
                deliveries.result()
    finally:
        deliveries.cancel()


# --- wiring: the pieces `rankbot run` and `rankbot poll` share --------------------------------


class _OneForAll(Mapping[str, Sender]):
    """Every platform maps to the same sender (dry runs print everything to the console)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def __getitem__(self, platform: str) -> Sender:
        return self._sender

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def webhook_env(config: Config) -> Callable[[ChannelRef], str]:
    """The environment variable holding a webhook channel's URL: its `[[channels]] url_env`,
    else the `RANKBOT_WEBHOOK_<NAME>` convention."""
    declared = {d.subscription.channel: d.url_env for d in config.section("channels")}
    return lambda channel: declared.get(channel) or env_name(channel)


def default_senders(
    config: Config, client: httpx.AsyncClient, renderer: Renderer
) -> dict[str, Sender]:
    """The senders that need no chat login; the Slack and Discord runtimes add theirs
    (`slack`, `discord`, and their richer `slack-webhook` / `discord-webhook`) to this dict,
    which delivery reads on every start of a channel worker."""
    webhook = WebhookSender(client, renderer, url_env=webhook_env(config))
    return {"console": ConsoleSender(renderer), "webhook": webhook, "slack-webhook": webhook}


def detect_params(
    config: Config, source: Source, subscriptions: Subscriptions
) -> Callable[[str], DetectParams]:
    """`[detect]`, with `confirm` per period when the source's settings offer `confirm_for`
    (OpenRouter's `[source.confirm]`: its rolling week needs 2), a top-N stream for every N
    some subscription watches, and the smallest rank move and surge any subscription asked
    for (events below `[detect]`'s own thresholds reach only the channels that asked). A
    replayed history uses `[detect] confirm`, as `rankbot replay`.
    """
    confirm_for = getattr(getattr(source, "settings", None), "confirm_for", None)

    def params(period: str) -> DetectParams:
        extra = tuple(n for n in subscriptions.top_ns() if n != config.detect.top_n)
        confirm = confirm_for(period) if confirm_for else config.detect.confirm
        filters = [s.filters for s in subscriptions.all()]
        moves = [f.min_move for f in filters if f.min_move is not None]
        changes = [f.min_change_pct for f in filters if f.min_change_pct is not None]
        return replace(
            config.detect,
            confirm=confirm,
            extra_top_ns=extra,
            rank_move_floor=min(moves, default=None),
            surge_pct_floor=min(changes, default=None),
        )

    return params


@dataclass
class Bot:
    """Everything one process runs; `senders` may be extended before `run_forever`."""

    store: Store
    outbox: Outbox
    poller: Poller
    delivery: Delivery
    senders: Mapping[str, Sender]


def build_bot(
    config: Config,
    store: Store,
    source: Source,
    senders: Mapping[str, Sender],
    *,
    planner: Planner | None = None,
    settings: DeliverySettings | None = None,
    clock: Clock = utcnow,
) -> Bot:
    """Wire poller and delivery to the store; `[[channels]]` become subscriptions first.

    Permanent failures pause the channel's subscription (settings kept) and delivery skips
    paused channels, so `resume` (or `subscribe`) followed by `Delivery.kick()` sends what
    waited.
    """
    subscriptions = Subscriptions(store)
    subscriptions.sync_declared((d.subscription for d in config.section("channels")), clock())
    outbox = Outbox(store)
    poller = Poller(
        store,
        source,
        planner or notify,  # type: ignore[arg-type]  # a module with the two functions
        outbox,
        params=detect_params(config, source, subscriptions),
        countries=config.countries,
        clock=clock,
        operator=(settings or config.section("delivery")).operator_channel,
    )
    delivery = Delivery(
        outbox,
        senders,
        settings or config.section("delivery"),
        on_permanent=subscriptions.pause,
        is_paused=subscriptions.is_paused,
        clock=clock,
    )
    return Bot(store, outbox, poller, delivery, senders)


def _source(args: argparse.Namespace, config: Config) -> Source:
    """The history file when given, else the live API, whose key must be set: a bot started
    without it would run forever and never get a figure, so it stops here and says why."""
    if args.history:
        return ReplaySource.from_file(Path(args.history))
    if not os.environ.get(KEY_ENV):
        raise UsageError(
            f"{KEY_ENV} is not set: create a key at openrouter.ai/keys and export it "
            "(or poll a recorded history with --history FILE)"
        )
    return OpenRouterSource.from_config(config)


@contextlib.contextmanager
def _database(config: Config, *, dry_run: bool) -> Iterator[Store]:
    """The real store, or for a dry run a throwaway copy of it (nothing is kept)."""
    if not dry_run:
        with Store.open(config.db_path) as store:
            yield store
        return
    with tempfile.TemporaryDirectory(prefix="rankbot-dry-") as tmp:
        copy = Path(tmp) / "dry-run.db.json"
        if config.db_path.exists():
            shutil.copyfile(config.db_path, copy)
        with Store.open(copy) as store:
            yield store


async def poll_once(args: argparse.Namespace, config: Config) -> int:
    """One tick, then one delivery attempt per due post (`rankbot poll --once`)."""
    renderer = Renderer(config.templates_dir)
    settings: DeliverySettings = config.section("delivery")
    with _database(config, dry_run=args.dry_run) as store:
        async with httpx.AsyncClient(timeout=settings.send_timeout) as client:
            if args.dry_run:
                bot = build_bot(
                    config,
                    store,
                    _source(args, config),
                    _OneForAll(ConsoleSender(renderer)),
                    settings=replace(settings, limits={}),
                )
                report = await bot.poller.tick()
                await bot.delivery.run_until_idle(wait_for_retries=False)
            else:
                senders = default_senders(config, client, renderer)
                bot = build_bot(config, store, _source(args, config), senders)
                async with contextlib.AsyncExitStack() as adapters:
                    await start_chat_adapters(config, bot, senders, adapters)
                    report = await bot.poller.tick()
                    await bot.delivery.run_until_idle(wait_for_retries=False)
        stats, pending = bot.delivery.stats, bot.outbox.pending_count()
    verb = "would be sent" if args.dry_run else "sent"
    print(
        f"polled {bot.poller.source.name}: {report.snapshots} snapshot(s), {report.events} "
        f"event(s), {report.enqueued} post(s) planned; {stats.sent} {verb}, {pending} "
        f"pending, {stats.failed} failed"
        + (f"; source error: {report.source_error}" if report.source_error else "")
        + (" (dry run: nothing stored)" if args.dry_run else ""),
        file=sys.stderr,
    )
    return 1 if report.source_error else 0


async def run(args: argparse.Namespace, config: Config) -> int:
    """`rankbot run`: poller, delivery, and the Slack and Discord adapters that are configured,
    all in this one loop until stopped."""
    renderer = Renderer(config.templates_dir)
    settings: DeliverySettings = config.section("delivery")
    with Store.open(config.db_path) as store:
        async with httpx.AsyncClient(timeout=settings.send_timeout) as client:
            senders = default_senders(config, client, renderer)
            bot = build_bot(config, store, _source(args, config), senders)
            async with contextlib.AsyncExitStack() as adapters:
                started = await start_chat_adapters(config, bot, senders, adapters)
                log.info("rankbot running: %s", ", ".join(started) or "webhooks and console only")
                await run_forever(bot.poller, bot.delivery)
    return 0


async def start_chat_adapters(
    config: Config,
    bot: Bot,
    senders: dict[str, Sender],
    stack: contextlib.AsyncExitStack,
    environ: Mapping[str, str] = os.environ,
) -> list[str]:
    """Start Slack and Discord when they are configured (a config table or a token in the
    environment), add their senders, and register their shutdown on `stack`.

    Imported here, not at the top: a bot that uses only one platform (or only webhooks) never
    loads the other's library.
    """
    started: list[str] = []
    from bot.platforms.slack.runtime import slack_wanted, start_slack

    if slack_wanted(config, environ):
        slack = await start_slack(
            config, bot.store, on_command=bot.delivery.kick, webhook_env=webhook_env(config)
        )
        stack.push_async_callback(slack.close)
        senders["slack"] = slack.sender
        senders["slack-webhook"] = slack.webhook_sender
        started.append("Slack")

    from bot.commands.execute import Services
    from bot.platforms.discord import runtime as discord_runtime
    from bot.platforms.discord.settings import TOKEN_ENV

    if "discord" in config.sections or environ.get(TOKEN_ENV):
        discord = await discord_runtime.start(
            Services(bot.store, config), on_command=bot.delivery.kick
        )
        stack.push_async_callback(discord.close)
        senders["discord"] = discord.sender
        senders["discord-webhook"] = discord.webhook_sender
        started.append("Discord")
    elif any(
        d.subscription.channel.platform == "discord-webhook" for d in config.section("channels")
    ):
        session = await stack.enter_async_context(aiohttp.ClientSession())
        senders["discord-webhook"] = discord_runtime.webhook_sender(config, session)
        started.append("Discord webhooks")
    return started


def cmd_poll(args: argparse.Namespace) -> int:
    return asyncio.run(poll_once(args, config_from_args(args)))


def cmd_run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(run(args, config_from_args(args)))


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `run` and `poll` to the `rankbot` parser (called from `bot.cli.build_parser`)."""
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
