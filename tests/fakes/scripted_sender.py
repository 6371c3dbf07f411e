"""A sender that answers from a script, on a virtual clock, and records every call."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from tests.fakes.virtual_time import START, VirtualClock


@dataclass
class Call:
    t: float
    channel: ChannelRef
    key: str
    outcome: str
    retry_after: float | None = None


@dataclass
class FakeSender:
    """Answers from a script (`outcomes`, one per call, then SENT) and records everything."""

    clock: VirtualClock
    choose: Callable[[ChannelRef, str], str] = lambda channel, key: "sent"
    calls: list[Call] = field(default_factory=list)
    received: dict[ChannelRef, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        outcome = self.choose(channel, idempotency_key)
        elapsed = (self.clock.now() - START).total_seconds()  # the wall clock a platform sees
        call = Call(elapsed, channel, idempotency_key, outcome)
        self.calls.append(call)
        if outcome == "sent":
            self.received[channel].append(idempotency_key)
            return SendResult(SendStatus.SENT, platform_id=f"m-{idempotency_key}")
        if outcome == "429":
            call.retry_after = 7.5
            return SendResult(SendStatus.RETRY, retry_after=7.5, reason="rate limited")
        if outcome == "500":
            return SendResult(SendStatus.RETRY, reason="server error (HTTP 500)")
        if outcome == "hang":
            await asyncio.sleep(3600)
        if outcome == "raise":
            raise ConnectionResetError("https://hooks.example/secret-token")
        return SendResult(SendStatus.PERMANENT, reason="channel_not_found")
