"""When to try again: the one `Retry-After` parser and the one backoff, for every client.

Both the delivery of posts (`bot.delivery.workers`) and the OpenRouter client
(`bot.sources.openrouter.api`) retry, and every sender reads a platform's `Retry-After`; they
all ask here, so they cannot disagree (they once did: a `-0000` HTTP date made one parser
raise `TypeError` where another handled it).

A server's hint is never trusted blindly: whatever the header says (a number of seconds, an
HTTP date with or without a zone, `-0000`, garbage, NaN, ±inf, 1e400, a date in the year
9999), the answer is None (no usable hint) or a delay within [0, `max_seconds`], and parsing
never raises. An unbounded hint would park a channel for centuries, or overflow `datetime`
arithmetic the moment it is added to `now`.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest a server's `Retry-After` may make rankbot wait before trying again."""


def bounded_delay(
    seconds: float | None, max_seconds: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """`seconds` clamped to [0, `max_seconds`]; None for None or NaN (no usable hint)."""
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), max_seconds)


def parse_retry_after(
    value: str | None, now: datetime, *, max_seconds: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Seconds a `Retry-After` header asks for: delta-seconds or an HTTP date (RFC 9110).

    None when there is no header or it means nothing; otherwise a delay within
    [0, `max_seconds`]. A date without a zone, or with `-0000` ("no zone information"), is
    taken as UTC, which is what HTTP dates are. `now` must be timezone-aware.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except (ValueError, OverflowError):
        pass
    else:
        return bounded_delay(seconds, max_seconds)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = (moment - now).total_seconds()
    except OverflowError:  # pragma: no cover - datetime differences always fit a timedelta
        return max_seconds
    return bounded_delay(seconds, max_seconds)


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry).

    Doubles per attempt from `base` up to `cap`. With `rng`, "equal jitter": a random point
    between half and all of that step, so clients failing together do not retry together.
    """
    step = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))  # 2**64: far past any cap
    if rng is None:
        return step
    return step / 2 + rng.uniform(0, step / 2)
