"""Rate limits: a token bucket per channel and one per platform, on an injected clock.

A bucket holds `messages` tokens and each spent token comes back `seconds` after it was spent,
so no window of `seconds` ever sees more than `messages` posts. That is stricter than a bucket
refilling at a steady rate: a steady-rate bucket lets a burst of 5 be followed by a 6th post one
second later, which a platform counting "5 per 5 s" answers with a 429. Platforms count in
windows (platform-rules.md: Slack ~1/s per channel, Discord 5 per 5 s per channel and 50/s
global), so rankbot counts the same way and, staying inside them, is not rate limited at all.

`TokenBucket` is pure (times passed in); `RateLimiter` adds the waiting, with the clock and
`sleep` injected so tests run rate limits in virtual time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.core.messages import ChannelRef


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `messages` posts in any `seconds`."""

    messages: int
    seconds: float

    def __post_init__(self) -> None:
        if self.messages < 1 or self.seconds <= 0:
            raise ValueError(f"a limit needs messages >= 1 and seconds > 0, got {self}")


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """`channel` applies to each channel alone; `platform` to all channels of the platform."""

    channel: Limit | None = None
    platform: Limit | None = None


DEFAULT_LIMITS: Mapping[str, PlatformLimits] = {
    # Slack's workspace-wide limit is not documented as a number: its 429s (honoured) and the
    # delivery concurrency cap cover it; `[delivery.limits.slack]` can add one.
    "slack": PlatformLimits(channel=Limit(1, 1.0)),
    "discord": PlatformLimits(channel=Limit(5, 5.0), platform=Limit(50, 1.0)),
    "slack-webhook": PlatformLimits(channel=Limit(1, 1.0)),
    "discord-webhook": PlatformLimits(channel=Limit(1, 1.0)),
    "webhook": PlatformLimits(channel=Limit(1, 1.0)),
    "console": PlatformLimits(),
}
"""Defaults from platform-rules.md; a platform not listed here is not limited."""


RESOLUTION = 1e-6
"""Clocks here count microseconds (datetimes): a token due back within one is back, or float
rounding (7.299641 + 1.0 - 8.299641 = 1.8e-15) would have a waiter sleep for nothing forever."""


@dataclass(slots=True)
class TokenBucket:
    """`limit.messages` tokens; a token spent at time t is back at t + `limit.seconds`."""

    limit: Limit
    spent: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        while self.spent and self.spent[0] + self.limit.seconds <= now + RESOLUTION:
            self.spent.popleft()
        if len(self.spent) < self.limit.messages:
            return 0.0
        return self.spent[0] + self.limit.seconds - now

    def take(self, now: float) -> None:
        """Spend a token at `now`; the caller checked `wait(now) == 0`."""
        self.spent.append(now)


class RateLimiter:
    """Waits until both the channel's and its platform's bucket have a token, then spends both.

    Each channel has one delivery worker, so only that worker waits on the channel bucket.
    Platform buckets are shared by every worker of the platform: a FIFO lock per platform
    means one waiter sleeps on it at a time and the others queue in order, instead of all
    waking up at once to find the single freed token taken.
    """

    def __init__(
        self,
        limits: Mapping[str, PlatformLimits],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[ChannelRef, TokenBucket] = {}
        self._platforms: dict[str, TokenBucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _bucket(self, channel: ChannelRef) -> TokenBucket | None:
        limit = self._limits.get(channel.platform, PlatformLimits()).channel
        if limit is None:
            return None
        return self._channels.setdefault(channel, TokenBucket(limit))

    def _platform_bucket(self, platform: str) -> TokenBucket | None:
        limit = self._limits.get(platform, PlatformLimits()).platform
        if limit is None:
            return None
        return self._platforms.setdefault(platform, TokenBucket(limit))

    async def wait_channel(self, channel: ChannelRef) -> None:
        """Wait until the channel's own bucket has a token, without spending it.

        Delivery waits here before taking a send slot, so a channel waiting for its own
        limit holds no slot that another channel could use.
        """
        own = self._bucket(channel)
        if own is not None:
            while (delay := own.wait(self._clock())) > 0:
                await self._sleep(delay)

    async def acquire(self, channel: ChannelRef) -> None:
        """Wait for the channel's and the platform's token, then spend both."""
        await self.wait_channel(channel)
        own = self._bucket(channel)
        shared = self._platform_bucket(channel.platform)
        if shared is not None:
            lock = self._locks.setdefault(channel.platform, asyncio.Lock())
            async with lock:
                while (delay := shared.wait(self._clock())) > 0:
                    await self._sleep(delay)
                shared.take(self._clock())
        if own is not None:
            own.take(self._clock())
