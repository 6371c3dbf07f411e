"""Backfill of 18 months: request budget, pace, silence, resumption, then live news."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import respx

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, Event
from bot.engine.ingest import ingest, store_baseline
from bot.errors import SourceError
from bot.sources.openrouter.backfill import ProgressBar, backfill, plan_ranges
from bot.sources.openrouter.daystore import load_days
from bot.sources.openrouter.limiter import PER_DAY, PER_MINUTE
from bot.sources.openrouter.source import OpenRouterSource
from bot.store import keys
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import Clock, FakeApi, fetch, history, make_source, varied_rows

NOW = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)  # 18 months: 2025-01-01 … 2026-07-01
LAST = date(2026, 7, 1)
SINCE = date(2025, 1, 1)
DAYS = (LAST - SINCE).days + 1


PARAMS = DetectParams()
COUNTRIES = shipped_table()


@pytest.fixture(scope="module")
def days() -> dict:
    return history(SINCE, LAST)


@pytest.fixture
def fake(days: dict, clock: Clock) -> Iterator[FakeApi]:
    api = FakeApi(dict(days), clock)
    with respx.mock(assert_all_called=False) as router:
        api.mount(router)
        yield api


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with TinyStore.open(tmp_path / "db.json") as s:
        yield s


def most_in_a_minute(times: list[float]) -> int:
    return max(sum(1 for u in times if t <= u < t + 60) for t in times)


def test_ranges_cover_every_day_once_in_30_day_requests() -> None:
    ranges = plan_ranges(date(2024, 6, 1), LAST)
    assert ranges[0] == (SINCE, date(2025, 1, 30))  # clamped to the dataset's first day
    assert ranges[-1][1] == LAST
    assert sum((b - a).days + 1 for a, b in ranges) == DAYS == 547
    assert all((b - a).days < 30 for a, b in ranges)
    assert len(ranges) == 19


async def test_18_months_fit_the_budget_and_emit_nothing(
    fake: FakeApi, clock: Clock, store: Store
) -> None:
    source = make_source(clock)
    stream = io.StringIO()
    report = await source.run_backfill(store, NOW, since=SINCE, progress=ProgressBar(0, stream))
    assert (
        await store.history.snapshots("openrouter", "day")
    ) == []  # the history is the engine's to store
    assert (
        await store_baseline(store, report.as_fetched(), params=PARAMS, countries=COUNTRIES)
    ) == (DAYS + DAYS - 6)
    assert (await store.state.get(keys.backfill("openrouter")))["complete"] is True
    calls = fake.ranking_calls
    assert len(calls) == report.requests == 19
    assert len(fake.calls) == 20 <= PER_DAY  # + one catalogue request
    assert most_in_a_minute([t for t, _, _ in fake.calls]) <= PER_MINUTE
    assert report.days == DAYS and report.rejected == []
    assert len(await load_days(store.days)) == DAYS
    assert len(await store.history.snapshots("openrouter", "day")) == DAYS
    assert len(await store.history.snapshots("openrouter", "week")) == DAYS - 6
    assert (await store.history.events()) == []
    assert stream.getvalue().endswith("19/19 ranges, through 2026-07-01\n")
    assert "\rbackfill [" in stream.getvalue()
    health = await store.state.get(keys.health("openrouter"))
    assert health["newest_day"] == "2026-07-01" and health["consecutive_failures"] == 0


async def test_smaller_ranges_are_paced_under_30_a_minute(
    fake: FakeApi, clock: Clock, store: Store
) -> None:
    source = make_source(clock)
    async with source.api() as api:
        report = await backfill(
            store,
            api,
            since=SINCE,
            now=NOW,
            periods=("day",),
            name=str,
            chunk=7,
        )
    times = [t for t, _, _ in fake.ranking_calls]
    assert len(times) == report.requests == 79
    assert most_in_a_minute(times) == PER_MINUTE  # the limiter made them wait, never more
    assert clock.t >= 120  # 79 requests need at least two full minutes
    assert (await store.history.events()) == []


async def test_an_interrupted_backfill_resumes_where_it_stopped(
    fake: FakeApi, clock: Clock, store: Store
) -> None:
    source = make_source(clock)
    fake.fail_after = 8  # the 9th range meets a 500 outage that outlasts the retries
    with pytest.raises(SourceError, match="run it again to resume"):
        await source.run_backfill(store, NOW, since=SINCE)
    progress = await store.state.get(keys.backfill("openrouter"))
    assert progress["done_through"] == "2025-08-28"  # 8 ranges of 30 days
    assert len(await load_days(store.days)) == 240
    assert (await store.history.snapshots("openrouter", "day")) == []  # derived only once complete
    assert (await store.state.get(keys.health("openrouter")))["consecutive_failures"] == 1
    first_run = len(fake.ranking_calls)
    assert first_run == 8 + 5
    fake.fail_after = None
    report = await source.run_backfill(store, NOW, since=SINCE)
    assert len(fake.ranking_calls) - first_run == report.ranges == 11
    assert not (await store.state.get(keys.backfill("openrouter")))["complete"]
    await store_baseline(store, report.as_fetched(), params=PARAMS, countries=COUNTRIES)
    assert len(await load_days(store.days)) == DAYS
    assert len(await store.history.snapshots("openrouter", "day")) == DAYS
    assert (await store.state.get(keys.backfill("openrouter")))["complete"] is True
    assert (await store.history.events()) == []


async def test_the_first_live_day_after_a_backfill_emits_the_expected_events(
    fake: FakeApi, clock: Clock, store: Store
) -> None:
    source: OpenRouterSource = make_source(clock)
    assert await fetch(source, store, NOW) == []  # first run: backfill, silently
    assert (await store.history.events()) == []
    new_day = LAST + timedelta(days=1)
    rows = varied_rows(new_day)
    rows = [(m, t * 3 if m == "z-ai/glm-5.2-20260616" else t) for m, t in rows]
    rows.insert(3, ("newlab/brand-new-20260701", 600_000_000_000))
    fake.days[new_day] = rows
    events: list[Event] = []
    for snapshot in await fetch(source, store, NOW + timedelta(days=1)):
        params = DetectParams(confirm=source.settings.confirm_for(snapshot.period))
        events += (await ingest(store, snapshot, params=params, countries=shipped_table())).events
    glm, new = "z-ai/glm-5.2-20260616", "newlab/brand-new-20260701"
    day_events = sorted((e.kind, e.subject) for e in events if e.period == "day")
    assert day_events == [
        ("milestone", glm),  # 3× its usual ~360B crosses 1T
        ("new_leader", glm),
        ("new_model", new),
        ("rank_change", glm),
        ("surge", glm),
        ("top_entry", f"{new}@top10"),
        ("top_exit", "moonshotai/kimi-k3-20260715@top10"),  # pushed from #10 to #11
    ]
    assert all(e.as_of == new_day for e in events)
    # the rolling week only confirms on a second day: a new #1 is not yet week news
    assert not [e for e in events if e.period == "week" and e.kind == "new_leader"]
