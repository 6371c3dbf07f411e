"""Token buckets: no window of the platform's length ever sees more posts than it allows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.core.messages import ChannelRef
from bot.delivery.rate_limits import DEFAULT_LIMITS, Limit, PlatformLimits, RateLimiter
from tests.fakes.virtual_time import VirtualClock, run_virtual


def max_in_window(times: Sequence[float], seconds: float) -> int:
    """The most events any half-open window (t - seconds, t] holds, counting in microseconds
    as the platform's clock would (so float rounding does not invent an overlap)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - seconds + 1e-6:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_limits_must_allow_something() -> None:
    with pytest.raises(ValueError):
        Limit(0, 1.0)
    with pytest.raises(ValueError):
        Limit(1, 0)


def test_defaults_follow_the_platform_rules() -> None:
    assert DEFAULT_LIMITS["slack"].channel == Limit(1, 1.0)
    assert DEFAULT_LIMITS["discord"] == PlatformLimits(Limit(5, 5.0), Limit(50, 1.0))
    assert DEFAULT_LIMITS["webhook"].channel == Limit(1, 1.0)


def test_discord_limits_hold_per_channel_and_globally_in_virtual_time() -> None:
    channels = [ChannelRef("discord", "g", f"c{i}") for i in range(120)]
    sends: dict[ChannelRef, list[float]] = {c: [] for c in channels}

    async def main(clock: VirtualClock) -> float:
        limiter = RateLimiter(DEFAULT_LIMITS, clock=lambda: clock.t)

        async def channel_worker(channel: ChannelRef, count: int) -> None:
            for _ in range(count):
                await limiter.acquire(channel)
                sends[channel].append(clock.t)

        await asyncio.gather(
            *(channel_worker(c, 7 if i < 3 else 1) for i, c in enumerate(channels))
        )
        return clock.t

    elapsed = run_virtual(main)
    every = [t for times in sends.values() for t in times]
    assert len(every) == 3 * 7 + 117
    assert max_in_window(every, 1.0) == 50
    assert all(max_in_window(times, 5.0) <= 5 for times in sends.values())
    # 138 sends at 50/s need just over 2 s; a channel's 6th and 7th wait for its window.
    assert 5.0 <= elapsed < 6.0


def test_a_platform_without_limits_never_waits() -> None:
    async def main(clock: VirtualClock) -> float:
        limiter = RateLimiter({"console": PlatformLimits()}, clock=lambda: clock.t)
        for _ in range(100):
            await limiter.acquire(ChannelRef("console", "", "out"))
        await limiter.acquire(ChannelRef("unknown", "", "x"))
        return clock.t

    assert run_virtual(main) == 0.0
