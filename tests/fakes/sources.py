"""Source doubles for the engine's tests (the real ones are `bot.sources.*`)."""

from __future__ import annotations

from datetime import datetime

from bot.core.source_health import Health, Notice
from bot.sources.base import Fetched
from bot.sources.replay import ReplaySource
from bot.store.protocols import Store
from bot.store.source_health import write_health


class FailingSource:
    """A source whose health says: an outage notice is due once, later a recovery once."""

    name = "openrouter"

    def __init__(self, notices: list[Notice | None]) -> None:
        self._notices = notices

    outage_hours = 24.0

    async def fetch_new(self, store: Store, now: datetime) -> Fetched:
        raise RuntimeError("HTTP 500 from the rankings API")

    def next_poll(self, now: datetime) -> datetime:
        return now

    def confirm_for(self, period: str) -> int | None:
        return None

    async def health_notice(self, store: Store, now: datetime) -> Notice | None:
        notice = self._notices.pop(0) if self._notices else None
        if notice is not None:
            health = Health(newest_day="2026-08-01", last_error="HTTP 500")
            await write_health(store.state, self.name, health)
        return notice


class UnreachableSource(ReplaySource):
    """A replay whose every poll fails the way an unreachable API does."""

    async def fetch_new(self, store: Store, now: datetime) -> Fetched:
        raise ConnectionError("rankings API unreachable")
