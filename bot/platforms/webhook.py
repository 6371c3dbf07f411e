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

import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.render.templates import Renderer
from bot.render.text import render_text

GONE = frozenset({401, 403, 404, 410})


def env_name(channel: ChannelRef) -> str:
    """`RANKBOT_WEBHOOK_OPS_ALERTS` for the webhook channel named `ops-alerts`."""
    return "RANKBOT_WEBHOOK_" + re.sub(r"[^A-Z0-9]+", "_", channel.channel.upper()).strip("_")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds())


class WebhookSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        renderer: Renderer,
        *,
        url_env: Callable[[ChannelRef], str] = env_name,
        environ: Mapping[str, str] = os.environ,
        max_chars: int | None = None,
        clock: Clock = utcnow,
    ) -> None:
        """`url_env(channel)` names the variable holding the channel's URL (`[[channels]]
        url_env`); it is read from `environ` at each send, so a fixed URL needs no restart."""
        self._client = client
        self._renderer = renderer
        self._url_env = url_env
        self._environ = environ
        self._max_chars = max_chars
        self._clock = clock

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        variable = self._url_env(channel)
        url = self._environ.get(variable)
        if not url:
            return SendResult(SendStatus.PERMANENT, reason=f"no webhook URL: set {variable}")
        text = render_text(self._renderer, message, max_chars=self._max_chars)
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
