"""Day, week and month snapshots from stored daily rows: pure window arithmetic.

The rankings page's default view is the trailing 7 completed days, recomputed every day, so
rankbot derives the same: `week` ending on day D sums D-6 … D, `month` sums D-29 … D, and
`day` is D alone. A model that was outside some day's top 50 only has figures for the days it
was listed, so its window sum is a lower bound and marked as such (`≥`). The platform total of
a window is the sum of each day's listed models plus its `other` row, which is exact. A window
is only built when every one of its days is held: a missing day would make every figure low.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from itertools import chain, repeat
from operator import add

from bot.core.model import WINDOW_DAYS, Snapshot
from bot.sources.openrouter.rows import Day

SOURCE = "openrouter"
LENGTH: Mapping[str, int] = WINDOW_DAYS
TOP = 50


def attribution(as_of: str) -> str:
    """The citation OpenRouter's CC BY 4.0 licence requires, with the data's `meta.as_of`."""
    return f"Source: OpenRouter (openrouter.ai/rankings), as of {as_of}."


def window_dates(end: date, period: str) -> list[date]:
    """The days a `period` snapshot ending on `end` covers, oldest first."""
    n = LENGTH[period]
    return [end - timedelta(days=n - 1 - i) for i in range(n)]


def window_snapshot(
    days: Sequence[Day],
    period: str,
    name: Callable[[str], str],
    fetched_at: datetime | None = None,
) -> Snapshot:
    """Sum `days` (exactly the window's days) into one ranked snapshot of the top 50."""
    if [d.date for d in days] != window_dates(days[-1].date, period):
        raise ValueError(f"a {period} window needs {LENGTH[period]} consecutive days")
    # a month is 1,500 figures summed on every poll: the loops run in C (map, zip, Counter)
    sums: dict[str, int] = {}
    get = sums.get
    for day in days:
        tokens = day.tokens
        added = map(add, map(get, tokens, repeat(0)), tokens.values())
        sums.update(zip(tokens, added, strict=True))
    seen = Counter(chain.from_iterable(day.tokens for day in days))
    ranked = sorted(sums, key=lambda m: (-sums[m], m))[:TOP]
    as_of = max(d.as_of for d in days)
    return Snapshot.create(
        source=SOURCE,
        period=period,
        as_of=days[-1].date,
        fetched_at=fetched_at,
        entries=[
            {
                "model": m,
                "name": name(m),
                "tokens": sums[m],
                "lower_bound": seen[m] < len(days),
            }
            for m in ranked
        ],
        total=sum(d.total for d in days),
        attribution=attribution(as_of),
    )


def days_needed(first_changed: date | None, periods: Iterable[str]) -> date | None:
    """The oldest stored day a poll needs when days from `first_changed` on may change:
    the rest of the longest window ending on it, and its eve (the 10× check compares a day
    with the day before). None (every day) when `first_changed` is unknown."""
    if first_changed is None:
        return None
    return first_changed - timedelta(days=max((LENGTH[p] for p in periods), default=1))


def affected_ends(changed: Iterable[date], held: Iterable[date], period: str) -> list[date]:
    """End dates of `period` windows that include a changed day and whose days are all held."""
    held_set = set(held)
    n = LENGTH[period]
    ends = {c + timedelta(days=k) for c in changed for k in range(n)}
    return sorted(
        e for e in ends if e in held_set and all(d in held_set for d in window_dates(e, period))
    )


def snapshots_for(
    changed: Iterable[date],
    held: Mapping[date, Day],
    periods: Iterable[str],
    name: Callable[[str], str],
    fetched_at: datetime | None = None,
) -> list[Snapshot]:
    """Every snapshot a set of new or restated days changes, oldest first (day before week
    before month on the same date), ready for `pipeline.ingest` or `ingest_baseline`."""
    return in_order(window_snapshots(changed, held, periods, name, fetched_at))


def window_snapshots(
    changed: Iterable[date],
    held: Mapping[date, Day],
    periods: Iterable[str],
    name: Callable[[str], str],
    fetched_at: datetime | None = None,
) -> Iterator[Snapshot]:
    """`snapshots_for`, one at a time and unordered: a backfill derives a year of them and
    gives the event loop a turn in between (`bot.net.slices`)."""
    changed = list(changed)
    for period in periods:
        for end in affected_ends(changed, held, period):
            days = [held[d] for d in window_dates(end, period)]
            yield window_snapshot(days, period, name, fetched_at)


def in_order(snapshots: Iterable[Snapshot]) -> list[Snapshot]:
    """Oldest first; on the same date day before week before month."""
    order = {p: i for i, p in enumerate(LENGTH)}
    return sorted(snapshots, key=lambda s: (s.as_of, order[s.period]))
