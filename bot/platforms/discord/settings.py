"""The `[discord]` config section: where Discord is, where commands are registered, and
how interactions arrive (the gateway, or Discord's Interactions Endpoint URL over HTTP).

The REST base and the gateway URL default to the real services; they are settings so that
tests and demos can point discord.py at a loopback fake. The bot token is a secret and is
only ever read from the environment (`DISCORD_BOT_TOKEN`), never from this file. The
application's public key is not a secret (Discord shows it to anyone with the portal open
and it can only verify, not sign), so it lives here.
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
INTERACTIONS: tuple[str, ...] = ("gateway", "http")
AUTO_SHARDS = "auto"


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
    interactions: str = "gateway"
    """How commands arrive: `gateway` (the bot's websocket; no public URL), or `http`
    (Discord POSTs them to the Interactions Endpoint URL set in the developer portal; once
    that is set Discord sends none over the gateway). `rankbot run --role web` always
    serves them over HTTP."""
    public_key: str | None = None
    """The application's Ed25519 public key (hex, *General Information → Public Key*): every
    HTTP interaction is verified with it. Needed for `interactions = "http"` and the web role."""
    host: str = "0.0.0.0"
    port: int = 3001
    path: str = "/discord/interactions"
    """Where the Interactions Endpoint listens (behind a TLS-terminating reverse proxy)."""
    signature_max_age_seconds: float = 300.0
    """An HTTP interaction whose signed timestamp is further than this from the local clock is
    refused (401): a captured request cannot be replayed later."""
    shards: int | None = None
    """Gateway shards: None (`"auto"`) asks Discord how many it recommends (GET /gateway/bot)
    at every connect; a number fixes the count."""

    @property
    def serves_http(self) -> bool:
        return self.interactions == "http"


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
        interactions=section.text("interactions", defaults.interactions, choices=INTERACTIONS)
        or defaults.interactions,
        public_key=_public_key(section),
        host=section.text("host", defaults.host) or defaults.host,
        port=section.integer("port", defaults.port, lo=0, hi=65535),
        path=section.text("path", defaults.path) or defaults.path,
        signature_max_age_seconds=section.number(
            "signature_max_age_seconds", defaults.signature_max_age_seconds, lo=1
        ),
        shards=_shards(section),
    )
    section.done()
    if not settings.path.startswith("/"):
        raise ConfigError(f"[discord] path: expected a path starting with /, got {settings.path!r}")
    if settings.serves_http and settings.public_key is None:
        raise ConfigError(
            '[discord] interactions = "http" needs public_key: copy it from the developer '
            "portal (General Information → Public Key)"
        )
    if not settings.api_base.startswith(("https://", "http://")):
        raise ConfigError(f"[discord] api_base: expected an http(s):// URL, got {api_base!r}")
    if not settings.gateway_url.startswith(("wss://", "ws://")):
        raise ConfigError(f"[discord] gateway_url: expected a ws(s):// URL, got {gateway_url!r}")
    return settings


def _public_key(section: Section) -> str | None:
    value = section.text("public_key", None)
    if value is None:
        return None
    key = value.strip().lower()
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ConfigError(
            "[discord] public_key: expected the 64 hex digits the developer portal shows "
            f"under General Information → Public Key, got {value!r}"
        )
    return key


def _shards(section: Section) -> int | None:
    """`"auto"` (the default) or a whole number of shards."""
    if isinstance(section.data.get("shards"), str):
        section.text("shards", AUTO_SHARDS, choices=(AUTO_SHARDS,))
        return None
    return section.integer("shards", 0, lo=1) or None


def _snowflake(section: Section, key: str) -> int | None:
    value = section.integer(key, 0, lo=1)
    return value or None


def token_from_env() -> str | None:
    """The bot token, or None when `DISCORD_BOT_TOKEN` is not set."""
    return os.environ.get(TOKEN_ENV) or None
