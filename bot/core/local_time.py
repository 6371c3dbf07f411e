"""Local-time rules of a subscription: quiet hours, digest times, mute durations.

Why a module of its own: these are the only places where a channel's wall clock matters, and
they must be right across midnight and across time zones (22:00-07:00 in Tokyo is a UTC
afternoon). Everything here is pure: the current time is always passed in, timezone-aware.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.text import T, Text
from bot.errors import UsageError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_MUTE = timedelta(days=90)


class ScheduleError(UsageError, ValueError):
    """A time, zone or duration that cannot be used; `text` says what was expected (any
    language), the exception's message is its English (config errors, logs)."""

    def __init__(self, text: Text) -> None:
        self.text = text
        super().__init__(text.english())


def parse_hhmm(text: str) -> time:
    """`07:30` or `7:30` → time(7, 30); anything else is a `ScheduleError`."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(
            T("%(text)s is not a time of day like 09:00 (24-hour HH:MM)", text=repr(text))
        )
    return time(int(match[1]), int(match[2]))


def parse_tz(name: str) -> str:
    """Check an IANA zone name (`Europe/Berlin`, `UTC`) and return it as given."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name):
        raise ScheduleError(
            T("%(name)s is not an IANA time zone like Europe/Berlin or UTC", name=repr(name))
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ScheduleError(
            T(
                "unknown time zone %(name)s: use an IANA name like Europe/Berlin or UTC",
                name=repr(name),
            )
        ) from exc
    return name


def parse_duration(text: str) -> timedelta:
    """`90m`, `2h`, `1h30m`, `3d`, `1w` → a positive duration of at most 90 days."""
    parts = re.findall(r"(\d+)\s*([wdhm])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.lower()):
        raise ScheduleError(
            T("%(text)s is not a duration like 30m, 2h, 1h30m, 3d or 1w", text=repr(text))
        )
    unit = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
    total = sum((int(n) * unit.get(u, timedelta(minutes=1)) for n, u in parts), timedelta())
    if total <= timedelta(0) or total > MAX_MUTE:
        raise ScheduleError(
            T("%(text)s: a duration must be more than 0 and at most 90 days", text=repr(text))
        )
    return total


def _at(day: datetime, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day.date(), clock, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily local time range, possibly across midnight (`22:00-07:00`)."""

    start: time
    end: time
    tz: str = "UTC"

    @classmethod
    def parse(cls, spec: str, tz: str = "UTC") -> QuietHours:
        start, sep, end = spec.partition("-")
        if not sep:
            raise ScheduleError(T("%(spec)s is not a range like 22:00-07:00", spec=repr(spec)))
        quiet = cls(parse_hhmm(start), parse_hhmm(end), parse_tz(tz))
        if quiet.start == quiet.end:
            raise ScheduleError(T("%(spec)s: start and end are the same time", spec=repr(spec)))
        return quiet

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.tz)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.tz}"

    def to_dict(self) -> dict[str, str]:
        return {"start": f"{self.start:%H:%M}", "end": f"{self.end:%H:%M}", "tz": self.tz}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuietHours:
        return cls(parse_hhmm(data["start"]), parse_hhmm(data["end"]), data["tz"])


@dataclass(frozen=True, slots=True)
class Digest:
    """One summary message `daily` or `weekly` (on `weekday`) at a local time."""

    every: str
    at: time = time(9, 0)
    tz: str = "UTC"
    weekday: int = 0
    """0 = Monday; only used by weekly digests."""

    def next_due(self, after: datetime) -> datetime:
        """The first digest time strictly after `after` (a UTC-comparable aware datetime).
        Remembered: every minute's tick asks it for each channel holding a digest, and the
        channels of one poll share their digest settings and the moment they held."""
        return _next_due(self, after)

    def _next_due(self, after: datetime) -> datetime:
        zone = ZoneInfo(self.tz)
        local = after.astimezone(zone)
        for offset in range(0, 9):
            day = local + timedelta(days=offset)
            if self.every == "weekly" and day.weekday() != self.weekday:
                continue
            candidate = _at(day, self.at, zone)
            if candidate > after:
                return candidate
        raise AssertionError("a digest time always exists within 8 days")  # pragma: no cover

    def __str__(self) -> str:
        day = f" on {WEEKDAYS[self.weekday]}" if self.every == "weekly" else ""
        return f"{self.every}{day} at {self.at:%H:%M} {self.tz}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "at": f"{self.at:%H:%M}",
            "tz": self.tz,
            "weekday": self.weekday,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Digest:
        return cls(data["every"], parse_hhmm(data["at"]), data["tz"], int(data.get("weekday", 0)))


@functools.lru_cache(maxsize=4096)
def _next_due(digest: Digest, after: datetime) -> datetime:
    return digest._next_due(after)
