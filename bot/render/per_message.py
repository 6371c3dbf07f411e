"""Rendered output cached per message: one alert fanned out to 2,000 channels is rendered once.

The outbox hands every post of the same body the same `Message` object (`Outbox.head`), so
a sender can keep what it rendered for a message and reuse it for the next channel. The
cache is keyed by the message object itself (kept alive while cached, so its identity cannot
be taken by another) and bounded: rendering is pure, so forgetting only costs a re-render.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from bot.core.messages import Message

T = TypeVar("T")

SIZE = 64
"""Messages remembered: a poll's distinct bodies are a few dozen."""


class PerMessage(Generic[T]):
    """`cache.get(message, variant, render)`: `render()` once per message and variant."""

    def __init__(self, size: int = SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, Hashable], tuple[Message, T]] = OrderedDict()

    def get(self, message: Message, variant: Hashable, render: Callable[[], T]) -> T:
        key = (id(message), variant)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is message:
            self._entries.move_to_end(key)
            return entry[1]
        value = render()
        self._entries[key] = (message, value)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value
