"""A source's health record: what the source last managed, and the notices it is owed.

The record lives in the store under `bot.store.keys.health(source)` as a JSON object, written
by the source after every attempt (`bot.store.source_health`) and read by `status` and by the
planner that posts outage notices. Keys (times are ISO 8601 UTC strings, dates `YYYY-MM-DD`,
absent = null):

- `consecutive_failures` (int): attempts in a row that failed (HTTP, timeout, bad payload);
- `failing_since`: the first failure of the current streak;
- `last_attempt`: the last time the source was asked;
- `last_good_fetch`: the last time a payload was fetched and accepted;
- `last_error` (str): the last failure, in operator words (never a key or token);
- `newest_day`: the newest complete day held; `newest_as_of`: the source's own timestamp of it;
- `suspect_rejections` (int): payloads or days rejected as suspect, ever;
- `last_rejection` (str): the latest of them, with its reason;
- `next_poll`: when the source will ask again;
- `outage_notified` (bool): an outage notice went out and no recovery notice yet.

Pure values: when an outage becomes news is the source's rule (OpenRouter's is in
`bot.sources.openrouter.health`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

Notice = Literal["outage", "recovery"]
"""The two source-health notices: one after a sustained outage, one on recovery."""


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
