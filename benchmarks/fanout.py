"""Fan-out: one alert to 2,000 channels through fakes that enforce the platforms' limits.

Each run enqueues the alert for 2,000 channels in a real outbox (a TinyDB file in a temporary
directory, written atomically as in production), then delivers it with rankbot's delivery loop
through a fake platform that answers 429 (with the time to wait) whenever a post would exceed
its limits, and records what it accepted. Printed per run: total time, the lower bound the
limits allow, their ratio, 429s received, lost and duplicated messages.

- Discord-like: 50 posts/s for the whole bot, 5 per 5 s per channel. The lower bound is
  ~39 s, so this run uses a clock scaled 10x (delivery's clock and sleep and the fake's clock
  all run 10 times faster than real time; figures are in platform seconds). The scaling makes
  rankbot's own CPU time and disk writes count 10x: it is a pessimistic view.
- Slack-like: 1 post/s per channel, no workspace-wide limit in the fake. One post per channel
  means the limits allow everything at once (lower bound: one round trip), so the binding limit
  is rankbot's own `concurrency` (sends in flight, 16 by default): shown with 16 and with 200.

Every request takes `LATENCY` (platform time) in the fake. Run: `python benchmarks/fanout.py`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.messages import ChannelRef, Message
from bot.delivery.rate_limits import Limit, PlatformLimits
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery
from bot.store.database import Store
from bot.store.outbox import Outbox

CHANNELS = 2_000
LATENCY = 0.03
START = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


class ScaledClock:
    """Platform time running `scale` times faster than the real monotonic clock."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._origin = time.monotonic()

    def seconds(self) -> float:
        return (time.monotonic() - self._origin) * self.scale

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.scale)


@dataclass
class Window:
    """The platform's own count: at most `limit.messages` accepted in any `limit.seconds`."""

    limit: Limit
    accepted: deque[float] = field(default_factory=deque)

    def refuse_for(self, now: float) -> float:
        while self.accepted and self.accepted[0] <= now - self.limit.seconds:
            self.accepted.popleft()
        if len(self.accepted) < self.limit.messages:
            return 0.0
        return self.accepted[0] + self.limit.seconds - now


@dataclass
class LimitedPlatform:
    """A fake chat platform: 429 with the wait when a post would break a limit."""

    clock: ScaledClock
    limits: PlatformLimits
    received: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    channels: dict[ChannelRef, Window] = field(default_factory=dict)
    everything: Window | None = None

    def __post_init__(self) -> None:
        if self.limits.platform is not None:
            self.everything = Window(self.limits.platform)

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        now = self.clock.seconds()
        windows = [self.everything] if self.everything else []
        if self.limits.channel is not None:
            windows.append(self.channels.setdefault(channel, Window(self.limits.channel)))
        wait = max((w.refuse_for(now) for w in windows), default=0.0)
        await self.clock.sleep(LATENCY)
        if wait > 0:
            self.rate_limited += 1
            return SendResult(SendStatus.RETRY, retry_after=wait, reason="429")
        for w in windows:
            w.accepted.append(now)
        self.received[idempotency_key] += 1
        return SendResult(SendStatus.SENT)


async def fan_out(platform: str, limits: PlatformLimits, scale: float, concurrency: int) -> None:
    clock = ScaledClock(scale)
    fake = LimitedPlatform(clock, limits)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "db.json") as store:
        outbox = Outbox(store)
        message = Message(notice="🏆 New #1 (weekly, 2026-02-16): MiniMax M2.5 leads with 1.7T")
        keys = [f"new_leader:2026-02-16|{platform}:g:c{i:04d}" for i in range(CHANNELS)]
        with store.batch():
            for i, key in enumerate(keys):
                channel = ChannelRef(platform, "g", f"c{i:04d}")
                outbox.enqueue(channel, message, key=key, now=clock.now())
        settings = DeliverySettings(limits={platform: limits}, concurrency=concurrency)
        delivery = Delivery(outbox, {platform: fake}, settings, clock=clock.now, sleep=clock.sleep)
        began = clock.seconds()
        await delivery.run_until_idle()
        took = clock.seconds() - began
    lower = lower_bound(limits)
    lost = sum(1 for key in keys if fake.received[key] == 0)
    duplicated = sum(1 for key in keys if fake.received[key] > 1)
    clock_note = f"clock scaled {scale:g}x" if scale != 1 else "real time"
    print(
        f"{platform + '-like':15} concurrency {concurrency:3}: {took:6.2f} s "
        f"(lower bound {lower:5.2f} s, ratio {took / lower:6.2f}); 429s {fake.rate_limited}, "
        f"lost {lost}, duplicated {duplicated}; delivery retries {delivery.stats.retries} "
        f"[{clock_note}, {took / scale:.2f} s real]"
    )


def lower_bound(limits: PlatformLimits) -> float:
    """Platform seconds the limits need for CHANNELS posts, one per channel, plus a trip."""
    if limits.platform is None:
        return LATENCY
    full_windows = (CHANNELS - 1) // limits.platform.messages
    return full_windows * limits.platform.seconds + LATENCY


async def main() -> None:
    discord = PlatformLimits(channel=Limit(5, 5.0), platform=Limit(50, 1.0))
    slack = PlatformLimits(channel=Limit(1, 1.0))
    print(f"one alert to {CHANNELS} channels, {LATENCY * 1000:.0f} ms per request")
    await fan_out("discord", discord, scale=10, concurrency=16)
    await fan_out("slack", slack, scale=1, concurrency=16)
    await fan_out("slack", slack, scale=1, concurrency=200)


if __name__ == "__main__":
    asyncio.run(main())
