"""The `[slack]` config section, and the secrets the Slack adapter reads from the environment.

Tokens and secrets never come from the file: `SLACK_BOT_TOKEN` and `SLACK_APP_TOKEN` (Socket
Mode), `SLACK_SIGNING_SECRET` (HTTP mode) and `SLACK_CLIENT_SECRET` (OAuth installs) are read
from the environment when the adapter starts, and are never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config.file import Section
from bot.errors import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"
MODES: tuple[str, ...] = ("socket", "http")
BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "files:write",
    "users:read",
)

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
APP_TOKEN_ENV = "SLACK_APP_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
CLIENT_SECRET_ENV = "SLACK_CLIENT_SECRET"


@dataclass(frozen=True, slots=True)
class SlackSettings:
    api_url: str = DEFAULT_API_URL
    """Web API base URL: the seam that lets tests, demos and staging use another server."""
    mode: str = "socket"
    """`socket` (no public URL needed) or `http` (a public Request URL; needed for OAuth)."""
    host: str = "0.0.0.0"
    port: int = 3000
    path: str = "/slack/events"
    top_command: str = "/top"
    command: str = "/rankbot"
    """The umbrella command for every other core command (`/rankbot subscribe …`)."""
    managers: tuple[str, ...] = ()
    """User ids allowed to change subscriptions besides workspace admins and owners."""
    everyone_can_manage: bool = False
    client_id: str | None = None
    """Set (HTTP mode only) to let many workspaces install the app through Slack's OAuth flow."""
    scopes: tuple[str, ...] = BOT_SCOPES
    install_path: str = "/slack/install"
    redirect_path: str = "/slack/oauth_redirect"
    app_name: str = "rankbot"
    public_url: str | None = None
    """HTTP mode: the bot's public https base URL; OAuth installs send it to Slack as the
    `redirect_uri` (`public_url` + `redirect_path`)."""

    @property
    def oauth(self) -> bool:
        return self.client_id is not None


@dataclass(frozen=True, slots=True)
class SlackSecrets:
    """The secrets, read once from the environment; `repr` never shows them."""

    bot_token: str | None
    app_token: str | None
    signing_secret: str | None
    client_secret: str | None

    def __repr__(self) -> str:
        held = [name for name in self.__slots__ if getattr(self, name)]
        return f"SlackSecrets(set={held})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackSecrets:
        env = os.environ if env is None else env
        return cls(
            bot_token=env.get(BOT_TOKEN_ENV) or None,
            app_token=env.get(APP_TOKEN_ENV) or None,
            signing_secret=env.get(SIGNING_SECRET_ENV) or None,
            client_secret=env.get(CLIENT_SECRET_ENV) or None,
        )

    def missing(self, settings: SlackSettings) -> list[str]:
        """The environment variables `settings` needs that are not set."""
        need: list[tuple[str, str | None]] = []
        if settings.mode == "socket":
            need += [(BOT_TOKEN_ENV, self.bot_token), (APP_TOKEN_ENV, self.app_token)]
        else:
            need.append((SIGNING_SECRET_ENV, self.signing_secret))
            if settings.oauth:
                need.append((CLIENT_SECRET_ENV, self.client_secret))
            else:
                need.append((BOT_TOKEN_ENV, self.bot_token))
        return [name for name, value in need if not value]


def parse(section: Section, base: Path) -> SlackSettings:
    """Read `[slack]` (`base` is unused: the section holds no paths)."""
    d = SlackSettings()
    api_url = section.text("api_url", d.api_url) or d.api_url
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError(f'[slack] api_url: expected an http(s) URL, got "{api_url}"')
    settings = SlackSettings(
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        mode=section.text("mode", d.mode, choices=MODES) or d.mode,
        host=section.text("host", d.host) or d.host,
        port=section.integer("port", d.port, lo=0, hi=65535),
        path=_path(section, "path", d.path),
        top_command=_command(section, "top_command", d.top_command),
        command=_command(section, "command", d.command),
        managers=section.strings("managers", d.managers),
        everyone_can_manage=section.flag("everyone_can_manage", d.everyone_can_manage),
        client_id=section.text("client_id", None) or None,
        scopes=section.strings("scopes", d.scopes),
        install_path=_path(section, "install_path", d.install_path),
        redirect_path=_path(section, "redirect_path", d.redirect_path),
        app_name=section.text("app_name", d.app_name) or d.app_name,
        public_url=_public_url(section),
    )
    section.done()
    if settings.top_command == settings.command:
        raise ConfigError("[slack] command: must differ from top_command")
    if settings.oauth and settings.mode != "http":
        raise ConfigError('[slack] client_id: OAuth installs need mode = "http"')
    return settings


def _public_url(section: Section) -> str | None:
    value = section.text("public_url", None) or None
    if value is not None and not value.startswith("https://"):
        raise ConfigError(
            f'[slack] public_url: expected the bot\'s public https:// URL, got "{value}"'
        )
    return value.rstrip("/") if value else None


def _command(section: Section, key: str, default: str) -> str:
    value = section.text(key, default) or default
    name = value[1:]
    if not value.startswith("/") or not name or len(value) > 32 or not _slug(name):
        raise ConfigError(
            f'[slack] {key}: expected a slash command like "/top" (lower-case letters, '
            f'digits, "-" and "_", at most 32 characters), got "{value}"'
        )
    return value


def _slug(name: str) -> bool:
    return all(c.islower() or c.isdigit() or c in "-_" for c in name)


def _path(section: Section, key: str, default: str) -> str:
    value = section.text(key, default) or default
    if not value.startswith("/"):
        raise ConfigError(f'[slack] {key}: expected a URL path starting with "/", got "{value}"')
    return value
