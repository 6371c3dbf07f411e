"""Delivery's rate limits: one window per channel and one per platform, on an injected clock.

Each limit is a `bot.net.sliding_window.SlidingWindow` (the primitive the OpenRouter request
budget uses too): no window of `seconds` ever sees more than `messages` posts. Platforms count
in windows (platform-rules.md: Slack ~1/s per channel, Discord 5 per 5 s per channel and 50/s
global), so rankbot counts the same way and, staying inside them, is not rate limited at all.
What differs from the OpenRouter limiter is the policy, not the counting: delivery always
waits (a post is never dropped), per channel and per platform at once.

`RateLimiter` does the waiting, with the clock and `sleep` injected so tests run rate limits in
virtual time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.core.messages import ChannelRef
from bot.net.sliding_window import SlidingWindow


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


MARGIN = 0.01
"""Each window is counted this much longer than the platform's: a post is counted when it is
sent, the platform counts it when it arrives, and arrival times jitter by a few ms."""

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
        margin: float = MARGIN,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._margin = 1.0 + margin
        self._channels: dict[ChannelRef, SlidingWindow] = {}
        self._platforms: dict[str, SlidingWindow] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _bucket(self, channel: ChannelRef) -> SlidingWindow | None:
        limit = self._limits.get(channel.platform, PlatformLimits()).channel
        if limit is None:
            return None
        window = SlidingWindow(limit.messages, limit.seconds * self._margin)
        return self._channels.setdefault(channel, window)

    def _platform_bucket(self, platform: str) -> SlidingWindow | None:
        limit = self._limits.get(platform, PlatformLimits()).platform
        if limit is None:
            return None
        window = SlidingWindow(limit.messages, limit.seconds * self._margin)
        return self._platforms.setdefault(platform, window)

    async def wait_channel(self, channel: ChannelRef) -> None:
        """Wait until the channel's own bucket has a token, without spending it.

        Delivery waits here before taking a send slot, so a channel waiting for its own
        limit holds no slot that another channel could use. Each channel has one worker, so
        the token is still there when `take` spends it.
        """
        own = self._bucket(channel)
        if own is not None:
            while (delay := own.wait(self._clock())) > 0:
                await self._sleep(delay)

    async def wait_platform(self, channel: ChannelRef) -> None:
        """Wait until the channel's platform has a token, without spending it; waiters take
        turns (FIFO), so they do not all wake up for the one token that was freed."""
        shared = self._platform_bucket(channel.platform)
        if shared is None:
            return
        lock = self._locks.setdefault(channel.platform, asyncio.Lock())
        async with lock:
            while (delay := shared.wait(self._clock())) > 0:
                await self._sleep(delay)

    def take(self, channel: ChannelRef) -> bool:
        """Spend the channel's and the platform's token if both are free now (False: wait
        again). Called right before the request goes out, so the windows count posts when
        they are sent, as the platform does when they arrive."""
        now = self._clock()
        own = self._bucket(channel)
        shared = self._platform_bucket(channel.platform)
        if (own is not None and own.wait(now) > 0) or (shared is not None and shared.wait(now) > 0):
            return False
        for window in (own, shared):
            if window is not None:
                window.record(now)
        return True

    async def acquire(self, channel: ChannelRef) -> None:
        """Wait for the channel's and the platform's token, then spend both."""
        while True:
            await self.wait_channel(channel)
            await self.wait_platform(channel)
            if self.take(channel):
                return
