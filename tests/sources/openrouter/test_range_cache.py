"""The backtest's day cache (`bot.sources.openrouter.range_cache`): what it keeps, what it
answers without a request, and what the API looked like at a virtual moment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
import respx

from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.range_cache import (
    CachedApi,
    DayCache,
    default_cache_dir,
    visible_through,
)
from bot.sources.openrouter.rows import parse_payload
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.source import OpenRouterSource
from tests.fakes.openrouter_api import BASE_URL, KEY, Clock, FakeApi, history, payload

TODAY = date(2026, 5, 1)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeApi]:
    api = FakeApi(history(date(2026, 1, 1), TODAY - timedelta(days=1)), clock)
    with respx.mock(assert_all_called=False) as router:
        api.mount(router)
        yield api


def cached_api(clock: Clock, cache: DayCache, **kwargs: object) -> CachedApi:
    source = OpenRouterSource(
        SourceSettings(base_url=BASE_URL),
        api_key=KEY,
        limiter=RequestLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        api_class=partial(CachedApi, cache=cache, **kwargs),
    )
    api = source.api()
    assert isinstance(api, CachedApi)
    return api


def test_visibility_follows_the_publication_at_two_in_the_morning() -> None:
    assert visible_through(datetime(2026, 4, 11, 1, 59, tzinfo=UTC)) == date(2026, 4, 9)
    assert visible_through(datetime(2026, 4, 11, 2, 0, tzinfo=UTC)) == date(2026, 4, 10)


def test_each_api_root_has_its_own_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    live = default_cache_dir("https://openrouter.ai")
    test = default_cache_dir("http://127.0.0.1:8080")
    assert live.parent == test.parent == tmp_path / "rankbot" / "openrouter"
    assert live != test and live.name.startswith("openrouter.ai-")


async def test_a_range_is_asked_once_then_answered_from_disk(
    fake: FakeApi, clock: Clock, tmp_path: Path
) -> None:
    cache = DayCache(tmp_path, today=lambda: TODAY)
    async with cached_api(clock, cache) as api:
        assert await api.prefetch(date(2026, 1, 1), date(2026, 3, 1)) == 2  # 60 days
        first = await api.rankings_daily(date(2026, 2, 10), date(2026, 2, 12))
        assert api.requests == 2  # answered from the cache
        assert await api.prefetch(date(2026, 1, 1), date(2026, 3, 1)) == 0
    parsed = parse_payload(first, today=TODAY)
    assert [d.date for d in parsed.days] == [
        date(2026, 2, 10),
        date(2026, 2, 11),
        date(2026, 2, 12),
    ]
    direct = parse_payload(payload(fake.days, date(2026, 2, 10), date(2026, 2, 12)), today=TODAY)
    assert [(d.tokens, d.other) for d in parsed.days] == [(d.tokens, d.other) for d in direct.days]
    assert parsed.as_of == "2026-03-02T02:00:00Z"  # the meta.as_of the days were fetched with


async def test_recent_days_are_not_kept_and_a_missing_day_is_not_asked_again(
    fake: FakeApi, clock: Clock, tmp_path: Path
) -> None:
    del fake.days[date(2026, 4, 1)]  # the API lacks this day
    cache = DayCache(tmp_path, today=lambda: TODAY)
    async with cached_api(clock, cache) as api:
        await api.rankings_daily(date(2026, 3, 25), date(2026, 4, 30))
        assert cache.missing(date(2026, 3, 25), date(2026, 4, 30)) == [
            date(2026, 4, 28),
            date(2026, 4, 29),
            date(2026, 4, 30),
        ]
        again = await api.rankings_daily(date(2026, 3, 30), date(2026, 4, 2))
        assert api.requests == 1
    assert date(2026, 4, 1) not in {d.date for d in parse_payload(again, today=TODAY).days}


async def test_a_virtual_moment_sees_only_what_was_published(
    fake: FakeApi, clock: Clock, tmp_path: Path
) -> None:
    cache = DayCache(tmp_path, today=lambda: TODAY)
    moment = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
    async with cached_api(clock, cache, visible_through=lambda: visible_through(moment)) as api:
        payload = await api.rankings_daily(date(2026, 3, 2), date(2026, 3, 4))
        assert {d.date for d in parse_payload(payload, today=moment.date()).days} == {
            date(2026, 3, 2),
            date(2026, 3, 3),
        }
        empty = await api.rankings_daily(date(2026, 3, 4), date(2026, 3, 4))
        assert parse_payload(empty, today=moment.date()).days == ()
