"""The console sender: prints what a channel would receive (dry runs, the demo, debugging)."""

from __future__ import annotations

import sys
from typing import TextIO

from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.render.templates import Renderer
from bot.render.text import render_text


class ConsoleSender:
    """Writes `→ <channel>` and the rendered text to `out`; it never fails."""

    def __init__(self, renderer: Renderer, out: TextIO | None = None) -> None:
        self._renderer = renderer
        self._out = out

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        out = self._out or sys.stdout
        text = render_text(self._renderer, message)
        files = [f"📎 {a.filename} ({a.title})" for a in message.attachments]
        lines = [*text.splitlines(), *files]
        indented = "\n".join(("  " + line) if line else "" for line in lines)
        out.write(f"→ {channel.key}\n{indented}\n\n")
        out.flush()
        return SendResult(SendStatus.SENT)
