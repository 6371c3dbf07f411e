"""The Slack app manifest (`rankbot slack-manifest` prints it), for "Create app from manifest".

Built from the `[slack]` settings, so renamed commands, HTTP mode and OAuth installs show up
in it: Socket Mode (the default) needs no public URL; HTTP mode points the commands, events,
buttons (interactivity) and OAuth redirect at `--url` (https only: Slack calls nothing
else). The App Home tab is on: it lists the workspace's subscribed channels.
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
    url = url or settings.public_url
    if http and not url:
        raise ValueError("HTTP mode needs the public URL of the bot (--url https://…)")
    if url and not url.startswith("https://"):
        raise ValueError(f"--url must be an https:// URL (Slack calls only https), got {url}")
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
    events: dict[str, Any] = {
        "bot_events": ["app_home_opened", "app_uninstalled", "tokens_revoked"]
    }
    interactivity: dict[str, Any] = {"is_enabled": True}  # the buttons on alerts and notices
    if http:
        events["request_url"] = base + settings.path
        interactivity["request_url"] = base + settings.path
    oauth: dict[str, Any] = {"scopes": {"bot": list(settings.scopes)}}
    if http and settings.oauth:
        oauth["redirect_urls"] = [base + settings.redirect_path]
    return {
        "display_information": {
            "name": settings.app_name,
            "description": "Alerts on the public LLM token-usage rankings",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": False,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": settings.app_name, "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": oauth,
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": not http,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(settings: SlackSettings, *, url: str | None = None) -> str:
    """JSON: Slack's manifest editor takes JSON or YAML, and JSON needs no extra library."""
    return json.dumps(manifest(settings, url=url), indent=2, ensure_ascii=False)
