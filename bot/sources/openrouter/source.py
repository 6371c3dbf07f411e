"""`OpenRouterSource`: the live OpenRouter Data API as a `bot.sources.base.Source`.

Each poll asks for the last 3 completed days, validates them, upserts the raw rows, and
returns the day/week/month snapshots those days change, oldest first, as the `Fetched.news`
the poller ingests: a new day yields NEW snapshots (news), a restated day yields snapshots for
dates already held, which the store records as RESTATED (history corrected, nothing
re-announced). The first poll of a fresh store runs the backfill instead and returns its
history as `Fetched.baseline`, which the engine stores silently.

After an outage (days missing before the last 3) a poll catches up: it fetches the whole gap
in ≤30-day ranges like the backfill, each stored with a progress mark (`catch_up:<source>`)
in one atomic write, so a catch-up stopped by the day's budget or a 500 resumes at the next
poll without fetching again what it stored. Once the gap is filled, snapshots older than
`[source] announce_within_days` go into `Fetched.baseline` (silently, milestones kept), the
recent ones are news, and `Fetched.caught_up` lets every post say that rankbot caught up.
Every attempt updates the health record (`bot.core.source_health`, outage rule in
`bot.sources.openrouter.health`); a failure is recorded, then raised for the poller to log.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from bot.config.file import Config
from bot.core.model import Snapshot
from bot.core.planning import CatchUp
from bot.core.source_health import Health, Notice
from bot.errors import SourceError
from bot.sources.base import Fetched
from bot.sources.openrouter import catalogue
from bot.sources.openrouter.api import KEY_ENV, OpenRouterApi, OpenRouterError, new_client
from bot.sources.openrouter.backfill import (
    BackfillReport,
    ProgressBar,
    backfill,
    fetch_ranges,
    is_complete,
    plan_ranges,
)
from bot.sources.openrouter.daystore import load_days
from bot.sources.openrouter.health import health_transition
from bot.sources.openrouter.limiter import BudgetExhausted, RequestLimiter
from bot.sources.openrouter.poll_schedule import next_poll
from bot.sources.openrouter.rows import Day, SuspectPayload
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.windows import days_needed, snapshots_for
from bot.store import keys
from bot.store.protocols import Store
from bot.store.source_health import read_health, write_health

log = logging.getLogger("rankbot.openrouter")

POLL_DAYS = 3


@dataclass(frozen=True, slots=True)
class CatchUpProgress:
    """A catch-up after an outage: the gap's `first` day and the last day of the last range
    stored (`done_through`, None before the first), kept in the store between polls."""

    first: date
    done_through: date | None = None

    @property
    def resume_from(self) -> date:
        return self.done_through + timedelta(days=1) if self.done_through else self.first

    def mark(self, end: date) -> dict[str, str]:
        return {"first": self.first.isoformat(), "done_through": end.isoformat()}


def catch_up_progress(state: Any, newest: date | None, recent: date) -> CatchUpProgress | None:
    """The catch-up to start or resume: one under way (its mark in the store), or a gap
    (days missing after the `newest` stored day and before `recent`, the first day an
    ordinary poll asks for); None if neither."""
    if isinstance(state, dict) and state.get("first"):
        done = state.get("done_through")
        return CatchUpProgress(
            date.fromisoformat(state["first"]), date.fromisoformat(done) if done else None
        )
    if newest is not None:
        first = newest + timedelta(days=1)
        if first < recent:
            return CatchUpProgress(first)
    return None


class OpenRouterSource:
    name = "openrouter"

    def __init__(
        self,
        settings: SourceSettings,
        *,
        api_key: str | None,
        limiter: RequestLimiter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        api_class: Callable[..., OpenRouterApi] = OpenRouterApi,
    ) -> None:
        """`api_class` builds the client of each poll from the settings (a backtest passes
        one that answers from its cache: `range_cache.CachedApi`)."""
        self.settings = settings
        self._key = api_key
        self._sleep = sleep
        self.limiter = limiter or RequestLimiter(sleep=sleep)
        self._api_class = api_class
        self._newest: date | None = None
        self._http: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    @classmethod
    def from_config(cls, config: Config) -> OpenRouterSource:
        """Settings from `[source]`, the key from `$OPENROUTER_API_KEY` (never the file)."""
        return cls(config.section("source"), api_key=os.environ.get(KEY_ENV) or None)

    def api(self) -> OpenRouterApi:
        """The API client of one poll (or CLI command), on the source's one HTTP client."""
        s = self.settings
        return self._api_class(
            base_url=s.base_url,
            api_key=self._key,
            contact=s.contact,
            timeout=s.timeout,
            limiter=self.limiter,
            sleep=self._sleep,
            client=self._http_client(),
        )

    def _http_client(self) -> httpx.AsyncClient | None:
        """One per event loop (a client's pool belongs to the loop it was used in; tests and
        CLI commands each run their own loop); None outside a loop (the `OpenRouterApi`
        then makes one of its own when it is entered)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if self._http is None or self._http[0] is not loop:
            s = self.settings
            self._http = (loop, new_client(s.base_url, s.timeout, s.contact))
        return self._http[1]

    # --- the Source protocol -----------------------------------------------------------------

    async def fetch_new(self, store: Store, now: datetime) -> Fetched:
        health = await read_health(store.state, self.name)
        if not is_complete(await store.state.get(keys.backfill(self.name))):
            report = await self.run_backfill(store, now, since=self.settings.backfill_since)
            return report.as_fetched()
        stored_newest = await store.days.newest(self.name)
        yesterday = now.date() - timedelta(days=1)
        recent = yesterday - timedelta(days=POLL_DAYS - 1)
        gap = catch_up_progress(
            await store.state.get(keys.catch_up(self.name)),
            date.fromisoformat(stored_newest) if stored_newest else None,
            recent,
        )
        ranges = [(recent, yesterday)] if gap is None else plan_ranges(gap.resume_from, yesterday)
        # the days this poll can change: those it fetches, and those stored by a poll whose
        # snapshots never reached the poller (a crash in between, or a catch-up interrupted
        # before its last range); their windows need the days before them, nothing older
        latest = [
            await store.history.latest_snapshot(self.name, period)
            for period in self.settings.periods
        ]
        covered = [s.as_of for s in latest if s is not None]
        unsnapped = min(covered) + timedelta(days=1) if len(covered) == len(latest) else None
        first = min(ranges[0][0], unsnapped) if unsnapped is not None else None
        held = await load_days(store.days, since=days_needed(first, self.settings.periods))
        api = self.api()

        async def succeeded(rejected: list[str]) -> None:
            newest = max(held) if held else None
            done = health.succeeded(now, newest, held[newest].as_of if newest else None)
            await self._save(store, done.rejected(rejected), now)

        try:
            async with api:
                fetched = await fetch_ranges(
                    store,
                    api,
                    ranges,
                    held,
                    today=now.date(),
                    progress_key=None if gap is None else keys.catch_up(self.name),
                    progress=None if gap is None else gap.mark,
                    with_last=succeeded,
                )
                brought = {m for d in fetched.stored for m in held[d].tokens}
                names = await self.names(store, api, now, models=brought)
        except (OpenRouterError, BudgetExhausted, SuspectPayload) as exc:
            reason = str(exc)
            health = health.failed(now, reason)
            if isinstance(exc, SuspectPayload):
                log.warning("OpenRouter payload rejected as suspect: %s", reason)
                health = health.rejected([f"payload: {reason}"])
            await self._save(store, health, now)
            raise SourceError(reason) from None
        changed = set(fetched.stored)
        newest = max(held) if held else None
        for snapshot in latest:
            if snapshot is not None:
                changed.update(d for d in held if d > snapshot.as_of)
        snapshots = snapshots_for(
            sorted(changed), held, self.settings.periods, self._namer(names), fetched_at=now
        )
        if gap is None:
            return Fetched(news=snapshots)
        return self._caught_up(gap.first, newest, snapshots, now)

    def _caught_up(
        self, first: date, newest: date | None, snapshots: list[Snapshot], now: datetime
    ) -> Fetched:
        """A gap filled: what is older than `announce_within_days` goes in silently (as a
        baseline, which keeps milestones), the rest is news, and the posts say why."""
        within = self.settings.announce_within_days
        cutoff = now.date() - timedelta(days=within)
        days = (newest - first).days + 1 if newest is not None else 0
        log.warning("OpenRouter caught up %d day(s) from %s after an outage", days, first)
        return Fetched(
            news=[s for s in snapshots if s.as_of >= cutoff],
            baseline=[s for s in snapshots if s.as_of < cutoff],
            on_stored=self._catch_up_done,
            caught_up=(
                CatchUp(days, first, newest, announced_days=within)
                if newest is not None and days > 0
                else None
            ),
        )

    async def _catch_up_done(self, store: Store) -> None:
        """Stored with the catch-up's snapshots: the next poll is an ordinary one."""
        await store.state.set(keys.catch_up(self.name), None)

    def next_poll(self, now: datetime) -> datetime:
        s = self.settings
        return next_poll(now, self._newest, every_hours=s.every_hours, after_utc=s.after_utc)

    def confirm_for(self, period: str) -> int:
        return self.settings.confirm_for(period)

    @property
    def outage_hours(self) -> float:
        return self.settings.outage_hours

    async def health_notice(self, store: Store, now: datetime) -> Notice | None:
        """The outage or recovery notice due now (each exactly once), recorded as sent."""
        health, notice = health_transition(
            await read_health(store.state, self.name), now, outage_hours=self.settings.outage_hours
        )
        if notice is not None:
            await write_health(store.state, self.name, health)
        return notice

    # --- for the CLI ---------------------------------------------------------------------------

    async def run_backfill(
        self, store: Store, now: datetime, *, since: date, progress: ProgressBar | None = None
    ) -> BackfillReport:
        """Backfill from `since` (resuming an interrupted run), recording health either way.

        The history comes back in the report for the engine to store (`report.as_fetched()`).
        """
        health = await read_health(store.state, self.name)
        api = self.api()
        try:
            async with api:
                names = await self.names(store, api, now)
                report = await backfill(
                    store,
                    api,
                    since=since,
                    now=now,
                    periods=self.settings.periods,
                    name=self._namer(names),
                    progress=progress,
                )
        except (OpenRouterError, BudgetExhausted, SuspectPayload) as exc:
            await self._save(store, health.failed(now, str(exc)), now)
            raise SourceError(f"backfill stopped (run it again to resume): {exc}") from None
        held = await load_days(store.days)
        await self._note_unnamed(store, held, now)
        newest = max(held) if held else None
        health = health.succeeded(now, newest, held[newest].as_of if newest else None)
        await self._save(store, health.rejected(report.rejected), now)
        return report

    async def names(
        self, store: Store, api: OpenRouterApi, now: datetime, *, models: Iterable[str] = ()
    ) -> dict[str, str]:
        """Catalogue names from the store, refreshed when `models` (what a poll brought)
        holds one they cannot name or once a week (`catalogue.cached_names`); a failed
        refresh keeps the cached ones (or none: ids then get readable fallback names)."""
        cached = await store.state.get(keys.catalogue(self.name))
        names, stale = catalogue.cached_names(cached, now, models)
        if not stale:
            return names
        try:
            fresh = catalogue.names_from_models(await api.models())
        except (OpenRouterError, BudgetExhausted) as exc:
            log.warning("OpenRouter model catalogue not refreshed: %s", exc)
            return names
        if fresh:
            asked = [*catalogue.unnamed_of(cached), *models]
            await store.state.set(
                keys.catalogue(self.name), catalogue.cache_state(fresh, now, asked)
            )
        return fresh or names

    async def _note_unnamed(self, store: Store, held: Mapping[date, Day], now: datetime) -> None:
        """After a backfill: the models of its days the catalogue (just asked) cannot name
        are no reason to ask it again on the next poll."""
        state = await store.state.get(keys.catalogue(self.name))
        models = {m for day in held.values() for m in day.tokens}
        noted = catalogue.noted_unnamed(state, now, models)
        if noted is not None:
            await store.state.set(keys.catalogue(self.name), noted)

    @staticmethod
    def _namer(names: dict[str, str]) -> Callable[[str], str]:
        return lambda model: catalogue.display_name(model, names)

    async def _save(self, store: Store, health: Health, now: datetime) -> None:
        self._newest = date.fromisoformat(health.newest_day) if health.newest_day else None
        stamp = self.next_poll(now).isoformat(timespec="seconds")
        await write_health(store.state, self.name, replace(health, next_poll=stamp))
