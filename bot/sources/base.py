"""What the poller needs from a ranking source, whatever the source is."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.core.model import Snapshot
from bot.store.database import Store


class Source(Protocol):
    """A ranking source: the live OpenRouter API, a replay file, a test double.

    `fetch_new` returns the snapshots the poller should ingest, oldest first (it may keep its
    own raw data in the store, e.g. daily rows); `next_poll` says when asking again can
    find something new, so the poller never hammers a source that cannot have changed.
    """

    name: str

    async def fetch_new(self, store: Store, now: datetime) -> list[Snapshot]: ...

    def next_poll(self, now: datetime) -> datetime: ...
