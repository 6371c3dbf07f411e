"""Parsing and validating a rankings-daily payload, before anything is stored.

The Data API is the only input rankbot trusts for OpenRouter figures, and a bad day would
become a false "new #1" the moment it is diffed. So a payload is checked here, purely, and
anything suspect is rejected with a reason (logged and counted in source health by the shell):

- the payload itself: not an object, no `data` list, a `meta.version` other than `v1`, no
  `meta.as_of`, a row without a readable date → the whole payload is rejected;
- one day: fewer than 10 models, a model listed twice, a token figure that is not a
  non-negative decimal string, a date that is not a completed UTC day, a platform total that
  jumped or fell more than 10× against the previous day → that day is rejected.

Token figures are decimal strings because they exceed 2^53; they are parsed as Python ints,
never through a float.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core.model import MAX_ID, SnapshotError, plain_text
from bot.errors import SourceError

OTHER = "other"
"""The aggregated row of every model outside the day's top 50."""
VERSION = "v1"
MIN_MODELS = 10
MAX_JUMP = 10
_DIGITS = re.compile(r"[0-9]+")


class SuspectPayload(SourceError, ValueError):
    """The payload as a whole cannot be trusted; the message says why."""


@dataclass(frozen=True, slots=True)
class Day:
    """One UTC day of the ranking: the listed models' tokens, the `other` row, and `as_of`."""

    date: date
    tokens: Mapping[str, int]
    other: int
    as_of: str

    @property
    def total(self) -> int:
        """The platform total: every listed model plus `other`."""
        return sum(self.tokens.values()) + self.other

    def to_doc(self) -> dict[str, Any]:
        """The stored form: one document per day, rows keyed by model."""
        return {
            "date": self.date.isoformat(),
            "as_of": self.as_of,
            "rows": {**{m: str(t) for m, t in self.tokens.items()}, OTHER: str(self.other)},
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Day:
        rows = {m: int(t) for m, t in doc["rows"].items()}
        other = rows.pop(OTHER, 0)
        return cls(date.fromisoformat(doc["date"]), rows, other, doc["as_of"])


@dataclass(frozen=True, slots=True)
class Rejection:
    day: date
    reason: str

    def __str__(self) -> str:
        return f"{self.day.isoformat()}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Parsed:
    as_of: str
    days: tuple[Day, ...]
    """Accepted days, oldest first."""
    rejected: tuple[Rejection, ...]


def parse_payload(payload: Any, *, today: date) -> Parsed:
    """Split a payload into per-day readings and reject what is suspect (see module doc).

    `today` is the current UTC date: only days before it are complete. The 10× check against
    the previous day is `screen`'s job, as it needs the stored history too.
    """
    if not isinstance(payload, Mapping):
        raise SuspectPayload("the payload is not a JSON object")
    meta = payload.get("meta")
    if not isinstance(meta, Mapping):
        raise SuspectPayload("the payload has no 'meta' object")
    if meta.get("version") != VERSION:
        raise SuspectPayload(
            f"unknown meta.version {meta.get('version')!r} (rankbot reads {VERSION!r})"
        )
    as_of = meta.get("as_of")
    if not isinstance(as_of, str) or not as_of.strip():
        raise SuspectPayload("meta.as_of is missing")
    rows = payload.get("data")
    if not isinstance(rows, list):
        raise SuspectPayload("the payload has no 'data' list")
    grouped: dict[date, list[Mapping[str, Any]]] = {}
    dates: dict[str, date] = {}  # a day's 50 rows name it 50 times: parse it once
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise SuspectPayload(f"row {index} is not an object")
        value = row.get("date")
        day = dates.get(value) if isinstance(value, str) else None
        if day is None:
            day = _row_date(value, index)
            if isinstance(value, str):
                dates[value] = day
        grouped.setdefault(day, []).append(row)
    days: list[Day] = []
    rejected: list[Rejection] = []
    for day in sorted(grouped):
        try:
            days.append(_day(day, grouped[day], as_of, today))
        except ValueError as exc:
            rejected.append(Rejection(day, str(exc)))
    return Parsed(as_of, tuple(days), tuple(rejected))


def screen(
    days: Iterable[Day], previous_totals: Mapping[date, int]
) -> tuple[list[Day], list[Rejection]]:
    """Reject days whose platform total moved more than 10× against the previous day's.

    The previous day is looked up among the days just accepted, then `previous_totals` (the
    stored history); a day without a known previous day is accepted.
    """
    known = dict(previous_totals)
    accepted: list[Day] = []
    rejected: list[Rejection] = []
    for day in sorted(days, key=lambda d: d.date):
        before = known.get(date.fromordinal(day.date.toordinal() - 1))
        reason = jump_reason(before, day.total)
        if reason:
            rejected.append(Rejection(day.date, reason))
            continue
        known[day.date] = day.total
        accepted.append(day)
    return accepted, rejected


def jump_reason(before: int | None, now: int) -> str | None:
    """Why a total is implausible after `before`, or None when it is plausible."""
    if before is None:
        return None
    # zero totals need no rule of their own: 0 → n > 0 is more than 10×, n → 0 less than 1/10
    if now > before * MAX_JUMP or now * MAX_JUMP < before:
        return (
            f"platform total moved more than {MAX_JUMP}x against the previous day "
            f"({before} → {now})"
        )
    return None


def _row_date(value: Any, index: int) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SuspectPayload(f"row {index}: 'date' must be a date like 2026-05-11, got {value!r}")


def _day(day: date, rows: list[Mapping[str, Any]], as_of: str, today: date) -> Day:
    if day >= today:
        raise ValueError(f"not a completed UTC day (today is {today.isoformat()})")
    tokens: dict[str, int] = {}
    other: int | None = None
    for row in rows:
        model = row.get("model_permaslug")
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"a row has no 'model_permaslug' ({row!r:.80})")
        try:
            model = plain_text(model, "'model_permaslug'", MAX_ID, spaces=False)
        except SnapshotError as exc:
            raise ValueError(str(exc)) from None
        value = parse_tokens(row.get("total_tokens"), model)
        if model == OTHER:
            if other is not None:
                raise ValueError("two 'other' rows")
            other = value
        elif model in tokens:
            raise ValueError(f"{model} is listed twice")
        else:
            tokens[model] = value
    if len(tokens) < MIN_MODELS:
        raise ValueError(f"only {len(tokens)} models (at least {MIN_MODELS} expected)")
    return Day(day, tokens, other or 0, as_of)


def parse_tokens(value: Any, model: str) -> int:
    """A non-negative decimal string (or JSON integer) as an exact int."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{model}: 'total_tokens' must be a non-negative decimal, got {value!r}")
