"""A client-side limiter that keeps rankbot under OpenRouter's Data API limits.

The API allows 30 requests a minute per key and 500 a day per account. rankbot counts every
request it sends in sliding windows (a request sent at t frees its slot at t + window), so no
window of 60 s ever holds more than 30 requests, even across a minute boundary, and it never
relies on the server's 429 to slow down. Waiting for the minute window is cheap; running out
of the day's budget is not waited out (that could take hours): it raises `BudgetExhausted`
so a backfill stops cleanly and resumes later.

Both windows are `bot.net.sliding_window.SlidingWindow`, the primitive delivery's rate limits
use too; the policy differs (a full day window raises instead of waiting, and one lock
serialises the requests). `RequestLimiter` adds the waiting, with the clock and `sleep`
injected so tests run a day of requests in virtual time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.errors import SourceError
from bot.net.sliding_window import SlidingWindow

PER_MINUTE = 30
PER_DAY = 500


class BudgetExhausted(SourceError):
    """The day's request budget is spent; `retry_in` seconds until a slot frees."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(
            f"the OpenRouter Data API budget of {PER_DAY} requests a day is spent; "
            f"try again in {retry_in / 3600:.1f} h"
        )
        self.retry_in = retry_in


class RequestLimiter:
    """`await limiter.acquire()` before each request: waits for the minute window, raises
    `BudgetExhausted` when the day window is full."""

    def __init__(
        self,
        *,
        per_minute: int = PER_MINUTE,
        per_day: int = PER_DAY,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.minute = SlidingWindow(per_minute, 60.0)
        self.day = SlidingWindow(per_day, 86_400.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                day_wait = self.day.wait(now)
                if day_wait > 0:
                    raise BudgetExhausted(day_wait)
                minute_wait = self.minute.wait(now)
                if minute_wait <= 0:
                    self.minute.record(now)
                    self.day.record(now)
                    return
                await self._sleep(minute_wait)
