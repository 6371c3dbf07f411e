"""Where discord.py sends its requests: `[discord] api_base` and `gateway_url`.

Apart from the runtime because the Interactions Endpoint (which the runtime starts) needs it
too, to edit deferred answers in through the configured REST base.
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

from bot.platforms.discord.settings import DiscordSettings


def apply_endpoints(settings: DiscordSettings) -> None:
    """Point discord.py at `[discord] api_base` and `gateway_url` (defaults: the real ones).

    Both are process-wide class attributes of discord.py, so this is done once at start-up,
    before any client or webhook sends a request.
    """
    discord.http.Route.BASE = settings.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
