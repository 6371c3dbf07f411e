"""The `[discord]` config section: where Discord is, and where commands are registered.

The REST base and the gateway URL default to the real services; they are settings so that
tests and demos can point discord.py at a loopback fake. The bot token is a secret and is
only ever read from the environment (`DISCORD_BOT_TOKEN`), never from this file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.config.file import Section
from bot.errors import ConfigError

TOKEN_ENV = "DISCORD_BOT_TOKEN"
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL
    application_id: int | None = None
    """Only needed by `rankbot discord-invite` when no token is set (it is read at login)."""
    dev_guild_id: int | None = None
    """Register commands in this server only (instant, for development) instead of globally."""
    sync_on_start: bool = True
    """`rankbot run` syncs the commands when their schema changed since the last sync."""
    max_ratelimit_wait: float = 30.0
    """Longest 429 `retry_after` discord.py waits out in place; a longer one goes back to the
    outbox as a retry at that time (discord.py's minimum for this is 30 s)."""


def parse(section: Section, base: Path) -> DiscordSettings:
    """Read `[discord]` (`base` is unused)."""
    defaults = DiscordSettings()
    api_base = section.text("api_base", defaults.api_base) or defaults.api_base
    gateway_url = section.text("gateway_url", defaults.gateway_url) or defaults.gateway_url
    settings = DiscordSettings(
        api_base=api_base.rstrip("/"),
        gateway_url=gateway_url,
        application_id=_snowflake(section, "application_id"),
        dev_guild_id=_snowflake(section, "dev_guild_id"),
        sync_on_start=section.flag("sync_on_start", defaults.sync_on_start),
        max_ratelimit_wait=section.number("max_ratelimit_wait", 30.0, lo=30),
    )
    section.done()
    if not settings.api_base.startswith(("https://", "http://")):
        raise ConfigError(f"[discord] api_base: expected an http(s):// URL, got {api_base!r}")
    if not settings.gateway_url.startswith(("wss://", "ws://")):
        raise ConfigError(f"[discord] gateway_url: expected a ws(s):// URL, got {gateway_url!r}")
    return settings


def _snowflake(section: Section, key: str) -> int | None:
    value = section.integer(key, 0, lo=1)
    return value or None


def token_from_env() -> str | None:
    """The bot token, or None when `DISCORD_BOT_TOKEN` is not set."""
    return os.environ.get(TOKEN_ENV) or None
