"""A planner that sends every event to two channels: the poller's tests need no subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import ChannelRef, Message


@dataclass(frozen=True)
class Post:
    channel: ChannelRef
    message: Message
    key: str


@dataclass
class TwoChannelPlanner:
    """Every event to two channels, one message per snapshot; a notice held back once."""

    channels: tuple[ChannelRef, ...] = (
        ChannelRef("console", "", "a"),
        ChannelRef("console", "", "b"),
    )
    held: list[Post] = field(default_factory=list)

    def after_ingest(
        self, events: list[Event], now: datetime, *, note: str | None = None
    ) -> list[Post]:
        if not events:
            return []
        keys = "+".join(e.key for e in events)
        message = Message(events=tuple(events), note=note)
        return [Post(c, message, f"{c.key}|{keys}") for c in self.channels]

    def flush_due(self, now: datetime) -> list[Post]:
        held, self.held = self.held, []
        return held
