"""The one rate-limit primitive: at most `limit` events in any window of `seconds`.

Both limiters of rankbot count this way: delivery's per-channel and per-platform limits
(`bot.delivery.rate_limits`) and the OpenRouter client's request budget
(`bot.sources.openrouter.limiter`). Each event's time is kept until it leaves the window, so no
window ever holds more than `limit` events, even across a boundary. That is stricter than a
bucket refilling at a steady rate, which lets a burst of 5 be followed by a 6th event one
second later: a platform counting "5 per 5 s" answers that with a 429.

Pure: times are passed in (seconds on any monotonic scale); the limiters add the waiting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

RESOLUTION = 1e-6
"""Times here count microseconds at best: an event due to leave within one has left, or float
rounding (7.299641 + 1.0 - 8.299641 = 1.8e-15) would have a waiter sleep for nothing forever."""


@dataclass(slots=True)
class SlidingWindow:
    """At most `limit` events in any `seconds`; `sent` holds the times of the recent ones."""

    limit: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self.sent and self.sent[0] + self.seconds <= now + RESOLUTION:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[0] + self.seconds - now

    def record(self, now: float) -> None:
        """Count an event at `now`; the caller checked `wait(now) == 0`."""
        self.sent.append(now)
