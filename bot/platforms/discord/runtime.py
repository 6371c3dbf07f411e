"""Running the Discord side inside the bot's one asyncio loop.

`await start(services)` logs in over REST, syncs the commands if their schema changed, and
starts the gateway connection (`client.connect()`, which is `client.start()` after the login)
as a task of the running loop; it never calls `client.run()`, which would take the loop over.
With `[discord] interactions = "http"` it connects no gateway and serves the Interactions
Endpoint instead (`interactions.serve`), with the same client and command tree.
It returns a `DiscordRuntime` whose `sender` and `webhook_sender` plug into delivery
(`senders["discord"]`, `senders["discord-webhook"]`) and whose `close()` shuts everything down.

The client asks for no intents at all (`Intents.none()`): app commands arrive as interactions
whatever the intents, and alerts are plain REST posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.clock import Clock, utcnow
from bot.commands.execute import Services
from bot.delivery.webhook_urls import UrlEnv, env_name
from bot.errors import ExitCode, RankbotError
from bot.platforms.discord import interactions
from bot.platforms.discord.commands import command_tree
from bot.platforms.discord.embeds import discord_renderer
from bot.platforms.discord.endpoints import apply_endpoints as apply_endpoints
from bot.platforms.discord.interactions import InteractionsServer
from bot.platforms.discord.sender import DiscordSender, DiscordWebhookSender
from bot.platforms.discord.settings import TOKEN_ENV, DiscordSettings, token_from_env
from bot.platforms.discord.sync import sync_if_changed

log = logging.getLogger("rankbot.discord")


class DiscordUnavailable(RankbotError):
    """Discord cannot be started: no token (exit code 2), Discord unreachable (6), or the
    token refused (7); the text says why."""


async def login(client: discord.Client, token: str, api_base: str) -> None:
    """`client.login`, with its failures translated: a refused token and an unreachable
    Discord become a `DiscordUnavailable` that says which, never a raw traceback."""
    try:
        await client.login(token)
    except discord.LoginFailure as exc:
        await client.close()
        raise DiscordUnavailable(
            f"Discord refused the bot token in {TOKEN_ENV}", exit_code=ExitCode.CREDENTIALS
        ) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await client.close()
        raise DiscordUnavailable(
            f"cannot reach Discord at {api_base} ({type(exc).__name__})",
            exit_code=ExitCode.NETWORK,
        ) from exc


def new_client(
    settings: DiscordSettings, client_options: dict[str, Any] | None = None
) -> discord.Client:
    """The bot's client. Always discord.py's `AutoShardedClient`: with `[discord] shards =
    "auto"` it asks Discord how many shards the bot needs (GET /gateway/bot) at each connect
    and runs them all, so a bot that grows past 2,500 servers, where Discord requires
    sharding, needs no change; with one shard it is the plain client plus that one request.
    No intents: app commands arrive as interactions whatever the intents, and alerts are
    plain REST posts."""
    return discord.AutoShardedClient(
        intents=discord.Intents.none(),
        shard_count=settings.shards,
        max_ratelimit_timeout=settings.max_ratelimit_wait,
        **(client_options or {}),
    )


def webhook_sender(
    templates_dir: Path | None,
    session: aiohttp.ClientSession,
    settings: DiscordSettings,
    url_env: UrlEnv = env_name,
) -> DiscordWebhookSender:
    """The sender of `discord-webhook` channels; it needs no bot token, so a setup with only
    webhooks can use it without `start` (the caller closes `session`). `url_env` names each
    channel's URL variable (`bot.delivery.webhook_urls`)."""
    apply_endpoints(settings)
    renderer = discord_renderer(templates_dir).warm("discord")
    return DiscordWebhookSender(session, renderer, url_env=url_env)


FATAL_CLOSES: dict[int, str] = {
    4004: f"the bot token was refused (reset or revoked?): put the current one in {TOKEN_ENV}",
    4010: "an invalid shard was sent: check the sharding settings",
    4011: "the bot is in too many servers for one connection: sharding is required",
    4012: "an invalid gateway API version was sent: upgrade rankbot",
    4013: "invalid intents were sent: upgrade rankbot",
    4014: "a privileged intent is asked for but not enabled in the Developer Portal",
}
"""Gateway close codes after which discord.py stops for good (it resumes after any other,
4000 or a network drop included), with what the operator must fix."""

OnFatal = Callable[[BaseException], None]


def gateway_failure(exc: BaseException) -> DiscordUnavailable:
    """The one line (and exit code) for a gateway connection that ended for good: a bot that
    keeps running with its commands dead is worse than one that stops and says why."""
    code = getattr(exc, "code", None)
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        code = 4014
    if isinstance(code, int) and code in FATAL_CLOSES:
        return DiscordUnavailable(
            f"Discord closed the gateway for good ({code}): {FATAL_CLOSES[code]}",
            exit_code=ExitCode.CREDENTIALS,
        )
    return DiscordUnavailable(
        f"the Discord gateway stopped ({type(exc).__name__}"
        + (f" {code}" if isinstance(code, int) else "")
        + "): commands cannot be answered; restart rankbot",
        exit_code=ExitCode.NETWORK,
    )


def _watch_gateway(on_fatal: OnFatal | None) -> Callable[[asyncio.Task[None]], None]:
    """discord.py reconnects by itself; the task only ends on close or a fatal error, which
    goes to `on_fatal` (the composition root stops the bot with it)."""

    def done(task: asyncio.Task[None]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is None:
            return
        error = gateway_failure(exc)
        log.error("%s", error)
        if on_fatal is not None:
            on_fatal(error)

    return done


@dataclass
class DiscordRuntime:
    client: discord.Client
    tree: app_commands.CommandTree
    sender: DiscordSender
    webhook_sender: DiscordWebhookSender
    gateway: asyncio.Task[None] | None
    """The gateway connection; it reconnects by itself and ends only on a fatal error. None
    when interactions arrive over HTTP (`[discord] interactions = "http"`)."""
    synced: bool
    """Whether this start registered the commands (their schema had changed)."""
    _session: aiohttp.ClientSession
    interactions: InteractionsServer | None = None
    """The Interactions Endpoint, when interactions arrive over HTTP."""

    async def problem(self) -> str | None:
        """Why Discord commands cannot arrive right now (None: the gateway is connected, or
        interactions arrive over HTTP and its endpoint listens), for readiness (`/readyz`)."""
        if self.gateway is None:
            return None if self.interactions is not None else "no Discord connection"
        if self.gateway.done():
            return "the Discord gateway stopped (see the log)"
        if not self.client.is_ready():
            return "the Discord gateway is not connected yet (no READY)"
        if isinstance(self.client, discord.AutoShardedClient):
            shards = self.client.shards.items()
            closed = sorted(i for i, shard in shards if shard.is_closed())
            if closed:
                return f"Discord gateway shard(s) {closed} reconnecting"
        return None

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until the gateway said READY (interactions arrive from then on); at once when
        they arrive over HTTP."""
        if self.gateway is not None:
            await asyncio.wait_for(self.client.wait_until_ready(), timeout)

    async def close(self) -> None:
        if self.interactions is not None:
            await self.interactions.close()
        await self.client.close()
        if self.gateway is not None:
            self.gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
                await self.gateway
        await self._session.close()


async def worker_sender(
    templates_dir: Path | None, settings: DiscordSettings, token: str | None = None
) -> tuple[DiscordSender, Callable[[], Awaitable[None]]]:
    """Discord's sender for a `--role worker` process, and how to close it: logged in over
    REST only (posting needs no gateway: `DiscordSender` posts to a partial messageable), so
    any number of workers deliver for one bot without a gateway connection each."""
    token = token or token_from_env()
    if not token:
        raise DiscordUnavailable(f"a worker delivering to Discord needs {TOKEN_ENV}, the bot token")
    apply_endpoints(settings)
    client = new_client(settings, None)
    await login(client, token, settings.api_base)
    return DiscordSender(client, discord_renderer(templates_dir).warm("discord")), client.close


async def start(
    services: Services,
    *,
    token: str | None = None,
    settings: DiscordSettings | None = None,
    on_command: Callable[[], Awaitable[None]] | None = None,
    clock: Clock | None = None,
    client_options: dict[str, Any] | None = None,
    webhook_env: UrlEnv = env_name,
    on_fatal: OnFatal | None = None,
) -> DiscordRuntime:
    """Log in, sync the commands if needed, connect the gateway as a task of this loop.

    `token` defaults to `$DISCORD_BOT_TOKEN`; `on_command` is called after a command changed
    a subscription (the composition root wires it to `Delivery.kick`, so `/resume` takes
    effect at once); `client_options` go to `discord.Client` (tests pass
    `guild_ready_timeout`); `webhook_env` names each `discord-webhook` channel's URL variable;
    `on_fatal` gets a `DiscordUnavailable` when the gateway closes for good (4004, 4010–4014).
    """
    settings = settings or services.config.section("discord")
    token = token or token_from_env()
    if not token:
        raise DiscordUnavailable(f"set {TOKEN_ENV} to the bot token to use Discord")
    apply_endpoints(settings)
    renderer = discord_renderer(services.config.templates_dir)
    client = new_client(settings, client_options)
    tree = command_tree(client, services, renderer, clock=clock or utcnow, on_command=on_command)
    synced = False
    await login(client, token, settings.api_base)
    try:
        if settings.sync_on_start:
            synced = await sync_if_changed(tree, settings.dev_guild_id, services.store)
    except BaseException:
        await client.close()
        raise
    if synced:
        scope = f"server {settings.dev_guild_id}" if settings.dev_guild_id else "globally"
        log.info("command schema changed: synced %s", scope)
    gateway: asyncio.Task[None] | None = None
    endpoint: InteractionsServer | None = None
    if settings.serves_http:
        try:
            endpoint = await interactions.serve(settings, client, tree)
        except BaseException:
            await client.close()
            raise
    else:
        gateway = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        gateway.add_done_callback(_watch_gateway(on_fatal))
    session = aiohttp.ClientSession()

    return DiscordRuntime(
        interactions=endpoint,
        client=client,
        tree=tree,
        sender=DiscordSender(client, renderer),
        webhook_sender=webhook_sender(
            services.config.templates_dir, session, settings, webhook_env
        ),
        gateway=gateway,
        synced=synced,
        _session=session,
    )
