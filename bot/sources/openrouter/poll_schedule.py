"""When to ask the Data API again: only when a new day can exist.

A day's figures appear the next morning (UTC, around 02:00). Once yesterday is held nothing
new can exist until tomorrow's publication, so the next poll is the one shortly after it
(`after_utc`, default 02:10). Until yesterday is held (publication late, an outage, a fresh
install), the source polls on a fixed grid, every `every_hours` hours from midnight UTC,
plus the `after_utc` poll: at most 9 requests a day, far inside the 500-a-day budget.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def next_poll(
    now: datetime,
    newest_day: date | None,
    *,
    every_hours: int = 3,
    after_utc: time = time(2, 10),
) -> datetime:
    """The first poll time strictly after `now` (UTC)."""
    now = now.astimezone(UTC)
    today = now.date()
    publication = datetime.combine(today, after_utc, tzinfo=UTC)
    if publication <= now:
        publication += timedelta(days=1)
    if newest_day is not None and newest_day >= today - timedelta(days=1):
        return publication
    midnight = datetime.combine(today, time(0), tzinfo=UTC)
    step = timedelta(hours=every_hours)
    grid = midnight + step * ((now - midnight) // step + 1)
    return min(grid, publication)
