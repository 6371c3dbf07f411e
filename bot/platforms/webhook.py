"""The generic JSON webhook sender: POST `{"text": ...}` to a URL kept in the environment.

It serves `webhook` channels. A webhook channel is known by the name given in
`[[channels]]`; its URL is a secret, read at each send from the environment variable named by
the channel's `url_env` (by default `RANKBOT_WEBHOOK_<NAME>`), never stored and never logged.

HTTP answers become the outcomes delivery understands as for every webhook
(`bot.delivery.webhook_answers`); network errors and timeouts → RETRY with backoff. Only a
few kilobytes of any answer are read (`post_json`).

Generic `webhook` channels get the rendered plain text as is: rankbot does not know what the
receiver treats as markup. Slack and Discord webhooks have their own senders, which escape.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.webhook_answers import webhook_result
from bot.delivery.webhook_urls import UrlEnv, env_name, lookup
from bot.net.bodies import post_json
from bot.render.per_message import PerMessage
from bot.render.templates import Renderer
from bot.render.text import render_text


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
