"""The composition root: the one place that builds the bot and wires its parts together.

Everything below receives what it needs as arguments (the store, the source, the planner, the
senders, a webhook-URL lookup), so no part imports another to find its collaborators, and
nothing below this module imports it back (an import-linter layer contract checks that).

    store ─┬─ Planner ─┐
    source ┴──────────── Poller ── Outbox ── Delivery ── senders (console, webhook, Slack, Discord)
                           └── AlertCharts (chart worker process) ─┘

- `CONFIG_SECTIONS`: which owner parses which config section;
- `open_store` / `open_database`: the store backend (TinyDB, the embedded default); nothing
  else names a backend (an import-linter contract checks it);
- `build_source`: the replay file or the live OpenRouter API;
- `build_bot`: store → planner, poller, alert charts, delivery;
- `default_senders` / `start_chat_adapters`: the senders, and the Slack and Discord adapters
  when they are configured (imported only then: a bot that uses one platform never loads the
  other's library);
- `ROLES` / `start_web`: what each `rankbot run --role` process runs, and the web role's
  HTTP endpoints (Slack HTTP mode, Discord's Interactions Endpoint URL) on a shared store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiohttp
import httpx
import platformdirs

from bot.clock import Clock, utcnow
from bot.commands.execute import Services
from bot.commands.sample_alert import sample_alert
from bot.config import channels
from bot.config import file as config_file
from bot.config import log as log_settings
from bot.config.database import DatabaseUrl, Location
from bot.config.file import Config, SectionParser
from bot.core.messages import ChannelRef
from bot.core.model import Snapshot
from bot.delivery import settings as delivery_settings
from bot.delivery.claimed import ClaimedDelivery
from bot.delivery.sender import Sender, SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.tokens import describe as describe_token
from bot.delivery.webhook_urls import UrlEnv, declared_url_env
from bot.delivery.workers import Delivery, send_once
from bot.engine.alert_charts import AlertCharts, Draw, draw_in_worker
from bot.engine.detect_params import detect_params
from bot.engine.leader import poll_as_leader
from bot.engine.planner import Planner
from bot.engine.poller import Poller, TickReport, run_forever
from bot.errors import StoreCorrupt, UsageError
from bot.ops import service as ops_service
from bot.ops import settings as ops_settings
from bot.ops.admin import Admin, Live
from bot.ops.health import Health
from bot.platforms.console import ConsoleSender
from bot.platforms.discord import settings as discord_settings
from bot.platforms.slack import settings as slack_settings
from bot.platforms.slack.blocks import slack_renderer
from bot.platforms.slack.webhook import SlackWebhookSender
from bot.platforms.webhook import WebhookSender
from bot.render.templates import Renderer
from bot.sources.base import Source
from bot.sources.openrouter import settings as source_settings
from bot.sources.openrouter.api import KEY_ENV
from bot.sources.openrouter.source import OpenRouterSource
from bot.sources.replay import ReplaySource
from bot.store.protocols import Outbox, OutboxItem, Store
from bot.store.tinydb import TinyStore, copy_database

if TYPE_CHECKING:
    from bot.store.postgres import PgStore

log = logging.getLogger("rankbot.app")

CONFIG_SECTIONS: Mapping[str, SectionParser] = {
    "delivery": delivery_settings.parse,
    "source": source_settings.parse,
    "channels": channels.parse_channels,
    "discord": discord_settings.parse,
    "slack": slack_settings.parse,
    "log": log_settings.parse,
    "ops": ops_settings.parse,
}
"""Top-level config keys owned by a part of the bot, and the parser each owner provides."""


@dataclass(frozen=True, slots=True)
class Role:
    """What one `rankbot run --role NAME` process does. `all` is the single-process bot;
    the others split it over processes that share one database, so they need a backend
    several processes can open at once (PostgreSQL, not the TinyDB file, which has one
    writer)."""

    polls: bool
    """Runs the poller: fetch, store, detect, plan, enqueue (only while it leads)."""
    delivers: bool
    """Runs delivery: sends what the outbox holds."""
    chat: str
    """`configured`: Slack and Discord as configured (Socket Mode or HTTP, gateway or HTTP
    interactions); `http`: only their HTTP endpoints (Slack HTTP mode, Discord's
    Interactions Endpoint URL), no gateway connection; `none`: no chat adapter."""
    shared_database: bool


ROLES: Mapping[str, Role] = {
    "all": Role(polls=True, delivers=True, chat="configured", shared_database=False),
    "poller": Role(polls=True, delivers=False, chat="none", shared_database=True),
    "worker": Role(polls=False, delivers=True, chat="none", shared_database=True),
    "web": Role(polls=False, delivers=False, chat="http", shared_database=True),
}
"""`rankbot run --role`: the one table of what each kind of process runs (docs/scaling.md)."""


def load_config(path: Path | None) -> Config:
    """The config file at `path` (the defaults when None), with every owned section known."""
    return config_file.load_config(path, CONFIG_SECTIONS)


def config_from_mapping(data: Mapping[str, Any], *, base: Path) -> Config:
    """A config from already-parsed TOML (tests, embedding)."""
    return Config.from_mapping(data, base=base, parsers=CONFIG_SECTIONS)


def webhook_url_env(config: Config) -> UrlEnv:
    """The environment variable of each webhook channel: `[[channels]] url_env`, else the
    `RANKBOT_WEBHOOK_<NAME>` convention (`bot.delivery.webhook_urls`)."""
    return declared_url_env(config.section("channels"))


class OneForAll(Mapping[str, Sender]):
    """Every platform maps to the same sender (dry runs print everything to the console)."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def __getitem__(self, platform: str) -> Sender:
        return self._sender

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def default_senders(
    config: Config, client: httpx.AsyncClient, renderer: Renderer
) -> dict[str, Sender]:
    """The senders that need no chat login; the Slack and Discord runtimes add theirs
    (`slack`, `discord`, `discord-webhook`) to this dict, which delivery reads on every start
    of a channel worker. Slack incoming webhooks always get Slack's blocks and escaping
    (`bot.platforms.slack.webhook`: httpx only, no Slack library)."""
    url_env = webhook_url_env(config)
    renderer.warm("text")  # at start-up, not during the first fan-out
    slack_webhook = SlackWebhookSender(
        client, slack_renderer(config.templates_dir).warm("slack"), url_env=url_env
    )
    return {
        "console": ConsoleSender(renderer),
        "webhook": WebhookSender(client, renderer, url_env=url_env),
        "slack-webhook": slack_webhook,
    }


@dataclass
class Bot:
    """Everything one process runs; `senders` may be extended before `run_forever`."""

    store: Store
    planner: Planner
    poller: Poller
    charts: AlertCharts
    delivery: Delivery
    senders: Mapping[str, Sender]
    send_timeout: float = 30.0
    health: Health | None = None
    """Readiness of this process (`[ops]`): chat adapters add their connection checks."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to end `rankbot run` gracefully (`run_until_stopped`): a signal, or `fail`."""
    failure: BaseException | None = None

    @property
    def outbox(self) -> Outbox:
        return self.store.outbox

    async def send_test(self, channel: ChannelRef, lang: str = "en") -> SendResult:
        """Post the sample alert (`bot.commands.sample_alert`) to `channel` now, through
        the platform's sender but not the outbox: a test is not an alert to keep or retry."""
        sender = self.senders.get(channel.platform)
        if sender is None:
            reason = f"this bot has no {channel.platform} sender (is it configured?)"
            return SendResult(SendStatus.PERMANENT, reason=reason)
        now = utcnow()
        message = sample_alert(now.date(), lang)
        item = OutboxItem(f"test:{channel.key}:{now.isoformat()}", channel, message, now)
        return await send_once(sender, item, self.send_timeout)

    def fail(self, error: BaseException) -> None:
        """An adapter that cannot go on (Discord closed the gateway for good) ends the run:
        `rankbot run` shuts down as on SIGTERM, then exits with the error's code and line."""
        if self.failure is None:
            self.failure = error
        self.stop.set()

    async def after_command(self) -> None:
        """After a chat command changed a subscription: enqueue what it made due (a new
        channel's confirmation) and wake delivery, so it goes out now, not at the next tick."""
        await self.poller.release_due()
        self.delivery.kick()


async def build_bot(
    config: Config,
    store: Store,
    source: Source,
    senders: Mapping[str, Sender],
    *,
    planner: Planner | None = None,
    settings: DeliverySettings | None = None,
    draw: Draw = draw_in_worker,
    clock: Clock = utcnow,
) -> Bot:
    """Wire planner, poller, alert charts and delivery to the store; `[[channels]]` become
    subscriptions first.

    Permanent failures pause the channel's subscription (settings kept) and delivery skips
    paused channels, so `resume` (or `subscribe`) followed by `Delivery.kick()` sends what
    waited. A chart attached to waiting posts kicks delivery too.
    """
    delivery_config: DeliverySettings = settings or config.section("delivery")
    subscriptions = store.subscriptions
    declared = (d.subscription for d in config.section("channels"))
    await subscriptions.sync_declared(declared, clock())
    planner = planner or Planner(store, operator=delivery_config.operator_channel)
    delivery = Delivery(
        store.outbox,
        senders,
        delivery_config,
        on_permanent=subscriptions.pause,
        is_paused=subscriptions.is_paused,
        clock=clock,
        after_start=freeze_started_workers,
    )
    charts = AlertCharts(store, config.countries, draw=draw, on_attached=delivery.kick)
    poller = Poller(
        store,
        source,
        planner,
        charts,
        params=detect_params(config.detect, source, subscriptions),
        baseline_params=config.detect,
        countries=config.countries,
        keep_sent_days=config.keep_sent_days,
        clock=clock,
        after_store=settle_heap,
    )
    return Bot(store, planner, poller, charts, delivery, senders, delivery_config.send_timeout)


async def run_until_stopped(bot: Bot, drain_seconds: float) -> int:
    """`rankbot run`: poll and deliver until `bot.stop` is set, then stop polling and give
    the posts in flight at most `drain_seconds` to finish and be recorded (the caller then
    closes the adapters and the store). Returns how many sends were cut off (their posts stay
    pending for the next start). A failure of the store or of delivery is raised."""
    main = asyncio.ensure_future(run_forever(bot.poller, bot.delivery))
    stopped = asyncio.ensure_future(bot.stop.wait())
    try:
        await asyncio.wait((main, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        main.cancel()
        await asyncio.wait((main,))
        # whatever ended the run, no delivery worker outlives it: the HTTP clients and the
        # store close next, and a worker still sending would meet a closed client
        cut = await bot.delivery.stop(drain_seconds)
    error = None if main.cancelled() else main.exception()
    if error is not None:
        raise error
    return cut


async def one_cycle(bot: Bot) -> TickReport:
    """`rankbot poll --once`: redraw charts left waiting, one tick, then every due post gets
    one attempt; a post waiting for its chart waits for the drawing (never long)."""
    await bot.charts.resume()
    report = await bot.poller.tick()
    await asyncio.gather(bot.charts.settle(), bot.delivery.run_until_idle(wait_for_retries=False))
    return report


def webhook_client(settings: DeliverySettings) -> httpx.AsyncClient:
    """The webhook senders' HTTP client. Its own timeouts only cover connecting: delivery
    bounds every request itself with `send_timeout`, counting only time the event loop could
    serve it (`bot.net.deadline`); httpx's read timer, like any loop timer, would fire while
    the answer waits in the socket behind a busy loop. Its pool does not queue requests
    (delivery bounds them): a request waiting for a connection would count as a slow
    answer."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(None, connect=settings.send_timeout, pool=None),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=settings.concurrency),
    )


def warm_charts() -> None:
    """Start the chart worker process now, so the first alert with a chart does not wait for
    matplotlib to load (`bot.render.chart_pool`)."""
    from bot.render.chart_pool import default_pool

    default_pool().warm()


async def read_stream(
    path: Location, source: str, period: str, *, last: int | None = None
) -> list[Snapshot]:
    """A stream's snapshots from the database at `path`, opened read-only (it may be in use
    by the bot): for `rankbot top` and `rankbot chart`."""
    async with open_database(path, readonly=True) as store:
        return await store.history.snapshots(source, period, last=last)


def build_source(config: Config, history: Path | None = None) -> Source:
    """The history file when given, else the live API, whose key must be set: a bot started
    without it would run forever and never get a figure, so it stops here and says why."""
    if history is not None:
        return ReplaySource.from_file(history)
    if not os.environ.get(KEY_ENV):
        raise UsageError(
            f"{KEY_ENV} is not set: create a key at openrouter.ai/keys and export it "
            "(or poll a recorded history with --history FILE)"
        )
    return OpenRouterSource.from_config(config)


def default_db_path() -> Path:
    """Where the database lives without `[store] path` or `--db`."""
    return Path(platformdirs.user_data_dir("rankbot")) / "rankbot.db.json"


FREEZE_WORKERS = 1000
"""A delivery round that starts this many channel workers or more has them frozen."""


def freeze_started_workers(started: int) -> None:
    """After delivery started `started` channel workers: when they are many, move them out of
    the cyclic collector's sight (`gc.freeze`, no collection first: that would walk them).
    A fan-out to 5,000 channels starts 5,000 workers that mostly wait for a send slot: ~130,000
    coroutines, tasks and contexts that every full collection walked again, 50-60 ms of the
    event loop each time, a dozen times per fan-out (the worst stalls left after
    `settle_heap`). Each worker is freed as usual when it ends (reference counting); what ends
    in a reference cycle stays: ~1,850 small objects per 5,000-channel fan-out, measured, the
    price of a loop that answers."""
    if started >= FREEZE_WORKERS:
        gc.freeze()


def open_store(path: Path, *, readonly: bool = False) -> Store:
    """The embedded TinyDB store at `path` (`bot.store.tinydb`).

    The embedded store keeps the whole database in memory for the life of the process: it is
    moved out of the cyclic garbage collector's sight (`gc.freeze`), which otherwise walks
    those millions of objects again and again while a busy poll allocates its posts. Nor does
    it walk them while they load (collections there found nothing to free but cost a third of
    the open); only a process that opened a store before pays for a full collection."""
    global _stores_opened
    enabled = gc.isenabled()
    gc.disable()
    try:
        store = TinyStore.open(path, readonly=readonly)
    finally:
        if enabled:
            gc.enable()
    if _stores_opened:
        gc.unfreeze()  # what an earlier store of this process left is collected, not kept
        gc.collect()
    _stores_opened += 1
    gc.freeze()
    return store


_stores_opened = 0


def settle_heap() -> None:
    """After a tick stored history or posts: collect the young generations, then freeze what
    is left (`gc.freeze`), as `open_store` did with what it loaded. A busy day leaves ~9,000
    posts and their documents in memory for `[store] keep_sent_days`; left in the collector's
    sight, every full collection walked them again: 60-80 ms of the event loop at moments
    nobody chose, the worst stalls of a busy poll and of the fan-out after it. Only the young
    generations are collected here (~1 ms): a full collection would walk everything created
    since the last freeze, which at 10,000 channels took 70 ms of a quiet poll. Frozen objects
    are still freed by reference counting when their last reference goes; what was already
    cyclic garbage in the old generation stays."""
    gc.collect(1)
    gc.freeze()


async def open_location(where: Location, *, readonly: bool = False) -> Store:
    """The store at `where`: a TinyDB file, or a PostgreSQL database (`bot.store.postgres`,
    several processes on one database). The one place a backend is chosen."""
    if isinstance(where, DatabaseUrl):
        from bot.store.postgres import PgStore

        return await PgStore.open(where.url, pool_size=where.pool_size, readonly=readonly)
    return open_store(where, readonly=readonly)


@contextlib.asynccontextmanager
async def open_database(
    path: Location, *, dry_run: bool = False, readonly: bool = False
) -> AsyncIterator[Store]:
    """The store at `path` for the length of the block, or for a dry run a throwaway copy
    of it (nothing is kept)."""
    with contextlib.ExitStack() as stack:
        if dry_run:
            if isinstance(path, DatabaseUrl):
                raise UsageError(
                    "--dry-run copies a TinyDB file and cannot copy a PostgreSQL database: "
                    "run it with --db on a file (`rankbot db migrate` makes one)"
                )
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rankbot-dry-")))
            copy = tmp / "dry-run.db.json"
            copy_database(path, copy)
            path = copy
        store = await open_location(path, readonly=readonly)
        try:
            yield store
        finally:
            await store.close()


@contextlib.asynccontextmanager
async def ops_listener(config: Config, bot: Bot) -> AsyncIterator[ops_service.Ops]:
    """`[ops]` for any role that runs `bot`: health, readiness, metrics (the poller's and
    delivery's hooks) and the admin channel (`bot.ops`); start chat adapters inside it so
    readiness waits for their connections."""
    source = bot.poller.source.name

    def admin(ops: ops_service.Ops) -> Admin:
        live = Live(
            kick=bot.delivery.kick,
            readiness=ops.health.readiness,
            next_poll=lambda: bot.poller.next_poll,
            send_test=bot.send_test,
            platforms=lambda: [p for p in ("slack", "discord") if p in ops.health.conditions],
            tokens_held=lambda: tokens_held(bot),
        )

        async def backup(target: Path) -> str:
            return await backup_database(Path(bot.store.location), target)

        return Admin(bot.store, config, source=source, live=live, backup=backup)

    async with ops_service.serve(config.section("ops"), bot.store, utcnow, admin=admin) as ops:
        count_polls(ops, bot.poller, source)
        count_deliveries(ops, bot.delivery, bot.senders)

        async def no_token_held() -> str | None:
            held = tokens_held(bot)
            return "; ".join(f"{which} was refused ({why})" for _, which, why in held) or None

        ops.health.add_check("tokens", no_token_held)
        bot.health = ops.health
        try:
            yield ops
        finally:
            bot.health = None


def tokens_held(bot: Bot) -> list[tuple[str, str, str]]:
    """(platform, which token, why) of every bot token delivery holds as refused."""
    return [
        (scope[0], describe_token(scope), held.reason)
        for scope, held in bot.delivery.tokens.all.items()
    ]


def count_polls(ops: ops_service.Ops, poller: Poller, source: str) -> None:
    """`/metrics` counts `poller`'s ticks of `source` (every role that polls)."""
    poller.on_tick = lambda report: ops.metrics.on_tick(source, report)


def count_deliveries(
    ops: ops_service.Ops, delivery: Delivery | ClaimedDelivery, senders: Iterable[str]
) -> None:
    """`/metrics` counts `delivery`'s outcomes, with a series per platform of `senders` from
    the start (every role that delivers)."""
    delivery.on_outcome = ops.metrics.on_outcome
    ops.metrics.platforms(senders)


@contextlib.asynccontextmanager
async def ops_listener_for_store(config: Config, store: Store) -> AsyncIterator[ops_service.Ops]:
    """`[ops]` for the roles that run beside others on a shared store (`--role web`,
    `poller`, `worker`): health, the store-backed gauges and the admin operations; a poller's
    and a worker's counters are hooked up by `run_part`."""

    def admin(ops: ops_service.Ops) -> Admin:
        async def backup(target: Path) -> str:
            return await backup_database(Path(store.location), target)

        return Admin(store, config, backup=backup)

    async with ops_service.serve(config.section("ops"), store, utcnow, admin=admin) as ops:
        yield ops


async def backup_database(path: Path, target: Path) -> str:
    """A verified copy of the database at `path` (`rankbot db backup`): the embedded store's
    base and journal are copied, then the copy is opened read-only to prove it reads; a
    compaction that ran between the two copies shows as a journal that does not continue
    its base, and the copy is made again."""

    def copy() -> str:
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            copy_database(path, target)
            try:
                TinyStore.open(target, readonly=True).close_now()
            except StoreCorrupt:
                if attempt == 2:
                    raise
                continue
            size = sum(f.stat().st_size for f in target.parent.glob(target.name + "*"))
            return f"{target} ({size / 1e6:.1f} MB, verified)"
        raise AssertionError("unreachable")

    return await asyncio.to_thread(copy)


def chat_services(config: Config, bot: Bot) -> Services:
    """What chat commands read: the bot's store, and the source it runs (a recorded history
    under `--history`, whose `status` then describes the store instead of a poll record)."""
    source = bot.poller.source
    delivery: DeliverySettings = config.section("delivery")
    return Services(
        bot.store,
        config,
        source=source.name,
        keeps_health=not isinstance(source, ReplaySource),
        send_test=bot.send_test,
        resend_within_days=delivery.resend_within_days,
    )


class Adapter(Protocol):
    """A started chat adapter as the composition root handles it."""

    async def problem(self) -> str | None:
        """Why it cannot take commands right now (None: it can), for readiness."""
        ...

    async def close(self) -> None: ...


AdapterT = TypeVar("AdapterT", bound=Adapter)


async def start_adapter(
    name: str,
    start: Awaitable[AdapterT],
    stack: contextlib.AsyncExitStack,
    health: Health | None,
) -> AdapterT:
    """The adapter `start` makes, its shutdown on `stack`; with `health`, readiness
    (`/readyz`) waits for it while it starts and asks it afterwards (`name`: the condition)."""
    if health is not None:
        health.expect(name)
    adapter = await start
    stack.push_async_callback(adapter.close)
    if health is not None:
        health.add_check(name, adapter.problem)
    return adapter


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
    url_env = webhook_url_env(config)
    from bot.platforms.slack.runtime import slack_wanted, start_slack

    health = bot.health
    if slack_wanted(config, environ):
        slack = await start_adapter(
            "slack",
            start_slack(
                config,
                bot.store,
                services=chat_services(config, bot),
                on_command=bot.after_command,
            ),
            stack,
            health,
        )
        senders["slack"] = slack.sender
        started.append("Slack")

    from bot.platforms.discord import runtime as discord_runtime

    discord_wanted = "discord" in config.sections or bool(environ.get(discord_settings.TOKEN_ENV))
    discord_config: discord_settings.DiscordSettings = config.section("discord")
    if discord_wanted:
        discord = await start_adapter(
            "discord",
            discord_runtime.start(
                chat_services(config, bot),
                settings=discord_config,
                on_command=bot.after_command,
                webhook_env=url_env,
                on_fatal=bot.fail,
            ),
            stack,
            health,
        )
        senders["discord"] = discord.sender
        senders["discord-webhook"] = discord.webhook_sender
        started.append("Discord")
    elif any(
        d.subscription.channel.platform == "discord-webhook" for d in config.section("channels")
    ):
        session = await stack.enter_async_context(aiohttp.ClientSession())
        senders["discord-webhook"] = discord_runtime.webhook_sender(
            config.templates_dir, session, discord_config, url_env
        )
        started.append("Discord webhooks")
    return started


# --- the roles of several processes on one database (`rankbot run --role`) -------------------


def shared_store(store: Store, role: str) -> PgStore:
    """The store of a role that runs beside other processes (`require_shared_database`)."""
    from bot.store.postgres import PgStore

    require_shared_database(store, role)
    assert isinstance(store, PgStore), "the only backend several processes share"
    return store


async def run_part(
    name: str,
    config: Config,
    store: Store,
    client: httpx.AsyncClient,
    source: Callable[[], Source],
    stop: asyncio.Event,
    ops: ops_service.Ops | None = None,
) -> None:
    """`--role poller` or `--role worker` (`ROLES`) until `stop` is set: a poller gives up
    its lead on the way out, a worker gives back the posts it had not sent. With `ops` (the
    process's `[ops]` listener) the poller counts its polls and the worker its deliveries in
    `/metrics`, as `--role all` does."""
    role, shared = ROLES[name], shared_store(store, name)
    if role.polls:
        work = run_poller(config, shared, source(), ops)
    else:
        work = run_worker(config, shared, client, ops)
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # raises what stopped it, unless it was the stop
    log.info("rankbot %s stopped", name)


async def run_poller(
    config: Config, store: PgStore, source: Source, ops: ops_service.Ops | None = None
) -> None:
    """Poll, detect, plan and draw charts while this process leads the pollers
    (`bot.engine.leader`); delivery is the workers'."""
    bot = await build_bot(config, store, source, {})
    if ops is not None:
        count_polls(ops, bot.poller, source.name)
    warm_charts()
    log.info("rankbot poller started: standing by for the lead")
    leadership = store.leadership()
    try:
        await poll_as_leader(bot.poller, leadership)
    finally:
        await leadership.resign()


async def run_worker(
    config: Config, store: PgStore, client: httpx.AsyncClient, ops: ops_service.Ops | None = None
) -> None:
    """Deliver the shared outbox: lease due posts, send, record (`bot.delivery.claimed`)."""
    async with contextlib.AsyncExitStack() as stack:
        senders = await worker_senders(config, store, client, stack)
        delivery = worker_delivery(config, store, senders)
        if ops is not None:
            count_deliveries(ops, delivery, senders)
        log.info("rankbot worker %s delivering: %s", delivery.name, ", ".join(sorted(senders)))
        await delivery.serve()


async def worker_senders(
    config: Config,
    store: Store,
    client: httpx.AsyncClient,
    stack: contextlib.AsyncExitStack,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Sender]:
    """Every sender a worker process needs, with no chat connection: the webhook senders,
    and where Slack or Discord is configured, their bot senders over the Web API / REST
    (commands are the web role's; posting needs no socket or gateway). Their shutdown goes on
    `stack`."""
    from bot.platforms.discord import runtime as discord_runtime
    from bot.platforms.slack.runtime import slack_wanted
    from bot.platforms.slack.runtime import worker_sender as slack_worker_sender

    # asked before `config.section` fills in the defaults of a table the file does not have
    discord_wanted = "discord" in config.sections or bool(environ.get(discord_settings.TOKEN_ENV))
    senders = default_senders(config, client, Renderer(config.templates_dir))
    session = await stack.enter_async_context(aiohttp.ClientSession())
    discord_config: discord_settings.DiscordSettings = config.section("discord")
    senders["discord-webhook"] = discord_runtime.webhook_sender(
        config.templates_dir, session, discord_config, webhook_url_env(config)
    )
    if slack_wanted(config, environ):
        senders["slack"] = slack_worker_sender(config, store, environ)
    if discord_wanted:
        sender, close = await discord_runtime.worker_sender(
            config.templates_dir, discord_config, environ.get(discord_settings.TOKEN_ENV)
        )
        stack.push_async_callback(close)
        senders["discord"] = sender
    return senders


def worker_delivery(
    config: Config, store: PgStore, senders: Mapping[str, Sender], **options: Any
) -> ClaimedDelivery:
    """A worker process's delivery loop on the shared outbox, pausing channels that cannot
    take posts as `build_bot` does."""
    return ClaimedDelivery(
        store.outbox,
        store.leases,
        store.rate_windows,
        senders,
        config.section("delivery"),
        on_permanent=store.subscriptions.pause,
        **options,
    )


def require_shared_database(store: Store, role: str) -> None:
    """Roles other than `all` run beside other rankbot processes on one database: the TinyDB
    file has one writer (the `all` process holds it), so they need a networked backend."""
    if ROLES[role].shared_database and isinstance(store, TinyStore):
        hint = (
            'run --role all, with [discord] interactions = "http" to answer Discord over HTTP'
            if ROLES[role].chat == "http"
            else "set RANKBOT_DATABASE_URL or [store] url, or run --role all"
        )
        raise UsageError(
            f"--role {role} needs a database several processes share (PostgreSQL); the TinyDB "
            f"file has one writer: {hint}"
        )


@dataclass
class WebEndpoints:
    """What `start_web` started: the platforms' names and the ports they listen on."""

    started: list[str] = field(default_factory=list)
    slack_port: int | None = None
    discord_port: int | None = None


async def start_web(
    config: Config,
    store: Store,
    stack: contextlib.AsyncExitStack,
    environ: Mapping[str, str] = os.environ,
    health: Health | None = None,
) -> WebEndpoints:
    """`rankbot run --role web`: only the HTTP endpoints, on `store`: Slack in HTTP mode and
    Discord's Interactions Endpoint URL (logged in over REST, no gateway), each as
    configured; their shutdown goes on `stack`; with `health` (the `[ops]` listener's),
    readiness waits for each endpoint to listen. Nothing is polled or delivered here: a
    command that enqueues (a subscription's confirmation) writes to the store, the poller
    releases it at its next tick (at least every 5 s: `bot.engine.leader`) and the workers
    send it. Several web processes on one database answer alike (behind any load balancer)."""
    from bot.platforms.slack.runtime import slack_wanted, start_slack

    web = WebEndpoints()
    services = Services(store, config)
    if slack_wanted(config, environ):
        slack_config: slack_settings.SlackSettings = config.section("slack")
        if slack_config.mode != "http":
            raise UsageError(
                '--role web serves Slack over HTTP: set [slack] mode = "http" (Socket Mode '
                "connects out from a process with --role all)"
            )
        slack = await start_adapter(
            "slack", start_slack(config, store, services=services), stack, health
        )
        web.slack_port = slack.port
        web.started.append("Slack (HTTP)")

    from bot.platforms.discord import runtime as discord_runtime

    if "discord" in config.sections or environ.get(discord_settings.TOKEN_ENV):
        discord_config: discord_settings.DiscordSettings = config.section("discord")
        discord = await start_adapter(
            "discord",
            discord_runtime.start(services, settings=replace(discord_config, interactions="http")),
            stack,
            health,
        )
        web.discord_port = discord.interactions.port if discord.interactions else None
        web.started.append("Discord (interactions endpoint)")
    if not web.started:
        raise UsageError(
            '--role web has nothing to serve: configure [slack] mode = "http" and/or '
            "[discord] public_key (see docs/discord-interactions.md)"
        )
    return web
