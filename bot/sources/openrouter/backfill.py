"""Backfill: fetch OpenRouter's history in date ranges and store it as a silent baseline.

The dataset starts on 2025-01-01; one request returns up to 30 days (51 rows each), so 18
months take 19 requests, far inside 30/min and 500/day (every request still passes the
limiter). Each range's days are stored together with a progress mark in one atomic write
(`fetch_ranges`, which the poll catching up after an outage uses too), so an interrupted
backfill (Ctrl-C, a 500 that outlasted the retries, the day's budget spent) resumes after the
last range it completed. Only when every range is in are the day, week and
month snapshots derived and handed to the engine as a `Fetched.baseline`, which it stores
through `bot.engine.ingest.store_baseline`: history, not news, so `/top` and charts have data
at once and the first live alert compares against real figures. The backfill is marked
complete by the same write (`BackfillReport.as_fetched`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TextIO

from bot.core.model import Snapshot
from bot.net.slices import Slices
from bot.sources.base import Fetched
from bot.sources.openrouter.api import OpenRouterApi
from bot.sources.openrouter.daystore import load_days, upsert_days
from bot.sources.openrouter.rows import Day, parse_payload, screen
from bot.sources.openrouter.windows import in_order, window_snapshots
from bot.store import keys
from bot.store.protocols import Store

log = logging.getLogger("rankbot.openrouter")

SOURCE = "openrouter"
CHUNK_DAYS = 30
"""Days per request: what the API returns by default, so a request never asks for more."""
FIRST_DAY = date(2025, 1, 1)


def plan_ranges(since: date, until: date, chunk: int = CHUNK_DAYS) -> list[tuple[date, date]]:
    """Consecutive inclusive ranges of at most `chunk` days covering `since` … `until`."""
    since = max(since, FIRST_DAY)
    ranges = []
    start = since
    while start <= until:
        end = min(start + timedelta(days=chunk - 1), until)
        ranges.append((start, end))
        start = end + timedelta(days=1)
    return ranges


def remaining(ranges: list[tuple[date, date]], state: Any, since: date) -> list[tuple[date, date]]:
    """The ranges an earlier run of the same backfill (same `since`) has not completed."""
    if not isinstance(state, dict) or state.get("since") != since.isoformat():
        return ranges
    done = state.get("done_through")
    return [r for r in ranges if done is None or r[1].isoformat() > done]


@dataclass(frozen=True, slots=True)
class BackfillReport:
    ranges: int
    requests: int
    days: int
    """Days stored or restated by this run."""
    rejected: list[str]
    baseline: list[Snapshot]
    """The day, week and month history derived from every held day since `since`."""
    since: date
    until: date

    def as_fetched(self) -> Fetched:
        """The history for the engine to store silently; once stored, the backfill is
        complete (in the same write: a crash before it repeats the harmless baseline)."""
        return Fetched(baseline=self.baseline, on_stored=self._mark_complete)

    async def _mark_complete(self, store: Store) -> None:
        since, until = self.since.isoformat(), self.until.isoformat()
        await store.state.set(
            keys.backfill(SOURCE), {"since": since, "done_through": until, "complete": True}
        )


class ProgressBar:
    """`backfill [########............] 8/19 ranges, through 2025-08-28` on one stderr line."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.width = width

    def show(self, done: int, note: str = "") -> None:
        filled = self.width * done // self.total if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        tail = f", {note}" if note else ""
        self.stream.write(f"\rbackfill [{bar}] {done}/{self.total} ranges{tail}")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class RangesFetched:
    stored: list[date]
    """Days new or restated, oldest first."""
    rejected: list[str]
    requests: int


async def fetch_ranges(
    store: Store,
    api: OpenRouterApi,
    ranges: Iterable[tuple[date, date]],
    held: dict[date, Day],
    *,
    today: date,
    progress_key: str | None = None,
    progress: Callable[[date], Any] | None = None,
    on_range: Callable[[date], None] | None = None,
    with_last: Callable[[list[str]], Awaitable[None]] | None = None,
) -> RangesFetched:
    """Fetch `ranges` in order; each range's days are stored together with its progress
    mark (`store.state.set(progress_key, progress(end))`, when given) in one transaction, so
    a run that stops (budget spent, an outage outlasting the retries) resumes after its last
    whole range. `with_last(rejected)` runs inside the last range's transaction: what the
    caller records about a fetch that succeeded commits with its days (one commit, not two).

    The backfill and the poll that catches up after an outage both fetch this way. `held`
    is updated in place. Raises what the API raises (or `SuspectPayload`).
    """
    first_request = api.requests
    stored: list[date] = []
    rejected: list[str] = []
    ranges = list(ranges)
    for index, (start, end) in enumerate(ranges):
        payload = await api.rankings_daily(start, end)
        parsed = parse_payload(payload, today=today)
        eves = {day.date - timedelta(days=1) for day in parsed.days}  # what `screen` compares
        accepted, jumps = screen(parsed.days, {d: held[d].total for d in eves if d in held})
        for rejection in (*parsed.rejected, *jumps):
            log.warning("OpenRouter day rejected as suspect: %s", rejection)
            rejected.append(str(rejection))
        async with store.transaction():
            stored += await upsert_days(store.days, accepted, held)
            if progress_key is not None and progress is not None:
                await store.state.set(progress_key, progress(end))
            if with_last is not None and index == len(ranges) - 1:
                await with_last(rejected)
        if on_range is not None:
            on_range(end)
    if with_last is not None and not ranges:  # nothing left to ask: it succeeded all the same
        async with store.transaction():
            await with_last(rejected)
    return RangesFetched(stored, rejected, api.requests - first_request)


async def backfill(
    store: Store,
    api: OpenRouterApi,
    *,
    since: date,
    now: datetime,
    periods: Iterable[str],
    name: Callable[[str], str],
    progress: ProgressBar | None = None,
    chunk: int = CHUNK_DAYS,
) -> BackfillReport:
    """Fetch every range not yet done up to yesterday, then derive the baseline snapshots
    (`BackfillReport.baseline`, for the engine to store: `as_fetched`).

    Raises what the API raises (or `SuspectPayload`); what was completed stays stored.
    """
    until = now.date() - timedelta(days=1)
    ranges = plan_ranges(since, until, chunk)
    todo = remaining(ranges, await store.state.get(keys.backfill(SOURCE)), since)
    held = await load_days(store.days)
    done = len(ranges) - len(todo)
    if progress is not None:
        progress.total = len(ranges)
        progress.show(done, "resuming" if done else "")

    def show(end: date) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress.show(done, f"through {end.isoformat()}")

    fetched = await fetch_ranges(
        store,
        api,
        todo,
        held,
        today=now.date(),
        progress_key=keys.backfill(SOURCE),
        progress=lambda end: {
            "since": since.isoformat(),
            "done_through": end.isoformat(),
            "complete": False,
        },
        on_range=show,
    )
    wanted = {d: day for d, day in held.items() if d >= since}
    # a year of windows is seconds of CPU: derived in slices, the event loop gets turns
    slices = Slices()
    derived = []
    for snapshot in window_snapshots(wanted, held, periods, name, fetched_at=now):
        derived.append(snapshot)
        await slices.pause()
    snapshots = in_order(derived)
    return BackfillReport(
        len(todo), fetched.requests, len(fetched.stored), fetched.rejected, snapshots, since, until
    )


def is_complete(state: Any) -> bool:
    return isinstance(state, dict) and bool(state.get("complete"))
