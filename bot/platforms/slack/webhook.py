"""Posting to Slack incoming webhooks (`slack-webhook` channels): the same Block Kit blocks,
escaping and text fallback as the bot's own posts, always.

Always, because an incoming webhook renders mrkdwn like any Slack message: a model named
`<!channel> <http://evil|click>` sent as plain JSON once went out as a live @channel ping and
a disguised link. This sender needs no Slack app, token or library (just httpx), so the
composition root gives it to every bot, with a `[slack]` section or without.

The URL is a secret: read from the environment variable that `url_env(channel)` names
(`[[channels]] url_env`, else `RANKBOT_WEBHOOK_<NAME>`) at each send, never stored or logged.
Only a few kilobytes of an answer are read (`bot.net.bodies`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import httpx

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.webhook_answers import webhook_result
from bot.delivery.webhook_urls import UrlEnv, env_name, lookup
from bot.net.bodies import Answer, post_json
from bot.platforms.slack.blocks import Block, rendered
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer

log = logging.getLogger("rankbot.slack")

BLOCKS_REFUSED = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"})
WEBHOOK_GONE = {
    401: "webhook refused",
    403: "webhook forbidden",
    404: "webhook deleted",
    410: "channel archived",
}
"""How Slack's answers after which the webhook cannot take posts until someone acts (access
failures: `bot.delivery.webhook_answers.GONE`) are worded."""


class SlackWebhookSender:
    """Delivers `slack-webhook` channels."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        renderer: Renderer,
        *,
        url_env: UrlEnv = env_name,
        environ: Mapping[str, str] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """`renderer` must be a Slack one (`bot.platforms.slack.blocks.slack_renderer`): its
        `md` filter escapes data."""
        self._client = client
        self._renderer = renderer
        self._url_env = url_env
        self._environ = environ
        self._clock = clock
        self._rendered: PerMessage[tuple[str, list[Block] | None]] = PerMessage()

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        found = lookup(channel, self._url_env, self._environ)
        url = found.url
        if url is None:
            return found.unset()
        text, blocks = self._rendered.get(
            message, None, lambda: rendered(self._renderer, message, channel.key, actions=False)
        )
        try:
            answer = await post_json(self._client, url, _payload(text, blocks))
            if blocks and answer.status == 400 and answer.text in BLOCKS_REFUSED:
                log.warning("%s: Slack refused the blocks (%s)", channel.key, answer.text)
                answer = await post_json(self._client, url, _payload(text, None))
        except httpx.TimeoutException:
            return SendResult(SendStatus.RETRY, reason="webhook timed out")
        except httpx.TransportError as exc:  # the message may hold the URL: type name only
            return SendResult(SendStatus.RETRY, reason=f"network error ({type(exc).__name__})")
        return self._result(answer)

    def _result(self, answer: Answer) -> SendResult:
        """What the status means is every webhook's (`webhook_result`); a refusal is worded
        with Slack's own error code (`no_service`, `invalid_payload`)."""
        result = webhook_result(answer, self._clock())
        if result.status is not SendStatus.PERMANENT:
            return result
        error = _error_code(answer)
        gone = WEBHOOK_GONE.get(answer.status)
        if gone is not None:
            return replace(result, reason=f"{gone} ({error})")
        return replace(result, reason=f"webhook refused the post ({error})")


def _payload(text: str, blocks: list[Block] | None) -> dict[str, object]:
    return {"text": text, "blocks": blocks} if blocks else {"text": text}


def _error_code(answer: Answer) -> str:
    """Slack's short error code (`no_service`, `invalid_payload`), or the HTTP status: a body
    that is not a short code (an HTML error page, a hostile answer) is not repeated."""
    code = answer.text
    if code and len(code) <= 64 and code.replace("_", "").isalnum() and code.isascii():
        return code
    return f"HTTP {answer.status}"
