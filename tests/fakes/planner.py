"""A planner that sends every event to two channels: the poller's tests need no subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.core.text import Text
from bot.engine.planner import Plan
from bot.i18n import say


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

    async def after_ingest(
        self,
        events: list[Event],
        subscriptions: list[Subscription],
        now: datetime,
        *,
        note: Text | None = None,
    ) -> Plan:
        if not events:
            return Plan()
        keys = "+".join(e.key for e in events)
        message = Message(events=tuple(events), note=say(note) if note is not None else None)
        return Plan([Planned(c, message, f"{c.key}|{keys}") for c in self.channels])

    async def flush_due(self, now: datetime) -> list[Post]:
        held, self.held = self.held, []
        return held
