"""Discord app commands: each one turns its options into a command line for the core.

Discord never decides what a command does: `/top n:5 period:week` becomes the line
`top 5 week` for `bot.commands.execute`, exactly what a Slack user or the console would type,
and the `Reply` becomes an embed. The adapter's only decisions are Discord's own:

- Who may manage alerts: the commands the core marks `manage` carry
  `default_member_permissions` Manage Channels and are server-only, but a server admin can
  override that default, so the caller's right is decided again here from
  `interaction.permissions` (the member's permissions in this channel) and the core refuses
  callers without it.
- Ephemeral: replies to subscription commands only ever reach the caller; other replies
  follow the core's `Reply.ephemeral`.
- Deferring: `/model` and `/countries` read a stream's whole stored history, which grows
  with every poll, so they acknowledge first (Discord allows 3 s) and edit the answer in.
- Option values are single words for the core's line (whitespace removed, lists joined by
  commas), so no option can smuggle in another argument.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from bot.clock import Clock, utcnow
from bot.commands import parse as command_parse
from bot.commands.execute import Services, error_reply, execute, reply_language
from bot.core.local_time import WEEKDAYS
from bot.core.messages import Caller, ChannelRef, CommandContext, Reply
from bot.core.model import PERIODS
from bot.core.subscription import SUBSCRIBABLE_KINDS
from bot.core.text import T
from bot.i18n import DEFAULT, languages, supported
from bot.platforms.discord.embeds import files_of, reply_parts
from bot.platforms.discord.localizations import N_
from bot.platforms.discord.syntax import SlashSyntax
from bot.render.charts import default_n
from bot.render.templates import Renderer

log = logging.getLogger("rankbot.discord")

PLATFORM = "discord"
DM_WORKSPACE = "dm"
MANAGE_RULE = (
    "On Discord that is the Manage Channels permission in this channel "
    "(a server admin can grant it)."
)
DEFERRED = frozenset({"model", "countries", "chart"})
PUBLIC = frozenset({"chart"})
"""Deferred answers whose result the whole channel sees (a chart someone asked for)."""
CHART_CHOICES = [app_commands.Choice(name=k, value=k) for k in ("trend", "countries", "ranks")]
"""Commands that read a stream's whole history: acknowledged first, answered by an edit."""
AUTOCOMPLETE_MAX = 25

KIND_CHOICES = [app_commands.Choice(name="all", value="all")] + [
    app_commands.Choice(name=k, value=k) for k in SUBSCRIBABLE_KINDS
]
PERIOD_CHOICES = [app_commands.Choice(name=p, value=p) for p in PERIODS]


BOT_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "attach_files")
"""What rankbot needs in a channel to post alerts (the invite asks for exactly these)."""
PERMISSION_NAMES = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
}


def missing_bot_permissions(interaction: discord.Interaction) -> list[str]:
    """Discord's names of the permissions the bot lacks in the interaction's channel
    (`app_permissions`, computed by Discord for this channel)."""
    granted = interaction.app_permissions
    return [PERMISSION_NAMES[p] for p in BOT_PERMISSIONS if not getattr(granted, p)]


def word(value: object) -> str:
    """One argument of the core's line: whitespace removed so it stays one word."""
    return "".join(str(value).split())


def words_list(value: str) -> str:
    """A comma-separated list option (`openai/*, x-ai/*` → `openai/*,x-ai/*`)."""
    return ",".join(part for part in str(value).replace(",", " ").split())


class CommandRunner:
    """Runs one interaction through the core and answers it; shared by every command."""

    def __init__(
        self,
        services: Services,
        renderer: Renderer,
        *,
        clock: Clock = utcnow,
        on_command: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.services = services
        self.renderer = renderer
        self._clock = clock
        self._on_command = on_command
        self.syntax: SlashSyntax | None = None
        """Set by `build_tree` once the commands exist: help shows their options."""

    def context(self, interaction: discord.Interaction) -> CommandContext:
        guild = str(interaction.guild_id) if interaction.guild_id else DM_WORKSPACE
        channel = ChannelRef(PLATFORM, guild, str(interaction.channel_id))
        can_manage = interaction.guild_id is not None and interaction.permissions.manage_channels
        caller = Caller(
            user_id=str(interaction.user.id),
            name=interaction.user.name,
            can_manage=can_manage,
            manage_rule=MANAGE_RULE,
        )
        lang = supported(interaction.locale.value)
        # help shows the command and option names the caller's client shows
        syntax = self.syntax.in_language(lang or DEFAULT) if self.syntax is not None else None
        return CommandContext(channel, caller, self._clock(), lang=lang, syntax=syntax)

    async def run(
        self, interaction: discord.Interaction, line: str, *, public: bool = False
    ) -> None:
        name = command_parse.split(line).name
        manage = command_parse.USAGE[name].manage or name == "subscriptions"
        deferred = name in DEFERRED
        if deferred:
            await interaction.response.defer(ephemeral=name not in PUBLIC, thinking=True)
        reply = await execute(line, self.context(interaction), self.services)
        if command_parse.USAGE[name].manage and reply.ok and self._on_command is not None:
            await self._on_command()
        ephemeral = manage or (reply.ephemeral and not (public and reply.ok))
        await self.answer(interaction, reply, ephemeral=ephemeral, deferred=deferred)

    async def refuse_missing(self, interaction: discord.Interaction, missing: list[str]) -> None:
        """`/subscribe` in a channel the bot cannot post to: say which permissions to grant
        instead of subscribing a channel whose every alert would fail."""
        ctx = await reply_language(self.context(interaction), self.services)
        problem = T(
            "rankbot cannot post in this channel: it lacks %(missing)s here. Grant them to "
            "rankbot's role in the channel settings (Permissions), then subscribe again.",
            missing=", ".join(missing),
        )
        reply = error_reply(self.services, ctx, problem, "subscribe")
        await self.answer(interaction, reply, ephemeral=True, deferred=False)

    async def answer(
        self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool, deferred: bool
    ) -> None:
        embed = reply_parts(self.renderer, reply).to_embed()
        files = files_of(reply.attachments)
        if deferred:
            await interaction.edit_original_response(
                embed=embed, attachments=files, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.response.send_message(
            embed=embed,
            files=files,
            ephemeral=ephemeral,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def model_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Stored models whose id or name contains what was typed so far, newest data first."""
        history = self.services.store.history
        typed = current.strip().lower()
        names: dict[str, str] = {}
        for source, period in await history.streams():
            latest = await history.latest_snapshot(source, period)
            for entry in latest.entries if latest is not None else ():
                names.setdefault(entry.model, entry.name)
        for model in sorted(await history.known_models(self.services.source)):
            names.setdefault(model, model)
        matches = [(m, n) for m, n in names.items() if typed in m.lower() or typed in n.lower()][
            :AUTOCOMPLETE_MAX
        ]
        return [app_commands.Choice(name=_choice_name(n, m), value=m[:100]) for m, n in matches]


def _choice_name(name: str, model: str) -> str:
    label = name if name == model else f"{name} ({model})"
    return label if len(label) <= 100 else label[:99] + "…"


class RankbotTree(app_commands.CommandTree):
    """The command tree, answering a command that failed with a polite error (logged)."""

    def __init__(self, client: discord.Client, runner: CommandRunner) -> None:
        super().__init__(client)
        self._runner = runner

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("/%s failed: %s", getattr(interaction.command, "name", "?"), error)
        text = "Something went wrong on rankbot's side; please try again in a minute."
        reply = Reply(text, view="error", ok=False)
        if interaction.response.is_done():
            await interaction.followup.send(
                embed=reply_parts(self._runner.renderer, reply).to_embed(), ephemeral=True
            )
        else:
            await self._runner.answer(interaction, reply, ephemeral=True, deferred=False)


def command_tree(
    client: discord.Client,
    services: Services,
    renderer: Renderer,
    *,
    clock: Clock = utcnow,
    on_command: Callable[[], Awaitable[None]] | None = None,
) -> app_commands.CommandTree:
    """The commands as both transports answer them: the gateway (`runtime.start`) and the
    Interactions Endpoint (`interactions.serve`) build exactly this tree, so a command is
    parsed, checked, run and rendered the same way whichever way it arrived. Replies render
    with Discord's filters (names from the data markdown-escaped)."""
    runner = CommandRunner(
        replace(services, renderer=renderer), renderer, clock=clock, on_command=on_command
    )
    return build_tree(client, runner)


def build_tree(client: discord.Client, runner: CommandRunner) -> app_commands.CommandTree:
    """The command tree rankbot registers; the schema (and its hash) comes from here alone."""
    tree = RankbotTree(client, runner)
    commands = _commands(runner)
    for command in commands:
        tree.add_command(command)
    runner.syntax = SlashSyntax({c.name: c for c in commands})
    return tree


def _manage(command: app_commands.Command[Any, ..., None]) -> app_commands.Command[Any, ..., None]:
    """Server-only and hidden by default from members without Manage Channels."""
    command = app_commands.guild_only()(command)
    return app_commands.default_permissions(manage_channels=True)(command)


def _commands(runner: CommandRunner) -> list[app_commands.Command[Any, ..., None]]:
    usage = command_parse.USAGE

    def summary(name: str) -> str:
        text = usage[name].summary.english()
        return text if len(text) <= 100 else text[:99] + "…"

    @app_commands.command(name="top", description=summary("top"))
    @app_commands.describe(
        n=N_("how many models, 1 to 25 (default 10)"),
        period=N_("default: week"),
        public=N_("post the answer for everyone in the channel (default: only you see it)"),
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def top(
        interaction: discord.Interaction,
        n: app_commands.Range[int, 1, 25] = 10,
        period: str = "week",
        public: bool = False,
    ) -> None:
        await runner.run(interaction, f"top {n} {word(period)}", public=public)

    @app_commands.command(name="model", description=summary("model"))
    @app_commands.describe(query=N_("a model id or name, or part of one"))
    async def model(interaction: discord.Interaction, query: str) -> None:
        await runner.run(interaction, f"model {query}")

    @model.autocomplete("query")
    async def model_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await runner.model_choices(current)

    @app_commands.command(name="countries", description=summary("countries"))
    async def countries(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "countries")

    @app_commands.command(name="chart", description=summary("chart"))
    @app_commands.describe(
        kind=N_("trend (tokens), countries (shares) or ranks (default trend)"),
        n=N_("how many models or countries (default: 5, or 10 for ranks)"),
        weeks=N_("how many snapshots back, 2 to 104 (default 12)"),
    )
    @app_commands.choices(kind=CHART_CHOICES)
    async def chart(
        interaction: discord.Interaction,
        kind: str = "trend",
        n: app_commands.Range[int, 1, 20] | None = None,
        weeks: app_commands.Range[int, 2, 104] = 12,
    ) -> None:
        count = default_n(kind) if n is None else n
        await runner.run(interaction, f"chart {word(kind)} {count} {weeks}")

    @app_commands.command(name="subscribe", description=summary("subscribe"))
    @app_commands.describe(
        kind=N_(
            "an alert kind to add (run again to add more; default for a new channel: the "
            "five main kinds)"
        ),
        top=N_("top N for entries, exits and rank moves, 1 to 50 (default 10)"),
        models=N_("model id globs, comma-separated (openai/*, *-preview*)"),
        exclude_models=N_("model id globs to leave out, comma-separated"),
        authors=N_("author slugs or globs, comma-separated"),
        exclude_authors=N_("author slugs or globs to leave out, comma-separated"),
        countries=N_("ISO country codes like US, CN, comma-separated"),
        exclude_countries=N_("ISO country codes to leave out, comma-separated"),
        min_move=N_("places a rank_change must move"),
        min_change=N_("percent a surge or drop must reach"),
        period=N_("which rankings (default week)"),
        charts=N_("attach charts (default on)"),
        lang=N_("the language of this channel's alerts (default English)"),
        reset=N_("back to the defaults before applying the rest"),
    )
    @app_commands.choices(
        kind=KIND_CHOICES,
        period=[*PERIOD_CHOICES, app_commands.Choice(name="all", value="week,day,month")],
        lang=[app_commands.Choice(name=lang, value=lang) for lang in languages()],
    )
    async def subscribe(
        interaction: discord.Interaction,
        kind: str | None = None,
        top: app_commands.Range[int, 1, 50] | None = None,
        models: str | None = None,
        exclude_models: str | None = None,
        authors: str | None = None,
        exclude_authors: str | None = None,
        countries: str | None = None,
        exclude_countries: str | None = None,
        min_move: app_commands.Range[int, 1, 50] | None = None,
        min_change: app_commands.Range[float, 0.1, 10000.0] | None = None,
        period: str | None = None,
        charts: bool | None = None,
        lang: str | None = None,
        reset: bool = False,
    ) -> None:
        # asked only of someone who may subscribe: the others are refused by the core
        missing = (
            missing_bot_permissions(interaction) if interaction.permissions.manage_channels else []
        )
        if missing:
            await runner.refuse_missing(interaction, missing)
            return
        parts = ["subscribe"]
        if reset:
            parts.append("reset")
        if kind:
            parts.append(word(kind))
        lists = {
            "model": models,
            "exclude-model": exclude_models,
            "author": authors,
            "exclude-author": exclude_authors,
            "country": countries,
            "exclude-country": exclude_countries,
        }
        parts += [f"{key}={words_list(value)}" for key, value in lists.items() if value]
        if top is not None:
            parts.append(f"top={top}")
        if min_move is not None:
            parts.append(f"min-move={min_move}")
        if min_change is not None:
            parts.append(f"min-change={min_change:g}")
        if period:
            parts.append(f"period={word(period)}")
        if charts is not None:
            parts.append(f"charts={'on' if charts else 'off'}")
        if lang:
            parts.append(f"lang={word(lang)}")
        await runner.run(interaction, " ".join(parts))

    @app_commands.command(name="unsubscribe", description=summary("unsubscribe"))
    @app_commands.describe(
        kind=N_("the alert kind to stop (default: all, forgetting the settings)")
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def unsubscribe(interaction: discord.Interaction, kind: str = "all") -> None:
        await runner.run(interaction, f"unsubscribe {word(kind)}")

    @app_commands.command(name="subscriptions", description=summary("subscriptions"))
    async def subscriptions(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "subscriptions")

    @app_commands.command(name="mute", description=summary("mute"))
    @app_commands.describe(duration=N_("30m, 2h, 1h30m, 3d or 1w (at most 90 days)"))
    async def mute(interaction: discord.Interaction, duration: str) -> None:
        await runner.run(interaction, f"mute {word(duration)}")

    @app_commands.command(name="unmute", description=summary("unmute"))
    async def unmute(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "unmute")

    @app_commands.command(name="digest", description=summary("digest"))
    @app_commands.describe(
        mode=N_("daily, weekly, or off for immediate alerts"),
        day=N_("weekly digests: the day (default mon)"),
        at=N_("local time HH:MM (default 09:00)"),
        timezone=N_("IANA time zone like Europe/Berlin (default: the one set before, else UTC)"),
    )
    @app_commands.choices(
        mode=[app_commands.Choice(name=m, value=m) for m in ("daily", "weekly", "off")],
        day=[app_commands.Choice(name=d, value=d) for d in WEEKDAYS],
    )
    async def digest(
        interaction: discord.Interaction,
        mode: str,
        day: str | None = None,
        at: str | None = None,
        timezone: str | None = None,
    ) -> None:
        parts = ["digest", word(mode)] + [word(v) for v in (day, at, timezone) if v]
        await runner.run(interaction, " ".join(parts))

    @app_commands.command(name="quiet", description=summary("quiet"))
    @app_commands.describe(
        hours=N_("a local range like 22:00-07:00, or off"),
        timezone=N_("IANA time zone like Europe/Berlin (default UTC)"),
    )
    async def quiet(
        interaction: discord.Interaction, hours: str, timezone: str | None = None
    ) -> None:
        parts = ["quiet", word(hours)] + ([word(timezone)] if timezone else [])
        await runner.run(interaction, " ".join(parts))

    @app_commands.command(name="status", description=summary("status"))
    async def status(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "status")

    @app_commands.command(name="resume", description=summary("resume"))
    async def resume(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "resume")

    @app_commands.command(name="test", description=summary("test"))
    async def test(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "test")

    @app_commands.command(name="help", description=summary("help"))
    @app_commands.describe(command=N_("one command to explain in detail"))
    @app_commands.choices(command=[app_commands.Choice(name=n, value=n) for n in usage])
    async def help_(interaction: discord.Interaction, command: str | None = None) -> None:
        await runner.run(interaction, f"help {word(command)}" if command else "help")

    commands: list[app_commands.Command[Any, ..., None]] = [
        top,
        model,
        countries,
        chart,
        subscribe,
        unsubscribe,
        subscriptions,
        mute,
        unmute,
        digest,
        quiet,
        status,
        resume,
        test,
        help_,
    ]
    for command in commands:
        if usage[command.name].manage:
            _manage(command)
    return commands
