"""The generic JSON webhook sender: POST `{"text": ...}` to a URL kept in the environment.

It serves `webhook` channels. A webhook channel is known by the name given in
`[[channels]]`; its URL is a secret, read at each send from the environment variable named by
the channel's `url_env` (by default `RANKBOT_WEBHOOK_<NAME>`), never stored and never logged.

HTTP answers become the three outcomes delivery understands: 2xx → SENT; 429 → RETRY after
`Retry-After`; 5xx, 408 and network errors or timeouts → RETRY with backoff; 401/403/404/410 →
PERMANENT for lack of access ("webhook deleted or forbidden": the channel is paused, the post
kept for `resume`; retrying those in a loop gets an IP banned on Discord); any other 4xx →
PERMANENT for its content, since sending the same body again cannot succeed. Only a few
kilobytes of any answer are read (`post_json`).

Generic `webhook` channels get the rendered plain text as is: rankbot does not know what the
receiver treats as markup. Slack and Discord webhooks have their own senders, which escape.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import httpx

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.webhook_urls import UrlEnv, env_name, lookup
from bot.net.bodies import Answer, post_json
from bot.net.retry import parse_retry_after
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer
from bot.render.text import render_text
from bot.store.protocols import ACCESS, CONTENT

GONE = frozenset({401, 403, 404, 410})


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        renderer: Renderer,
        *,
        url_env: UrlEnv = env_name,
        environ: Mapping[str, str] | None = None,
        max_chars: int | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """`url_env(channel)` names the variable holding the channel's URL (`[[channels]]
        url_env`); it is read from `environ` (default: the process environment) at each send
        (`bot.delivery.webhook_urls`)."""
        self._client = client
        self._renderer = renderer
        self._url_env = url_env
        self._environ = environ
        self._max_chars = max_chars
        self._clock = clock
        self._rendered: PerMessage[str] = PerMessage()

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        found = lookup(channel, self._url_env, self._environ)
        url = found.url
        if url is None:
            return found.unset()
        text = self._rendered.get(
            message, None, lambda: render_text(self._renderer, message, max_chars=self._max_chars)
        )
        try:
            answer = await post_json(self._client, url, {"text": text})
        except httpx.TimeoutException:
            return SendResult(SendStatus.RETRY, reason="webhook timed out")
        except httpx.TransportError as exc:  # the message may hold the URL: type name only
            return SendResult(SendStatus.RETRY, reason=f"network error ({type(exc).__name__})")
        return webhook_result(answer, self._clock())


def webhook_result(answer: Answer, now: datetime, *, what: str = "webhook") -> SendResult:
    """What a webhook's HTTP status means for delivery (see the module docstring)."""
    status = answer.status
    if 200 <= status < 300:
        return SendResult(SendStatus.SENT)
    if status == 429:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), now)
        return SendResult(
            SendStatus.RETRY, retry_after=retry_after, reason="rate limited (HTTP 429)"
        )
    if status >= 500 or status == 408:
        return SendResult(SendStatus.RETRY, reason=f"{what} server error (HTTP {status})")
    if status in GONE:
        return SendResult(
            SendStatus.PERMANENT,
            reason=f"{what} deleted or forbidden (HTTP {status})",
            failure=ACCESS,
        )
    return SendResult(
        SendStatus.PERMANENT,
        reason=f"{what} rejected the post (HTTP {status})",
        failure=CONTENT,
    )
