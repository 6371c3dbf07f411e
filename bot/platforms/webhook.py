"""The generic JSON webhook sender: POST `{"text": ...}` to a URL kept in the environment.

It serves `webhook` channels (and Slack incoming webhooks, which take the same body, when the
Slack adapter's richer sender is not running). A webhook channel is known by the name given in
`[[channels]]`; its URL is a secret, read at each send from the environment variable named by
the channel's `url_env` (by default `RANKBOT_WEBHOOK_<NAME>`), never stored and never logged.

HTTP answers become the three outcomes delivery understands: 2xx → SENT; 429 → RETRY after
`Retry-After`; 5xx, 408 and network errors or timeouts → RETRY with backoff; 401/403/404/410 →
PERMANENT ("webhook deleted or forbidden": retrying those in a loop gets an IP banned on
Discord); any other 4xx → PERMANENT too, since sending the same body again cannot succeed.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.webhook_urls import UrlEnv, env_name, lookup
from bot.net.retry import parse_retry_after
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer
from bot.render.text import render_text

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
            response = await self._client.post(url, json={"text": text})
        except httpx.TimeoutException:
            return SendResult(SendStatus.RETRY, reason="webhook timed out")
        except httpx.TransportError as exc:  # the message may hold the URL: type name only
            return SendResult(SendStatus.RETRY, reason=f"network error ({type(exc).__name__})")
        status = response.status_code
        if 200 <= status < 300:
            return SendResult(SendStatus.SENT)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            return SendResult(
                SendStatus.RETRY, retry_after=retry_after, reason="rate limited (HTTP 429)"
            )
        if status >= 500 or status == 408:
            return SendResult(SendStatus.RETRY, reason=f"webhook server error (HTTP {status})")
        if status in GONE:
            return SendResult(
                SendStatus.PERMANENT, reason=f"webhook deleted or forbidden (HTTP {status})"
            )
        return SendResult(SendStatus.PERMANENT, reason=f"webhook rejected the post (HTTP {status})")
