"""The poller: a tick stores, plans and enqueues in one write; a failing source stops nothing;
`run_forever` polls on the source's schedule and wakes delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import Clock
from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.core.messages import ChannelRef, Message
from bot.delivery.workers import Delivery
from bot.engine.alert_charts import AlertCharts
from bot.engine.poller import Poller, run_forever
from bot.sources.replay import ReplaySource
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore
from tests.fakes.planner import Post, TwoChannelPlanner
from tests.fakes.scripted_sender import FakeSender
from tests.fakes.sources import UnreachableSource
from tests.fakes.virtual_time import START, VirtualClock, run_virtual
from tests.helpers import snap


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    s = TinyStore.open(tmp_path / "db.json")
    yield s
    s.close_now()


async def default_params(period: str) -> DetectParams:
    return DetectParams()


def weeks() -> list:
    return [
        snap("2026-02-02", {"a/x": 900, "b/y": 800}),
        snap("2026-02-09", {"a/x": 900, "b/y": 1000}),
        snap("2026-02-16", {"a/x": 1200, "b/y": 1000}),
    ]


def poller(
    store: Store,
    source: ReplaySource,
    planner: TwoChannelPlanner,
    clock: Clock,
    after_store: Callable[[], None] = lambda: None,
) -> Poller:
    return Poller(
        store,
        source,
        planner,  # type: ignore[arg-type]  # a test double of the Planner
        AlertCharts(store, shipped_table()),
        params=default_params,
        countries=shipped_table(),
        clock=clock,
        after_store=after_store,
    )


def test_a_tick_stores_plans_and_enqueues_and_a_replay_enqueues_nothing_twice(
    store: Store,
) -> None:
    planner = TwoChannelPlanner()
    planner.held.append(Post(ChannelRef("console", "", "a"), Message(notice="digest"), "dg-1"))
    tick = poller(store, ReplaySource(weeks()), planner, lambda: START).tick
    report = asyncio.run(tick())
    # the released digest, then ONE post per channel for everything this poll brought
    assert (report.snapshots, report.enqueued, report.source_error) == (3, 3, None)
    assert report.events >= 2  # two new leaders, after the silent baseline
    # what the planner released comes before this tick's alerts (a confirmation first)
    pending = asyncio.run(store.outbox.pending(ChannelRef("console", "", "a")))
    assert pending[0].key == "dg-1"

    again = poller(store, ReplaySource(weeks()), TwoChannelPlanner(), lambda: START).tick
    assert asyncio.run(again()).enqueued == 0


def test_the_heap_is_settled_after_a_tick_that_stored_posts_and_only_then(
    store: Store,
) -> None:
    # `bot.app.settle_heap` freezes what a tick stored; a tick that stored no post must not
    # pay for a collection
    settled: list[int] = []
    hours = [0]
    tick = poller(
        store, ReplaySource(weeks(), per_poll=1), TwoChannelPlanner(),
        lambda: START + timedelta(hours=hours[0]), lambda: settled.append(1),
    ).tick  # fmt: skip
    reports = []
    for hour in range(len(weeks()) + 1):  # the last tick finds nothing new
        hours[0] = hour
        reports.append(asyncio.run(tick()))
    assert [(r.snapshots, r.enqueued > 0) for r in reports] == [
        (1, False),  # the first week: a baseline, no post
        (1, True),
        (1, True),
        (0, False),
    ]
    assert len(settled) == 2


def test_a_failing_source_is_reported_and_planning_goes_on(store: Store) -> None:
    planner = TwoChannelPlanner()
    planner.held.append(Post(ChannelRef("console", "", "a"), Message(notice="digest"), "dg-1"))
    report = asyncio.run(poller(store, UnreachableSource([]), planner, lambda: START).tick())
    assert report.source_error == "ConnectionError: rankings API unreachable"
    assert report.enqueued == 1


def test_run_forever_polls_on_the_sources_schedule_and_delivers(store: Store) -> None:
    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        source = ReplaySource(weeks(), per_poll=1, interval=timedelta(hours=1))
        the_poller = poller(store, source, TwoChannelPlanner(), clock.now)
        delivery = Delivery(store.outbox, {"console": sender}, clock=clock.now)
        task = asyncio.ensure_future(run_forever(the_poller, delivery, clock=clock.now))
        await asyncio.sleep(3 * 3600)
        task.cancel()
        return sender

    sender = run_virtual(main)
    times = sorted({round(c.t) for c in sender.calls})
    assert times == [3600, 7200]  # week 1 is the baseline; weeks 2 and 3 an hour apart
    assert all(len(keys) == 2 for keys in sender.received.values())
