"""Starting and stopping the Slack adapter inside rankbot's one asyncio loop.

`start_slack(config, store)` returns a `SlackRuntime` once Slack is reachable: the Bolt app
connected over Socket Mode (`AsyncSocketModeHandler.connect_async`, which runs its receiver as
tasks of the current loop) or served over HTTP (an aiohttp `AppRunner` on `[slack] host:port`).
`AsyncApp.start()` is never used: it would take over the loop the poller and delivery run in.
The runtime's `sender` (platform `slack`) goes into delivery's senders (`slack-webhook`
channels need no app: `bot.platforms.slack.webhook`); `close()` disconnects.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utcnow
from bot.commands.execute import Services
from bot.config.file import Config
from bot.errors import ExitCode, RankbotError
from bot.platforms.slack.app import SlashCommands, build_app
from bot.platforms.slack.blocks import slack_renderer
from bot.platforms.slack.installation import StoreInstallationStore
from bot.platforms.slack.sender import ClientFor, SlackSender, error_code
from bot.platforms.slack.settings import (
    APP_TOKEN_ENV,
    BOT_TOKEN_ENV,
    SIGNING_SECRET_ENV,
    SlackSecrets,
    SlackSettings,
)
from bot.store.protocols import Store

log = logging.getLogger("rankbot.slack")


class SlackStartError(RankbotError):
    """Slack cannot start: a missing environment variable (exit code 2), Slack unreachable
    (6), or a token Slack refuses (7); the text says which."""


@dataclass
class SlackRuntime:
    app: AsyncApp
    sender: SlackSender
    settings: SlackSettings
    port: int | None = None
    """HTTP mode: the port actually bound (useful with `port = 0`)."""
    _closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    _socket: Any = None
    """Socket Mode: slack_sdk's socket client (whether it is connected is `problem()`)."""

    async def problem(self) -> str | None:
        """Why Slack cannot be reached right now (None: connected or listening), for
        readiness (`/readyz`)."""
        if self._socket is None:
            return None
        connected: bool = await self._socket.is_connected()
        return None if connected else "Socket Mode is not connected (reconnecting)"

    async def close(self) -> None:
        while self._closers:
            await self._closers.pop()()


def slack_wanted(config: Config, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `rankbot run` should start Slack: a `[slack]` table, or a Slack secret set."""
    return "slack" in config.sections or any(
        environ.get(name) for name in (BOT_TOKEN_ENV, APP_TOKEN_ENV, SIGNING_SECRET_ENV)
    )


async def start_slack(
    config: Config,
    store: Store,
    *,
    secrets: SlackSecrets | None = None,
    services: Services | None = None,
    on_command: Callable[[], Awaitable[None]] | None = None,
    clock: Clock = utcnow,
) -> SlackRuntime:
    """Connect (Socket Mode) or listen (HTTP mode) in the running loop; see the module doc.

    `secrets` default to the environment. `on_command` runs after each `/rankbot` command:
    wire it to `Delivery.kick` so a `resume` takes effect at once.
    """
    settings: SlackSettings = config.section("slack")
    secrets = secrets or SlackSecrets.from_env()
    missing = secrets.missing(settings)
    if missing:
        raise SlackStartError(
            f"Slack ({settings.mode} mode) needs the environment variable(s) "
            f"{', '.join(missing)}: see docs/slack.md"
        )
    renderer = slack_renderer(config.templates_dir)
    commands = SlashCommands(
        services=services or Services(store=store, config=config),
        settings=settings,
        renderer=renderer,
        clock=clock,
        on_command=on_command,
    )
    app = build_app(settings, secrets, commands)
    runtime = SlackRuntime(
        app=app,
        sender=SlackSender(_client_for(app, settings, store), renderer, clock=clock),
        settings=settings,
    )
    if not settings.oauth:
        await _check_token(app.client)
    if settings.mode == "socket":
        await _checked(
            app.client.apps_connections_open(app_token=secrets.app_token or ""),
            "SLACK_APP_TOKEN",
            settings.api_url,
        )
        handler = AsyncSocketModeHandler(app, secrets.app_token)
        connect: Callable[[], Awaitable[None]] = handler.connect_async  # untyped in slack_bolt
        await _checked(connect(), "SLACK_APP_TOKEN", settings.api_url)
        runtime._closers.append(handler.close_async)
        runtime._socket = handler.client
        log.info("slack: connected over Socket Mode")
    else:
        runner = web.AppRunner(app.web_app(path=settings.path, port=settings.port))
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        runtime._closers.append(runner.cleanup)
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        runtime.port = sockets[0].getsockname()[1] if sockets else settings.port
        log.info("slack: listening on %s:%s%s", settings.host, runtime.port, settings.path)
    return runtime


async def _check_token(client: AsyncWebClient) -> None:
    """Fail at start, with a clear message, rather than at the first alert."""
    auth = await _checked(client.auth_test(), "SLACK_BOT_TOKEN", client.base_url)
    log.info("slack: workspace %s as @%s", auth.get("team"), auth.get("user"))


async def _checked(call: Awaitable[Any], variable: str, api_url: str) -> Any:
    """The answer of a start-up call, or `SlackStartError` naming the token or the server.

    Checked before Socket Mode connects because its client retries a refused app token
    forever, which would hang `rankbot run` instead of saying what is wrong.
    """
    try:
        return await call
    except SlackApiError as exc:
        raise SlackStartError(
            f"Slack refused {variable} ({error_code(exc)})", exit_code=ExitCode.CREDENTIALS
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise SlackStartError(
            f"cannot reach Slack at {api_url} ({type(exc).__name__})", exit_code=ExitCode.NETWORK
        ) from None


def worker_sender(
    config: Config, store: Store, environ: Mapping[str, str] = os.environ
) -> SlackSender:
    """Slack's sender for a `--role worker` process: Web API calls only, no socket and no
    endpoint (the web role answers commands). One workspace: `SLACK_BOT_TOKEN`; OAuth: each
    workspace's installed token from the shared database."""
    settings: SlackSettings = config.section("slack")
    renderer = slack_renderer(config.templates_dir).warm("slack")
    if settings.oauth:
        return SlackSender(_installed_clients(settings, store), renderer)
    token = SlackSecrets.from_env(environ).bot_token
    if not token:
        raise SlackStartError(
            f"a worker delivering to Slack needs the environment variable {BOT_TOKEN_ENV}: "
            "see docs/slack.md"
        )
    client = AsyncWebClient(token=token, base_url=settings.api_url)

    async def single(team_id: str) -> AsyncWebClient | None:
        return client

    return SlackSender(single, renderer)


def _client_for(app: AsyncApp, settings: SlackSettings, store: Store) -> ClientFor:
    """One workspace: the app's client. OAuth: a client with the workspace's installed token."""
    if not settings.oauth:

        async def single(team_id: str) -> AsyncWebClient | None:
            return app.client

        return single
    return _installed_clients(settings, store)


def _installed_clients(settings: SlackSettings, store: Store) -> ClientFor:
    """A client with the workspace's installed token (OAuth), None for a workspace that has
    no installation (any more)."""
    installations = StoreInstallationStore(store)

    async def installed(team_id: str) -> AsyncWebClient | None:
        bot = await installations.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            return None
        return AsyncWebClient(token=bot.bot_token, base_url=settings.api_url)

    return installed
