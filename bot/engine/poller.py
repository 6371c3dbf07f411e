"""The poller: poll the source, store, detect, plan, enqueue, in one asyncio loop with delivery.

One tick: when the source's `next_poll` has come it is asked (`Source.fetch_new`); the
planner releases what is due (confirmations of new subscriptions, posts held for quiet hours
or digests, source-health notices); then the history the source returned (a backfill, the
older days of a catch-up) is stored silently, the new snapshots are ingested (store → detect
→ log), the planner turns all their events into one post per channel (with a line saying
rankbot caught up, after an outage), and those posts are enqueued, all in ONE transaction: a
crash leaves either the snapshots with their posts in the outbox, or neither (never events
logged whose posts were lost). Charts are drawn after that transaction, off the event loop
(`bot.engine.alert_charts`); the posts that carry one wait for it. Then delivery is told the
outbox changed. Once a day, sent posts older than `[store] keep_sent_days` are pruned.

Between ticks the poller sleeps until the source can have something new, waking at least every
`MAX_SLEEP` so held-back posts go out on time. Delivery runs as a sibling task in the same
loop (`Delivery.serve`), as do the Slack and Discord adapters.

The pieces are built and wired by the composition root (`bot.app`); `rankbot run` runs
`run_forever`, `rankbot poll --once [--dry-run]` one tick and one delivery round
(`bot.cli.run`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, utcnow
from bot.core.countries import CountryTable
from bot.core.events import DetectParams, Event
from bot.core.planning import Planned, catch_up_note
from bot.delivery.workers import Delivery
from bot.engine.alert_charts import AlertCharts
from bot.engine.ingest import ingest, store_baseline
from bot.engine.planner import Plan, Planner
from bot.sources.base import Fetched, Source
from bot.store.protocols import Store

log = logging.getLogger("rankbot.poller")

MAX_SLEEP = timedelta(seconds=60)
"""Longest sleep between ticks: held-back posts (quiet hours, digests) are released by ticks."""
PRUNE_EVERY = timedelta(days=1)
KEEP_SENT_DAYS = 30.0
"""`[store] keep_sent_days`' default: how long a sent post's record is kept (`Outbox.prune`)."""


@dataclass(frozen=True, slots=True)
class TickReport:
    snapshots: int = 0
    events: int = 0
    enqueued: int = 0
    source_error: str | None = None
    polled: bool = False
    """Whether the source was asked in this tick (it is asked only once `next_poll` came)."""
    kinds: tuple[str, ...] = ()
    """The kind of each event detected in this tick (for metrics)."""


class Poller:
    """One tick at a time; `params(period)` gives the detection thresholds of a period, and
    `baseline_params` those a backfill's silent history is stored with (`[detect]`).

    A tick asks the source only once its `next_poll` time has come, but always releases the
    posts the planner held back, so ticks can be more frequent than polls.
    """

    def __init__(
        self,
        store: Store,
        source: Source,
        planner: Planner,
        charts: AlertCharts,
        *,
        params: Callable[[str], Awaitable[DetectParams]],
        countries: CountryTable,
        baseline_params: DetectParams | None = None,
        keep_sent_days: float = KEEP_SENT_DAYS,
        clock: Clock = utcnow,
        after_store: Callable[[], None] = lambda: None,
    ) -> None:
        """`after_store` is called when a tick has stored posts or a backfill's history (the
        composition root passes `bot.app.settle_heap`)."""
        self.store = store
        self.source = source
        self._planner = planner
        self.charts = charts
        self._params = params
        self._baseline_params = baseline_params or DetectParams()
        self._countries = countries
        self._keep_sent_days = keep_sent_days
        self._clock = clock
        self._after_store = after_store
        self._pruned: datetime | None = None
        self.next_poll: datetime | None = None
        """When the source is asked next (None: at the first tick)."""
        self.on_tick: Callable[[TickReport], None] | None = None
        """Called with every tick's report (the `[ops]` metrics count polls and events)."""

    async def tick(self) -> TickReport:
        now = self._clock()
        fetched = Fetched()
        source_error = None
        polled = self.next_poll is None or now >= self.next_poll
        if polled:
            try:
                fetched = await self.source.fetch_new(self.store, now)
            except Exception as exc:
                # An outage of the rankings must not stop held-back posts or delivery; the
                # source is asked again at its next poll (its own health is its business).
                source_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "poll of %s failed: %s",
                    self.source.name,
                    source_error,
                    extra={"source": self.source.name},
                )
            self.next_poll = self.source.next_poll(now)
        # Everything one poll brought (a day and its rolling week; the recent days caught up
        # after an outage, the older ones stored silently first) becomes ONE grouped post per
        # channel, written with the snapshots and what was due at once: one commit (each
        # costs ~0.25 ms of CPU, a quarter of a quiet poll's store work).
        fresh: list[Event] = []
        plan = Plan()
        history = fetched.baseline or fetched.on_stored is not None
        async with self.store.transaction():
            enqueued = await self.release_due(now)  # first: a confirmation precedes its alerts
            if history or fetched.news:
                if history:
                    await store_baseline(
                        self.store, fetched, params=self._baseline_params, countries=self._countries
                    )
                for snapshot in fetched.news:
                    params = await self._params(snapshot.period)
                    ingested = await ingest(
                        self.store, snapshot, params=params, countries=self._countries, now=now
                    )
                    fresh += ingested.events
            if fresh:
                note = catch_up_note(fetched.caught_up) if fetched.caught_up else None
                subscriptions = await self.store.subscriptions.all()
                plan = await self._planner.after_ingest(fresh, subscriptions, now, note=note)
                enqueued += await self.store.outbox.enqueue(plan.posts, now=now, charts=plan.charts)
        self.charts.start(set(plan.charts.values()))
        if history or enqueued:  # a quiet day's few snapshots are not worth a collection
            self._after_store()
        await self._prune(now)
        report = TickReport(
            len(fetched.news),
            len(fresh),
            enqueued,
            source_error,
            polled=polled,
            kinds=tuple(e.kind for e in fresh),
        )
        if self.on_tick is not None:
            self.on_tick(report)
        return report

    async def release_due(self, now: datetime | None = None) -> int:
        """Enqueue what is due without asking the source: confirmations of new
        subscriptions, posts held for quiet hours or digests, health notices. A tick starts
        with it, and a chat command that changed a subscription calls it (through
        `bot.app.Bot.after_command`), so its confirmation goes out at once, not a tick later."""
        now = now or self._clock()
        async with self.store.transaction():
            enqueued = await self._enqueue(await self._planner.flush_due(now), now)
            enqueued += await self._enqueue(await self._health_notices(now), now)
        return enqueued

    async def _health_notices(self, now: datetime) -> Sequence[Planned]:
        """One notice after a sustained outage and one on recovery (`Source.health_notice`
        records the notice as given: this runs inside the same transaction as the enqueue, so
        a crash can neither lose nor repeat it)."""
        notice = await self.source.health_notice(self.store, now)
        if notice is None:
            return []
        source = self.source.name
        log.warning("source %s: %s notice sent", source, notice, extra={"source": source})
        return await self._planner.health_notices(
            self.source.name, notice, self.source.outage_hours, now
        )

    async def _enqueue(self, planned: Sequence[Planned], now: datetime) -> int:
        return await self.store.outbox.enqueue(planned, now=now) if planned else 0

    async def _prune(self, now: datetime) -> None:
        """Forget sent posts older than `keep_sent_days`, once a day."""
        if self._pruned is not None and now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        pruned = await self.store.outbox.prune(now, self._keep_sent_days)
        if pruned:
            log.info("pruned %d sent post(s) older than %g days", pruned, self._keep_sent_days)


async def run_forever(poller: Poller, delivery: Delivery, *, clock: Clock = utcnow) -> None:
    """Tick, wake delivery, sleep until the next poll; stops only if the store or delivery
    fails (a restart then resumes from the outbox, and redraws charts posts wait for)."""
    poller.charts.on_attached = delivery.kick
    await poller.charts.resume()
    deliveries = asyncio.ensure_future(delivery.serve())
    try:
        while True:
            report = await poller.tick()
            log.info("poll: %s", report, extra={"source": poller.source.name})
            delivery.kick()
            now = clock()
            wake = min(poller.next_poll or now, now + MAX_SLEEP)
            await asyncio.wait({deliveries}, timeout=max(0.0, (wake - now).total_seconds()))
            if deliveries.done():
                deliveries.result()
    finally:
        deliveries.cancel()
