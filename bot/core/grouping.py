"""How a grouped post is laid out: one section per snapshot, newest first.

Why a rule of its own: a post may hold the events of many snapshots (a day and its rolling
week, several days caught up after an outage, a week's digest). Ordering them by importance
alone mixed dates ("12 changes in the weekly ranking of 2026-01-19" holding events up to
2026-02-16). So every flavour (text, Slack, Discord), the planner's key and its chart rule use
these few functions, and nothing else decides the order:

- `sections(events)`: one `Section` per snapshot `(source, period, as_of)`, the newest first
  (so a post cut to fit drops the oldest snapshot's least important events first), and inside
  a section the events by importance, then rank, then subject;
- `ordered(events)`: the same order, flat (what a `Message` holds);
- `span(events)`: what a headline must name: how many events and snapshots, which dates;
- `citation(events)`: the one attribution line a post ends with, the newest snapshot's;
- `window_label`, `day_label`, `date_span`: how a snapshot's window and a span of dates
  read ("7 days to 11 Apr 2026": a rolling window is not a calendar week).

Pure: events in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.core.events import Event
from bot.core.model import PERIODS, WINDOW_DAYS

_PERIOD_ORDER: dict[str, int] = {period: i for i, period in enumerate(PERIODS)}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Section:
    """The events of one snapshot, most important first."""

    source: str
    period: str
    as_of: date
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """What a grouped post holds, for its headline: `period` is set when every event comes
    from one snapshot (the headline then names that snapshot's window)."""

    events: int
    snapshots: int
    first: date
    last: date
    period: str | None


def _rank(event: Event) -> int:
    value = event.fields.get("rank")
    return value if isinstance(value, int) else 1_000_000


def by_importance(events: Iterable[Event]) -> list[Event]:
    """Most important kind first, then by rank, then by subject (a total, stable order)."""
    return sorted(events, key=lambda e: (e.importance, _rank(e), e.subject))


def sections(events: Iterable[Event]) -> list[Section]:
    """One section per snapshot, newest `as_of` first; snapshots of the same date by their
    most important event, then day before week before month, then source."""
    groups: dict[tuple[str, str, date], list[Event]] = {}
    for event in events:
        groups.setdefault((event.source, event.period, event.as_of), []).append(event)
    out = [
        Section(source, period, as_of, tuple(by_importance(group)))
        for (source, period, as_of), group in groups.items()
    ]
    out.sort(
        key=lambda s: (
            -s.as_of.toordinal(),
            s.events[0].importance,
            _PERIOD_ORDER.get(s.period, len(_PERIOD_ORDER)),
            s.source,
        )
    )
    return out


def ordered(events: Iterable[Event]) -> list[Event]:
    """Every event in section order: newest snapshot first, by importance inside it."""
    return [event for section in sections(events) for event in section.events]


def span(events: Sequence[Event]) -> Span:
    """How many events and snapshots `events` hold and the dates they cover (not empty)."""
    if not events:
        raise ValueError("a span needs at least one event")
    snapshots = {(e.source, e.period, e.as_of) for e in events}
    dates = [e.as_of for e in events]
    periods = {period for _, period, _ in snapshots}
    one = len(snapshots) == 1
    return Span(len(events), len(snapshots), min(dates), max(dates), periods.pop() if one else None)


def citation(events: Iterable[Event]) -> str | None:
    """The attribution of the newest snapshot that has one: the one line a post ends with."""
    for section in sections(events):
        for event in section.events:
            if event.attribution:
                return event.attribution
    return None


def newest(events: Iterable[Event]) -> list[Event]:
    """The events of the newest date in `events`, in section order (the planner charts one
    of these, never an older snapshot's)."""
    listed = ordered(events)
    if not listed:
        return []
    last = listed[0].as_of
    return [e for e in listed if e.as_of == last]


def day_label(day: date) -> str:
    """`11 Apr 2026`: unambiguous in every locale, unlike 04/11."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def date_span(first: date, last: date) -> str:
    """`11 Apr 2026`, `19 Jan – 16 Feb 2026`, or `28 Dec 2025 – 3 Jan 2026`."""
    if first == last:
        return day_label(last)
    if first.year == last.year:
        return f"{first.day} {_MONTHS[first.month - 1]} – {day_label(last)}"
    return f"{day_label(first)} – {day_label(last)}"


def window_label(period: str, as_of: date) -> str:
    """What a snapshot covers: `11 Apr 2026` (a day), `7 days to 11 Apr 2026` (a week)."""
    days = WINDOW_DAYS.get(period, 1)
    return day_label(as_of) if days == 1 else f"{days} days to {day_label(as_of)}"
