"""The Slack app manifest (`rankbot slack-manifest` prints it), for "Create app from manifest".

Built from the `[slack]` settings, so renamed commands, HTTP mode and OAuth installs show up
in it: Socket Mode (the default) needs no public URL; HTTP mode points the commands, events
and OAuth redirect at `--url`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.platforms.slack.settings import SlackSettings

COMMAND_HINTS = {
    "top": ("Show the current LLM token-usage ranking", "[N] [day|week|month] [public]"),
    "command": (
        "rankbot: subscribe, status, mute, digest, help …",
        "help | subscribe new_leader country_flip | status",
    ),
}


def manifest(settings: SlackSettings, *, url: str | None = None) -> dict[str, Any]:
    """The manifest as a dict; `url` is the public base URL (HTTP mode only)."""
    http = settings.mode == "http"
    if http and not url:
        raise ValueError("HTTP mode needs the public URL of the bot (--url https://…)")
    base = (url or "").rstrip("/")
    commands = []
    for key, name in (("top", settings.top_command), ("command", settings.command)):
        description, hint = COMMAND_HINTS[key]
        command: dict[str, Any] = {
            "command": name,
            "description": description,
            "usage_hint": hint,
            "should_escape": False,
        }
        if http:
            command["url"] = base + settings.path
        commands.append(command)
    events: dict[str, Any] = {"bot_events": ["app_uninstalled", "tokens_revoked"]}
    if http:
        events["request_url"] = base + settings.path
    oauth: dict[str, Any] = {"scopes": {"bot": list(settings.scopes)}}
    if http and settings.oauth:
        oauth["redirect_urls"] = [base + settings.redirect_path]
    return {
        "display_information": {
            "name": settings.app_name,
            "description": "Alerts on the public LLM token-usage rankings",
        },
        "features": {
            "bot_user": {"display_name": settings.app_name, "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": events,
            "interactivity": {"is_enabled": False},
            "org_deploy_enabled": False,
            "socket_mode_enabled": not http,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(settings: SlackSettings, *, url: str | None = None) -> str:
    """JSON: Slack's manifest editor takes JSON or YAML, and JSON needs no extra library."""
    return json.dumps(manifest(settings, url=url), indent=2, ensure_ascii=False)
