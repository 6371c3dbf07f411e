"""The Bolt app: two slash commands that hand the typed line to the platform-free core, the
buttons on alerts and notices (each runs a command line the same way), and the App Home tab.

`/top [N] [period] [public]` and `/rankbot <subcommand …>` (names configurable). Slack wants an
acknowledgement within 3 s:

- `/top` reads the store only, so the answer itself is the acknowledgement (in Socket Mode
  the envelope ack, in HTTP mode the response body): ephemeral, or in the channel with
  `public` (the one place the adapter reads a word: where an answer goes is transport).
- `/rankbot` is acknowledged at once, empty; then the caller's rights are looked up
  (`users.info`: admins and owners, plus `[slack] managers`, or everyone when
  `everyone_can_manage`), the core runs, and the answer goes to the `response_url`.

A button press (`Top 10` and `Mute 1 day` on alerts, `Resume` on a pause notice) is
acknowledged at once, then runs the line it stands for (`blocks.BUTTONS`) exactly as the
typed command would, permission check included; the answer goes to the presser only. The
App Home tab lists the workspace's subscribed channels and their settings; it is published
when someone opens it (`app_home_opened`; a scan of the subscriptions, which a person's
click can afford).

What a command does, which ones need rights and what a refusal says are the core's business
(`bot.commands.execute`); this module only says who the caller is, in which language they
read (`users.info` with `include_locale`) and how one gets the right.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utcnow
from bot.commands.execute import Services, changes_subscription, execute
from bot.commands.parse import USAGE
from bot.core.messages import Caller, ChannelRef, CommandContext, Reply
from bot.i18n import lang_or_default, supported
from bot.platforms.slack.blocks import (
    BUTTONS,
    MAX_FALLBACK,
    blocks_or_none,
    home_blocks,
    mrkdwn_escape,
    reply_blocks,
)
from bot.platforms.slack.installation import (
    StoreInstallationStore,
    StoreStateStore,
    add_uninstall_listeners,
)
from bot.platforms.slack.sender import error_code, upload
from bot.platforms.slack.settings import SlackSecrets, SlackSettings
from bot.render.templates import Renderer

log = logging.getLogger("rankbot.slack")

LOCALE_WAIT = 1.0
"""Seconds `/top` waits for the caller's locale before answering in the channel's language
(its answer is the acknowledgement, due within Slack's 3 s)."""


def reply_payload(renderer: Renderer, reply: Reply, *, public: bool = False) -> dict[str, Any]:
    """A core `Reply` as a slash-command answer; errors always stay with the caller."""
    in_channel = reply.ok and (public or not reply.ephemeral)
    return {
        "text": mrkdwn_escape(reply.text)[:MAX_FALLBACK],
        "blocks": blocks_or_none(lambda: reply_blocks(renderer, reply), f"reply {reply.view}"),
        "response_type": "in_channel" if in_channel else "ephemeral",
    }


@dataclass(frozen=True, slots=True)
class SlashWords:
    """`bot.core.messages.Syntax` for Slack: the core's words after the app's slash command
    (`/rankbot mute 2h`), `top` after its own (`/top 5 week`), so an example can be copied
    and sent as it is."""

    command: str
    top_command: str

    def _prefix(self, name: str) -> str:
        return self.top_command if name == "top" else self.command

    def usage(self, command: str) -> str | None:
        usage = USAGE.get(command)
        if usage is None:
            return None
        words = usage.usage.split(" ", 1)[1:] if command == "top" else [usage.usage]
        return " ".join([self._prefix(command), *words])

    def example(self, line: str) -> str:
        words = line.split()
        if not words:
            return self.command
        if words[0] == "top":
            return " ".join([self.top_command, *words[1:]])
        return f"{self.command} {line}"


def _channel_of(body: dict[str, Any]) -> tuple[str, str]:
    """(team id, channel id) of an interaction payload."""
    team = body.get("team") or {}
    channel = body.get("channel") or (body.get("container") or {})
    return str(team.get("id", "")), str(channel.get("id") or channel.get("channel_id") or "")


@dataclass
class SlashCommands:
    """The two listeners; `on_command` runs after a `/rankbot` command that changed the
    channel's subscription (the composition root enqueues its confirmation and wakes
    delivery)."""

    services: Services
    settings: SlackSettings
    renderer: Renderer
    clock: Clock = utcnow
    on_command: Callable[[], Awaitable[None]] | None = None

    def _context(
        self, command: dict[str, Any], caller: Caller, lang: str | None = None
    ) -> CommandContext:
        channel = ChannelRef("slack", command.get("team_id", ""), command.get("channel_id", ""))
        syntax = SlashWords(self.settings.command, self.settings.top_command)
        return CommandContext(
            channel=channel, caller=caller, now=self.clock(), lang=lang, syntax=syntax
        )

    async def top(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        words = command.get("text", "").split()
        public = bool(words) and words[-1].lower() == "public"
        if public:
            words.pop()
        caller = Caller(user_id=command.get("user_id", ""), name=command.get("user_name", ""))
        # the answer is the acknowledgement (3 s): the caller's language only if Slack says
        # it quickly, else the channel's
        try:
            user = await asyncio.wait_for(self._user(client, caller.user_id), LOCALE_WAIT)
        except TimeoutError:
            user = {}
        ctx = self._context(command, caller, supported(user.get("locale")))
        reply = await self._execute(" ".join(["top", *words]), ctx)
        await ack(**reply_payload(self.renderer, reply, public=public))

    async def rankbot(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user = await self._user(client, command.get("user_id", ""))
        caller = self.caller_from(user, command)
        line = command.get("text", "").strip() or "help"
        ctx = self._context(command, caller, supported(user.get("locale")))
        reply = await self._execute(line, ctx)
        await respond(**reply_payload(self.renderer, reply))
        if reply.attachments:
            await self._post_files(client, command, reply, respond)
        if self.on_command is not None and reply.ok and changes_subscription(line):
            await self.on_command()

    async def button(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """A press on one of rankbot's buttons (`blocks.BUTTONS`): the command line it
        stands for, through the same core, with the same permission checks as if typed;
        the answer goes to the presser only."""
        await ack()
        action = (body.get("actions") or [{}])[0]
        line = BUTTONS.get(str(action.get("action_id")))
        if line is None:
            return
        team, channel = _channel_of(body)
        user_id = str((body.get("user") or {}).get("id", ""))
        command = {"team_id": team, "channel_id": channel, "user_id": user_id}
        user = await self._user(client, user_id)
        ctx = self._context(command, self.caller_from(user, command), supported(user.get("locale")))
        reply = await self._execute(line, ctx)
        await respond(**reply_payload(self.renderer, reply), replace_original=False)
        if self.on_command is not None and reply.ok and changes_subscription(line):
            await self.on_command()

    async def home(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The App Home tab: the workspace's subscribed channels and their settings, in the
        reader's language, published whenever someone opens it."""
        user_id = str(event.get("user", ""))
        team = str(body.get("team_id", ""))
        user = await self._user(client, user_id)
        subs = await self.services.store.subscriptions.in_workspace("slack", team)
        blocks = home_blocks(
            self.renderer,
            subs,
            self.clock(),
            command=self.settings.command,
            lang=lang_or_default(user.get("locale")),
        )
        try:
            await client.views_publish(user_id=user_id, view={"type": "home", "blocks": blocks})
        except SlackApiError as exc:
            log.warning("views.publish for %s failed (%s)", user_id, error_code(exc))

    async def _post_files(
        self,
        client: AsyncWebClient,
        command: dict[str, Any],
        reply: Reply,
        respond: AsyncRespond,
    ) -> None:
        """Charts go into the channel: Slack has no ephemeral files. A failure is told to
        the caller (typically a private channel the bot was not invited to)."""
        channel = command.get("channel_id", "")
        try:
            await upload(client, channel, reply.attachments)
        except (SlackApiError, SlackRequestError, aiohttp.ClientError, TimeoutError) as exc:
            why = error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("chart upload to %s failed (%s)", channel, why)
            await respond(
                text=f"The chart could not be posted here ({why}): `/invite` rankbot, then retry.",
                response_type="ephemeral",
            )

    async def _execute(self, line: str, ctx: CommandContext) -> Reply:
        try:
            return await execute(line, ctx, self.services)
        except Exception:
            log.exception("command %r in %s failed", line.split(" ", 1)[0], ctx.channel.key)
            return Reply("Something went wrong on rankbot's side; it was logged.", ok=False)

    async def _user(self, client: AsyncWebClient, user_id: str) -> dict[str, Any]:
        """`users.info` with the user's locale; empty when Slack cannot say (then nobody is
        an admin and the channel's language is used)."""
        try:
            answer = await client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:  # e.g. `missing_scope` (users:read)
            log.warning("users.info for %s failed (%s)", user_id, error_code(exc))
            return {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info for %s failed (%s)", user_id, type(exc).__name__)
            return {}
        user = answer.get("user")
        return user if isinstance(user, dict) else {}

    async def caller(self, client: AsyncWebClient, command: dict[str, Any]) -> Caller:
        """Who typed the command, and whether they may change this channel's alerts."""
        return self.caller_from(await self._user(client, command.get("user_id", "")), command)

    def caller_from(self, user: dict[str, Any], command: dict[str, Any]) -> Caller:
        """The caller from `users.info`: admins and owners may manage, plus `[slack]
        managers`, or everyone with `everyone_can_manage`."""
        user_id, name = command.get("user_id", ""), command.get("user_name", "")
        rule = self.manage_rule()
        listed = self.settings.everyone_can_manage or user_id in self.settings.managers
        admin = any(user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner"))
        return Caller(
            user_id, user.get("real_name") or name, can_manage=listed or admin, manage_rule=rule
        )

    def manage_rule(self) -> str:
        """Who may change alerts here, for the core to quote in a refusal."""
        if self.settings.everyone_can_manage:
            return "Everyone in this workspace can manage rankbot's alerts."
        listed = " and the members listed in rankbot's config" if self.settings.managers else ""
        return (
            f"Workspace admins and owners{listed} can manage rankbot's alerts; the bot's "
            "operator can let everyone (`everyone_can_manage` in the `[slack]` config)."
        )


def build_app(
    settings: SlackSettings,
    secrets: SlackSecrets,
    commands: SlashCommands,
) -> AsyncApp:
    """The Bolt app for `settings.mode`, with its Web API client on `settings.api_url`.

    One workspace: the bot token from the environment. OAuth (`client_id` set, HTTP mode):
    tokens per workspace from the installation store in rankbot's database.
    """
    store = commands.services.store
    client = AsyncWebClient(
        token=None if settings.oauth else secrets.bot_token, base_url=settings.api_url
    )
    installations = StoreInstallationStore(store) if settings.oauth else None
    oauth = None
    if installations is not None:
        oauth = AsyncOAuthSettings(
            client_id=settings.client_id,
            client_secret=secrets.client_secret,
            scopes=list(settings.scopes),
            user_scopes=[],
            install_path=settings.install_path,
            # straight to Slack's authorize URL, no intermediate "Add to Slack" page
            install_page_rendering_enabled=False,
            redirect_uri_path=settings.redirect_path,
            redirect_uri=(
                settings.public_url + settings.redirect_path if settings.public_url else None
            ),
            installation_store=installations,
            state_store=StoreStateStore(store),
        )
    app = AsyncApp(
        name=settings.app_name,
        client=client,
        signing_secret=secrets.signing_secret or "",
        installation_store=installations,
        oauth_settings=oauth,
        logger=logging.getLogger("rankbot.slack.bolt"),
    )
    app.command(settings.top_command)(commands.top)
    app.command(settings.command)(commands.rankbot)
    for action_id in BUTTONS:
        app.action(action_id)(commands.button)
    app.event("app_home_opened")(commands.home)
    add_uninstall_listeners(app, store, installations, clock=commands.clock)
    return app
