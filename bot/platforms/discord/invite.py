"""The OAuth2 URL that adds rankbot to a server, asking for nothing it does not use.

Scopes `bot` (to post alerts) and `applications.commands` (slash commands); permissions only
View Channel, Send Messages, Embed Links and Attach Files (charts). No privileged intents, no
Manage anything: who may subscribe a channel is checked per command, not granted to the bot.
"""

from __future__ import annotations

from urllib.parse import urlencode

import discord

SCOPES = ("bot", "applications.commands")
PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, attach_files=True
)
AUTHORIZE_URL = "https://discord.com/oauth2/authorize"


def invite_url(application_id: int) -> str:
    query = urlencode(
        {
            "client_id": str(application_id),
            "scope": " ".join(SCOPES),
            "permissions": str(PERMISSIONS.value),
        }
    )
    return f"{AUTHORIZE_URL}?{query}"
