"""Source health: what the OpenRouter source last managed, and when an outage is news.

The record lives in the store under `HEALTH_KEY` (`"health:openrouter"`) as a JSON object,
written by the source after every attempt and read by `status` and by the poller that posts
outage notices. Keys (times are ISO 8601 UTC strings, dates `YYYY-MM-DD`, absent = null):

- `consecutive_failures` (int): attempts in a row that failed (HTTP, timeout, bad payload);
- `failing_since`: the first failure of the current streak;
- `last_attempt`: the last time the API was asked;
- `last_good_fetch`: the last time a payload was fetched and accepted;
- `last_error` (str): the last failure, in operator words (never the API key);
- `newest_day`: the newest complete day held; `newest_as_of`: its `meta.as_of`;
- `suspect_rejections` (int): payloads or days rejected as suspect, ever;
- `last_rejection` (str): the latest of them, with its reason;
- `next_poll`: when the source will ask again;
- `outage_notified` (bool): an outage notice went out and no recovery notice yet.

A new day is published each morning (UTC) for the day before, so "no new day for 24 h" is
measured from when the day after `newest_day` became complete, not from the last poll:
`overdue` is pure, and `health_transition` turns it into at most one "outage" notice per
outage and exactly one "recovery" after it, with nothing in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

HEALTH_KEY = "health:openrouter"

Notice = Literal["outage", "recovery"]


@dataclass(frozen=True, slots=True)
class Health:
    consecutive_failures: int = 0
    failing_since: str | None = None
    last_attempt: str | None = None
    last_good_fetch: str | None = None
    last_error: str | None = None
    newest_day: str | None = None
    newest_as_of: str | None = None
    suspect_rejections: int = 0
    last_rejection: str | None = None
    next_poll: str | None = None
    outage_notified: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Health:
        if not isinstance(data, Mapping):
            return cls()
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def succeeded(self, now: datetime, newest: date | None, newest_as_of: str | None) -> Health:
        """After an accepted fetch; `newest` is the newest day now held (if any)."""
        stamp = _iso(now)
        newest_text = newest.isoformat() if newest is not None else None
        advance = newest_text is not None and (
            self.newest_day is None or newest_text >= self.newest_day
        )
        return replace(
            self,
            consecutive_failures=0,
            failing_since=None,
            last_attempt=stamp,
            last_good_fetch=stamp,
            last_error=None,
            newest_day=newest_text if advance else self.newest_day,
            newest_as_of=newest_as_of if advance else self.newest_as_of,
        )

    def failed(self, now: datetime, error: str) -> Health:
        return replace(
            self,
            consecutive_failures=self.consecutive_failures + 1,
            failing_since=self.failing_since or _iso(now),
            last_attempt=_iso(now),
            last_error=error,
        )

    def rejected(self, reasons: list[str]) -> Health:
        if not reasons:
            return self
        return replace(
            self,
            suspect_rejections=self.suspect_rejections + len(reasons),
            last_rejection=reasons[-1],
        )


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
