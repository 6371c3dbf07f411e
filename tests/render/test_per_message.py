"""Rendered output is cached per message: a fan-out renders each message once."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.messages import ChannelRef, Message
from bot.render.per_message import PerMessage


def test_one_render_per_message_and_variant() -> None:
    cache: PerMessage[str] = PerMessage(size=2)
    renders: list[str] = []

    def render(text: str) -> str:
        renders.append(text)
        return text.upper()

    first, second = Message(notice="a"), Message(notice="b")
    for _ in range(3):
        assert cache.get(first, "text", lambda: render("a")) == "A"
    assert cache.get(first, "blocks", lambda: render("a blocks")) == "A BLOCKS"
    assert cache.get(second, "text", lambda: render("b")) == "B"  # the oldest entry goes
    assert cache.get(first, "text", lambda: render("a")) == "A"
    assert renders == ["a", "a blocks", "b", "a"]


def test_an_equal_but_other_message_is_rendered_for_itself() -> None:
    cache: PerMessage[str] = PerMessage()
    assert cache.get(Message(notice="x"), None, lambda: "first") == "first"
    assert cache.get(Message(notice="x"), None, lambda: "second") == "second"


async def test_the_webhook_sender_renders_a_fanned_out_message_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from bot.platforms import webhook
    from bot.render.templates import Renderer

    calls: list[str] = []
    real = webhook.render_text

    def counting(renderer: Renderer, message: Message, **kw: Any) -> str:
        calls.append(message.notice or "")
        return real(renderer, message, **kw)

    monkeypatch.setattr(webhook, "render_text", counting)
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with httpx.AsyncClient(transport=transport) as client:
        environ = {f"RANKBOT_WEBHOOK_C{i}": f"https://hooks.test/{i}" for i in range(3)}
        sender = webhook.WebhookSender(client, Renderer(), environ=environ)
        message = Message(notice="🏆 New #1")
        for i in range(3):
            channel = ChannelRef("webhook", "config", f"c{i}")
            result = await sender.send(channel, message, idempotency_key=f"k{i}")
            assert result.status.value == "sent"
    assert calls == ["🏆 New #1"]
