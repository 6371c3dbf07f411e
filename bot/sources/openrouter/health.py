"""When an outage of the OpenRouter source is news (the record itself: `bot.core.source_health`).

A new day is published each morning (UTC) for the day before, so "no new day for 24 h" is
measured from when the day after `newest_day` became complete, not from the last poll:
`overdue` is pure, and `health_transition` turns it into at most one "outage" notice per
outage and exactly one "recovery" after it, with nothing in between.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from bot.core.source_health import Health, Notice


def overdue(health: Health, now: datetime, outage_hours: float) -> bool:
    """True when no new day has come for `outage_hours` after one could have existed.

    With days held, the clock starts when the day after the newest one completed (midnight
    UTC two days after it); with none, at the first failure of the current streak.
    """
    limit = timedelta(hours=outage_hours)
    if health.newest_day is not None:
        next_complete = date.fromisoformat(health.newest_day) + timedelta(days=2)
        return now - datetime.combine(next_complete, time(0), tzinfo=UTC) >= limit
    if health.failing_since is not None:
        return now - datetime.fromisoformat(health.failing_since) >= limit
    return False


def health_transition(
    health: Health, now: datetime, *, outage_hours: float = 24.0
) -> tuple[Health, Notice | None]:
    """The health to keep and the notice due now: "outage" once when it becomes overdue,
    "recovery" once when data flows again, None otherwise."""
    late = overdue(health, now, outage_hours)
    if late and not health.outage_notified:
        return replace(health, outage_notified=True), "outage"
    if health.outage_notified and not late:
        return replace(health, outage_notified=False), "recovery"
    return health, None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
