"""Source health transitions (outage once, recovery once), the poll schedule, the limiter."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from bot.core.source_health import Health
from bot.errors import SourceError
from bot.sources.openrouter.health import health_transition, overdue
from bot.sources.openrouter.limiter import BudgetExhausted, RequestLimiter
from bot.sources.openrouter.poll_schedule import next_poll
from bot.store import keys
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import Clock, FakeApi, fetch, history, make_source

T0 = datetime(2026, 8, 1, 2, 10, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_day_late_is_not_yet_an_outage_but_24_hours_after_is() -> None:
    health = Health(newest_day="2026-07-31")  # 2026-08-01 completes at 08-02 00:00
    assert not overdue(health, datetime(2026, 8, 2, 23, 59, tzinfo=UTC), 24)
    assert overdue(health, datetime(2026, 8, 3, 0, 0, tzinfo=UTC), 24)
    assert not overdue(Health(), T0, 24)  # nothing held, nothing failing: nothing to say
    failing = Health(failing_since=T0.isoformat())
    assert not overdue(failing, at(23), 24) and overdue(failing, at(24), 24)


def test_an_outage_gives_exactly_one_notice_and_one_recovery() -> None:
    """Hourly polls over four days: failures from 08-01 02:10, data back on 08-04 06:10."""
    health = Health(newest_day="2026-07-31", newest_as_of="2026-08-01T02:00:00Z")
    notices: list[tuple[datetime, str]] = []
    for hour in range(96):
        now = at(hour)
        if hour < 76:
            health = health.failed(now, "GET … failed after 5 attempts (last: HTTP 500)")
        else:
            newest = (now - timedelta(days=1)).date()
            health = health.succeeded(now, newest, f"{now.date()}T02:00:00Z")
        health, notice = health_transition(health, now, outage_hours=24)
        if notice:
            notices.append((now, notice))
    assert notices == [
        (datetime(2026, 8, 3, 0, 10, tzinfo=UTC), "outage"),
        (datetime(2026, 8, 4, 6, 10, tzinfo=UTC), "recovery"),
    ]
    assert not health.outage_notified and health.consecutive_failures == 0


def test_a_short_gap_gives_no_notice_at_all() -> None:
    health = Health(newest_day="2026-07-31")
    for hour in range(20):
        health, notice = health_transition(health.failed(at(hour), "timeout"), at(hour))
        assert notice is None
    assert health.consecutive_failures == 20 and health.failing_since == T0.isoformat(
        timespec="seconds"
    )


def test_health_round_trips_through_the_store_form() -> None:
    health = Health(newest_day="2026-07-31", suspect_rejections=2, outage_notified=True)
    raw = health.to_dict()
    assert {
        "consecutive_failures",
        "last_good_fetch",
        "last_attempt",
        "last_error",
        "newest_day",
        "newest_as_of",
        "suspect_rejections",
        "next_poll",
        "outage_notified",
    } <= set(raw)
    assert Health.from_dict({**raw, "from_a_newer_version": 1}) == health
    assert Health.from_dict(None) == Health()


async def test_the_source_records_health_and_notices_once(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    clock = Clock()
    fake = FakeApi(history(date(2026, 7, 1), date(2026, 7, 31)), clock)
    fake.mount(router)
    source = make_source(clock, backfill_since=date(2026, 7, 1))
    async with TinyStore.open(tmp_path / "db.json") as store:
        await fetch(source, store, at(0))
        assert (await source.health_notice(store, at(0))) is None
        fake.script = [httpx.Response(503)] * 1000
        notices = []
        for hour in range(3, 60, 3):
            with pytest.raises(SourceError):
                await fetch(source, store, at(hour))
            notices.append(await source.health_notice(store, at(hour)))
        assert notices.count("outage") == 1 and set(notices) == {None, "outage"}
        assert (await store.state.get(keys.health("openrouter")))["outage_notified"] is True
        fake.script = []
        fake.days.update(history(date(2026, 8, 1), date(2026, 8, 3)))
        await fetch(source, store, at(72))
        assert (await source.health_notice(store, at(72))) == "recovery"
        assert (await source.health_notice(store, at(75))) is None
        health = await store.state.get(keys.health("openrouter"))
        assert health["newest_day"] == "2026-08-03" and health["consecutive_failures"] == 0


def test_next_poll_waits_for_publication_once_yesterday_is_held() -> None:
    now = datetime(2026, 8, 1, 9, 30, tzinfo=UTC)
    assert next_poll(now, date(2026, 7, 31)) == datetime(2026, 8, 2, 2, 10, tzinfo=UTC)


def test_next_poll_uses_the_3_hour_grid_while_yesterday_is_missing() -> None:
    assert next_poll(datetime(2026, 8, 1, 9, 30, tzinfo=UTC), date(2026, 7, 30)) == datetime(
        2026, 8, 1, 12, 0, tzinfo=UTC
    )
    assert next_poll(datetime(2026, 8, 1, 1, 0, tzinfo=UTC), None) == datetime(
        2026, 8, 1, 2, 10, tzinfo=UTC
    )
    assert next_poll(datetime(2026, 8, 1, 2, 10, tzinfo=UTC), None) == datetime(
        2026, 8, 1, 3, 0, tzinfo=UTC
    )
    assert next_poll(
        datetime(2026, 8, 1, 22, 0, tzinfo=UTC), None, every_hours=6, after_utc=time(2, 30)
    ) == datetime(2026, 8, 2, 0, 0, tzinfo=UTC)


def test_a_day_of_polls_stays_far_inside_the_budget() -> None:
    now, polls = datetime(2026, 8, 1, 0, 0, tzinfo=UTC), 0
    while now < datetime(2026, 8, 2, 0, 0, tzinfo=UTC):
        now = next_poll(now, None)
        polls += 1
    assert polls == 9  # 8 grid polls + the 02:10 one, even when the day never comes


async def test_the_limiter_never_sends_a_31st_request_within_a_minute() -> None:
    clock = Clock()
    limiter = RequestLimiter(clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(100):
        await limiter.acquire()
        sent.append(clock.t)
        clock.t += 0.25  # a fast client: 4 requests a second if it were let through
    assert max(sum(1 for u in sent if t <= u < t + 60) for t in sent) == 30
    assert len(sent) == 100 and clock.sleeps  # it waited instead of refusing


async def test_the_limiter_serialises_concurrent_callers() -> None:
    clock = Clock()
    limiter = RequestLimiter(per_minute=30, clock=clock, sleep=clock.sleep)
    sent: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        sent.append(clock.t)

    await asyncio.gather(*(one() for _ in range(61)))
    assert max(sum(1 for u in sent if t <= u < t + 60) for t in sent) == 30


async def test_the_days_budget_is_refused_rather_than_waited_out() -> None:
    clock = Clock()
    limiter = RequestLimiter(per_minute=1000, per_day=500, clock=clock, sleep=clock.sleep)
    for _ in range(500):
        await limiter.acquire()
        clock.t += 1
    with pytest.raises(BudgetExhausted, match="500 requests a day"):
        await limiter.acquire()
    clock.t = 86_400.0
    await limiter.acquire()
