"""`rankbot discord-invite` and `rankbot discord-sync`: the two setup steps of Discord.

`discord-invite` prints the URL that adds the bot to a server (application id from
`[discord] application_id`, or read from Discord with the token). `discord-sync` registers the
slash commands now: in one server with `--guild ID` (instant, for development) or globally,
and records the schema hash so `rankbot run` does not sync the same schema again.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import discord

from bot import app
from bot.cli.common import config_from_args, database_path
from bot.commands.execute import Services
from bot.config.file import Config
from bot.errors import StoreBusy, UsageError
from bot.platforms.discord.commands import CommandRunner, build_tree
from bot.platforms.discord.embeds import discord_renderer
from bot.platforms.discord.invite import invite_url
from bot.platforms.discord.runtime import apply_endpoints, login
from bot.platforms.discord.settings import TOKEN_ENV, DiscordSettings, token_from_env
from bot.platforms.discord.sync import sync
from bot.store.protocols import Store


def _token() -> str:
    token = token_from_env()
    if not token:
        raise UsageError(f"set {TOKEN_ENV} to the bot token (Developer Portal → Bot → Token)")
    return token


async def _logged_in(settings: DiscordSettings) -> discord.Client:
    apply_endpoints(settings)
    client = discord.Client(intents=discord.Intents.none())
    await login(client, _token(), settings.api_base)
    return client


async def _application_id(settings: DiscordSettings) -> int:
    if settings.application_id:
        return settings.application_id
    client = await _logged_in(settings)
    try:
        assert client.application_id is not None  # set by login from the application info
        return client.application_id
    finally:
        await client.close()


def cmd_invite(args: argparse.Namespace) -> int:
    settings: DiscordSettings = config_from_args(args).section("discord")
    if not settings.application_id and not token_from_env():
        raise UsageError(
            f"set [discord] application_id in the config, or {TOKEN_ENV} to read it from Discord"
        )
    print(invite_url(asyncio.run(_application_id(settings))))
    return 0


async def _sync(config: Config, guild: int | None, store: Store) -> int:
    settings: DiscordSettings = config.section("discord")
    client = await _logged_in(settings)
    try:
        tree = build_tree(
            client, CommandRunner(Services(store, config), discord_renderer(config.templates_dir))
        )
        synced = await sync(tree, guild, store)
    finally:
        await client.close()
    where = f"in server {guild}" if guild else "globally (may take a moment to show up)"
    print(f"synced {len(synced)} commands {where}: " + ", ".join(f"/{c.name}" for c in synced))
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    guild = args.guild or config.section("discord").dev_guild_id

    async def run() -> int:
        async with app.open_database(database_path(config)) as store:
            return await _sync(config, guild, store)

    try:
        return asyncio.run(run())
    except StoreBusy as exc:
        raise UsageError(
            f"{exc}: stop `rankbot run` first (it syncs by itself when the commands changed)"
        ) from exc


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `discord-invite` and `discord-sync` to the `rankbot` parser."""
    invite = sub.add_parser(
        "discord-invite",
        parents=[common],
        help="print the URL that adds the bot to a Discord server",
        description="Print the OAuth2 URL with scopes `bot applications.commands` and only "
        "View Channel, Send Messages, Embed Links and Attach Files.",
    )
    invite.set_defaults(handler=cmd_invite)

    sync_parser = sub.add_parser(
        "discord-sync",
        parents=[common],
        help="register the slash commands with Discord",
        description="Register the slash commands globally, or in one server with --guild "
        "(instant; for development). `rankbot run` syncs by itself only when they changed.",
    )
    sync_parser.add_argument(
        "--guild", type=int, metavar="ID", help="server id (default: [discord] dev_guild_id)"
    )
    sync_parser.set_defaults(handler=cmd_sync)
