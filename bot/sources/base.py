"""The seam between the engine and a ranking source: the `Source` protocol and its `Fetched`.

Everything the engine (`bot.engine.poller`) asks of a source is declared here, and nothing
else: no `getattr` probing for optional hooks. A source answers every hook, with a neutral
answer when it has nothing to say (a replay file keeps no health, so it never owes a notice).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.core.model import Snapshot
from bot.core.planning import CatchUp
from bot.core.source_health import Notice
from bot.store.protocols import Store


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one poll of a source brought, for the engine to store.

    - `news`: snapshots to ingest as news (store → detect → plan), oldest first;
    - `baseline`: history to store silently (a backfill): stored, never announced, and the
      detector state rebuilt from it, so the first news after it compares against real data;
    - `on_stored`: what the source records once the engine has stored `baseline` and
      `news`, in the same atomic write (a backfill or a catch-up marks itself complete only
      then, so a crash in between repeats the harmless work instead of losing it);
    - `caught_up`: set when this poll filled a gap after an outage and put its older
      snapshots into `baseline`: every post planned from `news` then says so in one line.

    The source never calls the engine itself: sources sit below the engine.
    """

    news: list[Snapshot] = field(default_factory=list)
    baseline: list[Snapshot] = field(default_factory=list)
    on_stored: Callable[[Store], Awaitable[None]] | None = None
    caught_up: CatchUp | None = None


class Source(Protocol):
    """A ranking source: the live OpenRouter API, a replay file, a test double.

    The hooks, and who calls them:

    - `fetch_new(store, now)`: the poller, once `next_poll` has come. Returns a `Fetched`; it
      may keep its own raw data in the store (OpenRouter's daily rows) and raises on failure
      (the poller logs it, records nothing, and asks again at the next poll);
    - `next_poll(now)`: when asking again can find something new, so the poller never
      hammers a source that cannot have changed;
    - `confirm_for(period)`: how many consecutive snapshots a change of `period` must hold
      before it is news (a rolling week wobbles; a published day does not), or None for
      `[detect] confirm`;
    - `health_notice(store, now)`: the outage or recovery notice due now, each exactly once
      (the source records it as given; the engine calls this inside the same atomic write as
      the enqueue, so a crash can neither lose nor repeat it), or None;
    - `outage_hours`: how long without new data counts as an outage (quoted in the notice).

    Adding a second source, say a CSV export published weekly, is one class:

        class CsvSource:
            name = "csv-weekly"
            outage_hours = 24.0 * 8

            def __init__(self, url: str) -> None:
                self._url = url

            async def fetch_new(self, store: Store, now: datetime) -> Fetched:
                rows = await download(self._url)          # raise on failure
                return Fetched(news=[to_snapshot(rows)])  # the store drops repeats

            def next_poll(self, now: datetime) -> datetime:
                return now + timedelta(days=1)

            def confirm_for(self, period: str) -> int | None:
                return None                               # [detect] confirm

            async def health_notice(self, store: Store, now: datetime) -> Notice | None:
                return None                               # keeps no health record

    and one line in the composition root (`bot.app.build_source`) that builds it. Its
    snapshots carry `source = "csv-weekly"`, so they form their own streams in the store,
    their own detector state, and events keyed by source: nothing else changes.
    """

    name: str

    @property
    def outage_hours(self) -> float: ...

    async def fetch_new(self, store: Store, now: datetime) -> Fetched: ...

    def next_poll(self, now: datetime) -> datetime: ...

    def confirm_for(self, period: str) -> int | None: ...

    async def health_notice(self, store: Store, now: datetime) -> Notice | None: ...
