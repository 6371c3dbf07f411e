"""A message as plain text, the flavour of the console and of generic JSON webhooks."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.messages import Message
from bot.render.templates import Renderer


def render_text(
    renderer: Renderer,
    message: Message,
    *,
    max_chars: int | None = None,
    escape: Callable[[str], str] = str,
) -> str:
    """Title, notice and the grouped events, fitted into `max_chars`.

    Events are dropped from the end (the oldest snapshot's least important first: they come
    in `bot.core.grouping` order) and counted in the template's "+N more" line until the text
    fits; only a single event or notice too long on its own is cut, with an ellipsis. The
    templates escape data themselves (their `md` filter); `escape` is applied to the title
    and notice, which are not templated.
    """
    head = [escape(part) for part in (message.title, message.notice) if part]
    events = message.events
    shown = len(events)
    while True:
        body = (
            renderer.group(events, shown=shown, note=message.note, lang=message.lang)
            if events
            else ""
        )
        text = "\n\n".join([*head, body] if body else head)
        if max_chars is None or len(text) <= max_chars or shown <= 1:
            break
        shown -= 1
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text
