"""Alert charts: planned with their post in the poll's transaction, drawn afterwards (once per
chart however many channels wait for it), never lost by a restart, never costing the alert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bot.core.countries import CountryTable, shipped_table
from bot.core.events import DetectParams
from bot.core.messages import ChannelRef
from bot.core.model import Snapshot
from bot.core.subscription import Subscription
from bot.engine.alert_charts import AlertCharts
from bot.engine.ingest import ingest_baseline
from bot.engine.planner import Planner
from bot.engine.poller import Poller
from bot.sources.replay import ReplaySource
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore
from tests.fakes.virtual_time import START
from tests.helpers import snap

B = 1_000_000_000
WEEKS = [snap(f"2026-01-{d:02d}", {"google/g": 9 * B, "minimax/m": 8 * B}) for d in (5, 12, 19)]
LEADER = snap("2026-01-26", {"google/g": 9 * B, "minimax/m": 10 * B})
CHANNELS = [ChannelRef("slack", "T1", f"C{i}") for i in range(5)]


class Drawing:
    """A chart worker stand-in: counts what it is asked to draw."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail

    async def __call__(
        self, kind: str, history: Sequence[Snapshot], countries: CountryTable, lang: str
    ) -> bytes:
        self.calls.append((kind, len(history)))
        if self.fail:
            raise RuntimeError("matplotlib fell over")
        return b"\x89PNG " + kind.encode()


async def params(period: str) -> DetectParams:
    return DetectParams()


async def plan_the_leader(store: Store, charts: AlertCharts) -> None:
    await ingest_baseline(store, WEEKS, params=DetectParams(), countries=shipped_table())
    async with store.transaction():
        for i, channel in enumerate(CHANNELS):
            sub = Subscription(channel, kinds=("new_leader",), confirmed=True)
            await store.subscriptions.upsert(replace(sub, charts=i != 4))  # C4: charts off
    poller = Poller(
        store,
        ReplaySource([LEADER]),
        Planner(store),
        charts,
        params=params,
        countries=shipped_table(),
        clock=lambda: START,
    )
    await poller.tick()


async def test_the_chart_is_drawn_once_and_every_waiting_post_gets_it(tmp_path: Path) -> None:
    draw = Drawing()
    async with TinyStore.open(tmp_path / "db.json") as store:
        charts = AlertCharts(store, shipped_table(), draw=draw)
        await plan_the_leader(store, charts)
        heads = [await store.outbox.head(c) for c in CHANNELS]
        assert [h is not None and h.chart_pending for h in heads] == [True] * 4 + [False]
        await charts.settle()
        assert draw.calls == [("trend", 4)]  # the stream up to the alert's date, drawn once
        for channel in CHANNELS[:4]:
            item = await store.outbox.head(channel)
            assert item is not None and not item.chart_pending
            (png,) = item.message.attachments
            assert png.content == b"\x89PNG trend"
            assert png.filename == "rankbot-trend-openrouter-week-2026-01-26.png"
        plain = await store.outbox.head(CHANNELS[4])
        assert plain is not None and plain.message.attachments == ()


async def test_a_chart_that_fails_lets_the_alert_go_without_it(tmp_path: Path) -> None:
    async with TinyStore.open(tmp_path / "db.json") as store:
        charts = AlertCharts(store, shipped_table(), draw=Drawing(fail=True))
        await plan_the_leader(store, charts)
        await charts.settle()
        item = await store.outbox.head(CHANNELS[0])
        assert item is not None and not item.chart_pending and item.message.attachments == ()
        assert item.message.events  # the alert itself is intact


async def test_a_chart_left_undrawn_by_a_crash_is_drawn_after_the_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        never = AlertCharts(store, shipped_table(), draw=Drawing())
        never.start = lambda charts: None  # the process dies before drawing
        await plan_the_leader(store, never)
    draw = Drawing()
    async with TinyStore.open(path) as store:
        assert len(await store.outbox.charts_pending()) == 1
        charts = AlertCharts(store, shipped_table(), draw=draw)
        await charts.resume()
        await charts.settle()
        assert draw.calls == [("trend", 4)]
        assert await store.outbox.charts_pending() == []
        item = await store.outbox.head(CHANNELS[0])
        assert item is not None and len(item.message.attachments) == 1
