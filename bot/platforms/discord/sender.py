"""Discord senders: alerts as embeds over REST (bot) or through a Discord webhook URL.

Both send `allowed_mentions` = none, so nothing in the data can ever ping anyone. The bot
sender also sends a `nonce` derived from the outbox key; discord.py 2.7 adds
`enforce_nonce: true` to every message that has a nonce (`handle_message_parameters`), so a
resend of the same post within Discord's dedup window (a crash between the send and its
record) is dropped by Discord itself. Webhook executions take no nonce: the outbox's own
record is their only dedup.

Answers become what delivery understands (platform-rules.md): a 401 (the bot token was reset
or revoked) is HELD, every Discord channel waits until `GET /users/@me` works again
(`check_token`); 403/404 and the codes 50001
(Missing Access), 50013 (Missing Permissions) and 10003 (Unknown Channel) are PERMANENT with
the reason (the subscription is paused and never retried in a loop: 10,000 such answers in
ten minutes get the IP banned); a 429 is RETRY at Discord's `retry_after`. discord.py itself
waits out a 429 shorter than `max_ratelimit_timeout` (30 s minimum) and retries in place; a
longer one raises `RateLimited` and goes back to the outbox with its `retry_after`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import aiohttp
import discord

from bot.clock import utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.webhook_urls import UrlEnv, env_name, lookup
from bot.net.retry import bounded_delay, parse_retry_after
from bot.platforms.discord.embeds import files_of, message_parts
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer
from bot.store.protocols import ACCESS, CONTENT

PERMANENT_CODES: dict[int, str] = {
    50001: "the bot has no access to this channel (Discord 50001 Missing Access)",
    50013: "the bot lacks a permission here (Discord 50013 Missing Permissions: it needs "
    "View Channel, Send Messages, Embed Links and Attach Files)",
    10003: "the channel no longer exists (Discord 10003 Unknown Channel)",
    10015: "the webhook no longer exists (Discord 10015 Unknown Webhook)",
}
NONCE_LENGTH = 25
"""Discord accepts nonces of up to 25 characters."""
NO_MENTIONS = discord.AllowedMentions.none()

_WEBHOOK_URL = re.compile(r"/webhooks/(?P<id>\d+)/(?P<token>[\w-]+)")


def nonce_for(idempotency_key: str) -> str:
    """A stable nonce for an outbox key: the same post always carries the same nonce."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


def result_for_error(exc: discord.DiscordException) -> SendResult:
    """What a failed send means for delivery: retry later, or stop and pause the channel."""
    if isinstance(exc, discord.RateLimited):
        return SendResult(
            SendStatus.RETRY,
            retry_after=bounded_delay(exc.retry_after),
            reason="rate limited by Discord (429)",
        )
    if not isinstance(exc, discord.HTTPException):
        return SendResult(SendStatus.RETRY, reason=f"Discord client error ({type(exc).__name__})")
    if exc.status == 401:  # the bot token was reset or revoked: every channel waits for it
        return SendResult(SendStatus.HELD, reason=f"HTTP 401, code {exc.code}")
    if exc.code in PERMANENT_CODES:
        return SendResult(SendStatus.PERMANENT, reason=PERMANENT_CODES[exc.code], failure=ACCESS)
    if exc.status == 429:
        # Sent back only when discord.py gave up in place (a Cloudflare block, or 5 tries).
        retry_after = _retry_after(exc.response)
        return SendResult(
            SendStatus.RETRY, retry_after=retry_after, reason="rate limited by Discord (429)"
        )
    if exc.status in (403, 404):
        return SendResult(
            SendStatus.PERMANENT,
            reason=f"Discord refused the post (HTTP {exc.status}, code {exc.code}: {exc.text})",
            failure=ACCESS,
        )
    if exc.status >= 500 or exc.status == 408:
        return SendResult(SendStatus.RETRY, reason=f"Discord server error (HTTP {exc.status})")
    return SendResult(  # 400 (50035 Invalid Form Body, …): this message, not the channel
        SendStatus.PERMANENT,
        reason=f"Discord rejected the post (HTTP {exc.status}, code {exc.code}: {exc.text})",
        failure=CONTENT,
    )


def _retry_after(response: aiohttp.ClientResponse | None) -> float | None:
    if response is None:
        return None
    return parse_retry_after(response.headers.get("Retry-After"), utcnow())


class DiscordSender:
    """Posts to `discord` channels (guild text channels) through a logged-in `discord.Client`.

    Only REST is used: a post needs no gateway connection, just `client.login()`.
    """

    def __init__(self, client: discord.Client, renderer: Renderer) -> None:
        self._client = client
        self._renderer = renderer
        self._embeds: PerMessage[discord.Embed] = PerMessage()

    async def check_token(self, workspace: str) -> bool | None:
        """`GET /users/@me` with the bot token (`bot.delivery.tokens.TokenCheck`)."""
        try:
            await self._client.http.request(discord.http.Route("GET", "/users/@me"))
        except discord.HTTPException as exc:
            return False if exc.status == 401 else None
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        return True

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        if not channel.channel.isdigit():
            return SendResult(SendStatus.PERMANENT, reason=f"not a Discord channel id: {channel}")
        target = self._client.get_partial_messageable(int(channel.channel))
        embed = self._embeds.get(
            message, None, lambda: message_parts(self._renderer, message).to_embed()
        )
        try:
            sent = await target.send(
                embeds=[embed],
                files=files_of(message.attachments),
                allowed_mentions=NO_MENTIONS,
                nonce=nonce_for(idempotency_key),
            )
        except discord.DiscordException as exc:
            return result_for_error(exc)
        return SendResult(SendStatus.SENT, platform_id=str(sent.id))


class DiscordWebhookSender:
    """Posts to `discord-webhook` channels; the URL is read from the environment at each send
    (the variable `url_env(channel)` names: `[[channels]] url_env`) and never logged.

    `discord.Webhook.from_url` only accepts discord.com URLs; the id and token are taken from
    the path instead, and the request goes to `discord.http.Route.BASE` like every other, so
    the `[discord] api_base` setting applies to webhooks too.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        renderer: Renderer,
        *,
        url_env: UrlEnv = env_name,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self._renderer = renderer
        self._url_env = url_env
        self._environ = environ
        self._embeds: PerMessage[discord.Embed] = PerMessage()

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        found = lookup(channel, self._url_env, self._environ)
        match = _WEBHOOK_URL.search(found.url or "")
        if match is None:
            return SendResult(
                SendStatus.PERMANENT,
                reason=f"no Discord webhook URL: set {found.variable} to "
                "https://discord.com/api/webhooks/<id>/<token>",
            )
        webhook = discord.Webhook.partial(int(match["id"]), match["token"], session=self._session)
        embed = self._embeds.get(
            message, None, lambda: message_parts(self._renderer, message).to_embed()
        )
        try:
            sent = await webhook.send(
                embeds=[embed],
                files=files_of(message.attachments),
                allowed_mentions=NO_MENTIONS,
                wait=True,
            )
        except discord.DiscordException as exc:
            return result_for_error(exc)
        return SendResult(SendStatus.SENT, platform_id=str(sent.id))
