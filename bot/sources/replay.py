"""The replay source: recorded snapshots (a JSON Lines history file) played back as polls.

For dry runs, the demo and tests: the same poller, store and planner as live data, no network.
`ReplaySource` hands the snapshots over poll by poll; `TimedReplay` releases them as a
(virtual) clock passes their publication, for `rankbot backtest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.core.history_format import read_history
from bot.core.model import Snapshot
from bot.core.source_health import Notice
from bot.sources.base import Fetched
from bot.store.protocols import Store


def load_history(path: Path) -> list[Snapshot]:
    """Every snapshot of a history file; `HistoryError` names the file and line of a bad one."""
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:
        return list(read_history(handle, name=str(path)))


class ReplaySource:
    """A `Source` over recorded snapshots.

    Each poll hands over the next `per_poll` snapshots (all that are left by default), and
    the next poll is `interval` later; the store's own dedup makes re-reading harmless. A
    replay keeps no health and uses `[detect] confirm` for every period.
    """

    name = "replay"
    outage_hours = 24.0

    def __init__(
        self,
        snapshots: Sequence[Snapshot],
        *,
        per_poll: int | None = None,
        interval: timedelta = timedelta(hours=1),
    ) -> None:
        self._left = list(snapshots)
        self._per_poll = per_poll
        self._interval = interval

    @classmethod
    def from_file(cls, path: Path, **kwargs: Any) -> ReplaySource:
        return cls(load_history(path), **kwargs)

    @property
    def exhausted(self) -> bool:
        return not self._left

    async def fetch_new(self, store: Store, now: datetime) -> Fetched:
        count = len(self._left) if self._per_poll is None else self._per_poll
        batch, self._left = self._left[:count], self._left[count:]
        return Fetched(news=batch)

    def next_poll(self, now: datetime) -> datetime:
        return now + self._interval

    def confirm_for(self, period: str) -> int | None:
        return None

    async def health_notice(self, store: Store, now: datetime) -> Notice | None:
        return None


class TimedReplay:
    """A `Source` over recorded snapshots released as a (virtual) clock passes their dates.

    For `rankbot backtest`: a snapshot covering up to day D is published the next day at
    `published_at` UTC, as the live Data API publishes a day the next morning, so the real
    poller on a virtual clock sees the history arrive day by day. What was published before
    `start` comes back from the first poll as `Fetched.baseline` (stored silently: the
    backtest compares against real history from its first day). It keeps no health and uses
    `[detect] confirm` for every period, like `ReplaySource`.
    """

    name = "replay"
    outage_hours = 24.0

    def __init__(
        self, snapshots: Sequence[Snapshot], *, start: datetime, published_at: time = time(2, 10)
    ) -> None:
        self._published_at = published_at
        self._left = sorted(snapshots, key=self.published)
        self._start = start
        self._first = True

    def published(self, snapshot: Snapshot) -> datetime:
        return datetime.combine(snapshot.as_of + timedelta(days=1), self._published_at, tzinfo=UTC)

    async def fetch_new(self, store: Store, now: datetime) -> Fetched:
        out = [s for s in self._left if self.published(s) <= now]
        self._left = self._left[len(out) :]
        if not self._first:
            return Fetched(news=out)
        self._first = False
        old = [s for s in out if self.published(s) < self._start]
        return Fetched(news=out[len(old) :], baseline=old)

    def next_poll(self, now: datetime) -> datetime:
        """The next publication, or a day later when the history is used up."""
        upcoming = (self.published(s) for s in self._left)
        return next((t for t in upcoming if t > now), now + timedelta(days=1))

    def confirm_for(self, period: str) -> int | None:
        return None

    async def health_notice(self, store: Store, now: datetime) -> Notice | None:
        return None
