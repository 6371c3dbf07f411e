"""Posting planned messages to Slack with `chat.postMessage`: Block Kit blocks and a plain-text
fallback (incoming webhooks get the same, from `bot.platforms.slack.webhook`).

Slack's answers become the outcomes delivery understands. The errors that mean "this
channel cannot take posts" (`not_in_channel`, `channel_not_found`, `is_archived`) are
PERMANENT access failures with Slack's error code as the reason, so delivery pauses the
subscription and `/rankbot status` can say why; a dead token (`invalid_auth`, `token_revoked`,
`account_inactive`) is HELD: every channel of the workspace waits until `auth.test` works
again (`check_token`). A 429 is RETRY with its `Retry-After`; server
errors and network trouble are RETRY too: delivery (the outbox) waits and tries again, so this
module never sleeps and never retries by itself. Blocks Slack refuses are not worth a retry:
the text fallback is posted alone instead. Charts (`Message.attachments`) are uploaded with the
files upload v2 flow into the thread of the alert; if that fails the alert still counts as
delivered, since posting it again would duplicate the text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utcnow
from bot.core.messages import Attachment, ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.net.retry import parse_retry_after
from bot.platforms.slack.blocks import Block, rendered
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer
from bot.store.protocols import ACCESS, CONTENT

log = logging.getLogger("rankbot.slack")

TOKEN_REFUSED = frozenset({"invalid_auth", "account_inactive", "token_revoked", "not_authed"})
"""The workspace's bot token is dead: every channel of the workspace waits for it (HELD,
`bot.delivery.tokens`), none is paused."""
CANNOT_POST = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
    }
)
"""Errors after which posting to the channel again cannot work until someone acts: access
failures (the post is kept; `resume` sends it)."""
BLOCKS_REFUSED = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"})
REFUSED_CONTENT = BLOCKS_REFUSED | {
    "msg_too_long",
    "no_text",
    "too_many_attachments",
    "invalid_attachments",
    "invalid_arguments",
    "invalid_metadata_format",
    "metadata_too_large",
}
"""Errors that refuse this message, not the channel: content failures (reported, never resent;
the channel goes on)."""

ClientFor = Callable[[str], Awaitable[AsyncWebClient | None]]
"""The Web API client holding the bot token of a workspace (team id), None if not installed."""


class SlackSender:
    """Delivers `slack` channels (`ChannelRef("slack", team_id, channel_id)`).

    `chat.postMessage` has no idempotency key to pass `idempotency_key` on to: the outbox,
    which records every sent post, is what keeps a post from going out twice.
    """

    def __init__(self, client_for: ClientFor, renderer: Renderer, *, clock: Clock = utcnow):
        self._client_for = client_for
        self._renderer = renderer
        self._clock = clock
        self._rendered: PerMessage[tuple[str, list[Block] | None]] = PerMessage()

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        client = await self._client_for(channel.workspace)
        if client is None:
            return SendResult(
                SendStatus.PERMANENT,
                reason=f"rankbot is not installed in Slack workspace {channel.workspace}",
            )
        text, blocks = self._rendered.get(
            message, None, lambda: rendered(self._renderer, message, channel.key)
        )
        try:
            try:
                response = await self._post(client, channel, text, blocks)
            except SlackApiError as exc:
                if blocks is None or error_code(exc) not in BLOCKS_REFUSED:
                    raise
                log.warning("%s: Slack refused the blocks (%s)", channel.key, error_code(exc))
                response = await self._post(client, channel, text, None)
        except SlackApiError as exc:
            return _api_failure(exc, self._clock())
        except (aiohttp.ClientError, TimeoutError) as exc:
            return SendResult(SendStatus.RETRY, reason=f"network error ({type(exc).__name__})")
        ts = response.get("ts")
        if message.attachments:
            await self._upload(client, channel, ts, message.attachments)
        return SendResult(SendStatus.SENT, platform_id=ts)

    async def check_token(self, workspace: str) -> bool | None:
        """`auth.test` with the workspace's token (`bot.delivery.tokens.TokenCheck`)."""
        client = await self._client_for(workspace)
        if client is None:
            return False
        try:
            await client.auth_test()
        except SlackApiError as exc:
            return False if error_code(exc) in TOKEN_REFUSED else None
        except (aiohttp.ClientError, TimeoutError):
            return None
        return True

    @staticmethod
    async def _post(
        client: AsyncWebClient, channel: ChannelRef, text: str, blocks: list[Any] | None
    ) -> Any:
        return await client.chat_postMessage(
            channel=channel.channel,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )

    @staticmethod
    async def _upload(
        client: AsyncWebClient,
        channel: ChannelRef,
        thread_ts: str | None,
        attachments: tuple[Attachment, ...],
    ) -> None:
        try:
            await upload(client, channel.channel, attachments, thread_ts=thread_ts)
        except SlackApiError as exc:
            log.warning("%s: chart upload failed (%s); alert sent", channel.key, error_code(exc))
        except (TimeoutError, SlackRequestError, aiohttp.ClientError) as exc:
            log.warning("%s: chart upload failed (%s); alert sent", channel.key, type(exc).__name__)


async def upload(
    client: AsyncWebClient,
    channel_id: str,
    attachments: tuple[Attachment, ...],
    *,
    thread_ts: str | None = None,
) -> None:
    """Files into a channel (or thread) with the upload v2 flow: `files.getUploadURLExternal`,
    the upload itself, `files.completeUploadExternal`. Raises what slack_sdk raises."""
    await client.files_upload_v2(
        channel=channel_id,
        thread_ts=thread_ts,
        file_uploads=[
            {
                "content": a.content,
                "filename": a.filename,
                "title": a.title or a.filename,
                "alt_txt": a.alt or a.title or a.filename,
            }
            for a in attachments
        ],
    )


def error_code(exc: SlackApiError) -> str:
    """Slack's `error` field (`not_in_channel`, …), or the HTTP status when there is none."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {exc.response.status_code}")


def _api_failure(exc: SlackApiError, now: datetime) -> SendResult:
    status, error = exc.response.status_code, error_code(exc)
    if status == 429 or error == "ratelimited":
        retry_after = parse_retry_after(exc.response.headers.get("Retry-After"), now)
        return SendResult(SendStatus.RETRY, retry_after=retry_after, reason="rate limited (429)")
    if error in TOKEN_REFUSED:
        return SendResult(SendStatus.HELD, reason=error)
    if error in CANNOT_POST:
        return SendResult(SendStatus.PERMANENT, reason=error, failure=ACCESS)
    if error in REFUSED_CONTENT:
        return SendResult(SendStatus.PERMANENT, reason=error, failure=CONTENT)
    # Server errors, and errors this module does not know (`fatal_error`, `internal_error`,
    # new ones): retried with backoff rather than pausing a channel that may be fine.
    return SendResult(SendStatus.RETRY, reason=f"Slack error ({error})")
