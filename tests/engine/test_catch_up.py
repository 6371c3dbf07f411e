"""A 7-week outage, end to end through the real poller, planner and outbox on the fake Data
API: every day of the gap is fetched and stored, only the last 3 days are announced (newest
snapshot first), the post says rankbot caught up, and a catch-up stopped by the day's request
budget resumes without fetching again what it stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import respx

from bot import app
from bot.core.messages import ChannelRef
from bot.core.subscription import SUBSCRIBABLE_KINDS, Subscription
from bot.render.templates import Renderer
from bot.render.text import render_text
from bot.sources.openrouter.daystore import load_days
from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.source import OpenRouterSource
from bot.store import keys
from bot.store.protocols import OutboxItem, Store
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import BASE_URL, KEY, Clock, FakeApi, Rows, history, varied_rows

SINCE = date(2026, 1, 1)
BEFORE = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # holds 1 Jan … 28 Feb
AFTER = BEFORE + timedelta(weeks=7, hours=-7, minutes=10)  # 19 Apr 02:10: 1 Mar … 18 Apr missing
GAP = [date(2026, 3, 1) + timedelta(days=i) for i in range(49)]
CHALLENGER = "z-ai/glm-5.2-20260616"
CHANNEL = ChannelRef("console", "test", "#alerts")


def rows(day: date) -> Rows:
    """Ordinary days, except GLM 5.2 doing 20× its volume on 20 Mar (inside the gap: never
    announced) and on 17 Apr (one of the last 3 days: a new #1 that day, gone the next)."""
    spike = day in (date(2026, 3, 20), date(2026, 4, 17))
    return [(m, t * 20 if spike and m == CHALLENGER else t) for m, t in varied_rows(day)]


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeApi]:
    api = FakeApi(history(SINCE, GAP[-1], rows), clock)
    with respx.mock(assert_all_called=False) as router:
        api.mount(router)
        yield api


def source(clock: Clock, per_day: int = 500) -> OpenRouterSource:
    settings = SourceSettings(base_url=BASE_URL, backfill_since=SINCE)
    limiter = RequestLimiter(per_day=per_day, clock=clock, sleep=clock.sleep)
    return OpenRouterSource(settings, api_key=KEY, limiter=limiter, sleep=clock.sleep)


class Moment:
    def __init__(self) -> None:
        self.now = BEFORE

    def __call__(self) -> datetime:
        return self.now


async def build(store: Store, src: OpenRouterSource, moment: Moment, tmp_path: Path) -> app.Bot:
    bot = await app.build_bot(
        app.config_from_mapping({}, base=tmp_path), store, src, {}, clock=moment
    )
    await store.subscriptions.upsert(
        Subscription(
            CHANNEL,
            kinds=SUBSCRIBABLE_KINDS,
            periods=("day", "week"),
            created_at=BEFORE,
            confirmed=True,
        )
    )
    return bot


async def posts(bot: app.Bot) -> list[OutboxItem]:
    """The channel's alert posts (it also hears the source's outage and recovery notices)."""
    return [i for i in await bot.outbox.pending(CHANNEL) if i.key.startswith("post:")]


async def test_a_seven_week_gap_is_filled_and_only_the_last_three_days_announced(
    fake: FakeApi, clock: Clock, tmp_path: Path
) -> None:
    moment = Moment()
    async with TinyStore.open(tmp_path / "db.json") as store:
        bot = await build(store, source(clock), moment, tmp_path)
        await bot.poller.tick()  # the first run: a silent backfill up to 28 Feb
        assert await store.history.events() == [] and max(await load_days(store.days)) == date(
            2026, 2, 28
        )
        first = len(fake.ranking_calls)

        moment.now = AFTER
        report = await bot.poller.tick()
        assert report.source_error is None
        held = await load_days(store.days)
        assert all(day in held for day in GAP)
        assert {s.as_of for s in await store.history.snapshots("openrouter", "day")} >= set(GAP)
        assert [c[2] for c in fake.ranking_calls[first:]] == [  # the gap, in ≤30-day ranges
            {"start_date": "2026-03-01", "end_date": "2026-03-30"},
            {"start_date": "2026-03-31", "end_date": "2026-04-18"},
        ]
        recent = {date(2026, 4, 16), date(2026, 4, 17), date(2026, 4, 18)}
        events = await store.history.events()
        assert {e.as_of for e in events} <= recent
        assert [e.as_of for e in events] == sorted(e.as_of for e in events)  # detected in order
        leaders = [(e.period, e.as_of, e.fields["model"]) for e in events if e.kind == "new_leader"]
        assert ("day", date(2026, 4, 17), CHALLENGER) in leaders
        # the next day the usual #1 is back: the day ranking says so
        assert [(p, d) for p, d, _ in leaders].count(("day", date(2026, 4, 18))) == 1
        assert (
            await store.state.get(keys.catch_up("openrouter")) is None
        )  # done: the mark is cleared

        [post] = await posts(bot)
        assert report.enqueued == len(await bot.outbox.pending(CHANNEL))
        dates = [e.as_of for e in post.message.events]
        assert dates == sorted(dates, reverse=True)  # newest snapshot first
        assert {e.key for e in post.message.events} == {e.key for e in events}
        text = render_text(Renderer(), post.message)
        assert text.split("\n")[1] == (
            "↻ rankbot caught up 49 days after an outage (1 Mar – 18 Apr 2026); changes older "
            "than 3 days went in silently."
        )
        assert text.index("\n18 Apr 2026:") < text.index("\n17 Apr 2026:")
        assert text.endswith("as of 2026-04-19 02:00 UTC.")

        moment.now = AFTER + timedelta(hours=24)  # an ordinary poll afterwards: no note
        fake.days[date(2026, 4, 19)] = rows(date(2026, 4, 19))
        await bot.poller.tick()
        later = [i for i in await posts(bot) if i.key != post.key]
        assert all(i.message.note is None for i in later)


async def test_a_catch_up_stopped_by_the_budget_resumes_without_refetching(
    fake: FakeApi, clock: Clock, tmp_path: Path
) -> None:
    moment = Moment()
    async with TinyStore.open(tmp_path / "db.json") as store:
        # the backfill takes 3 requests (catalogue + 2 ranges), the catch-up's first range
        # 1 more: the second range meets a spent budget (the catalogue is asked after the
        # ranges)
        bot = await build(store, source(clock, per_day=4), moment, tmp_path)
        await bot.poller.tick()
        moment.now = AFTER
        report = await bot.poller.tick()
        assert report.source_error is not None and "budget" in report.source_error
        assert await store.history.events() == [] and await posts(bot) == []
        assert max(await load_days(store.days)) == date(2026, 3, 30)  # the first range is stored
        assert await store.state.get(keys.catch_up("openrouter")) == {
            "first": "2026-03-01",
            "done_through": "2026-03-30",
        }
        assert (await store.state.get(keys.health("openrouter")))["consecutive_failures"] == 1
        calls = len(fake.calls)

        clock.t += 86_400  # a day later the budget has room again
        moment.now = bot.poller.next_poll or AFTER
        assert moment.now == AFTER + timedelta(minutes=50)  # the 03:00 grid poll
        report = await bot.poller.tick()
        assert report.source_error is None
        assert [c[2] for c in fake.calls[calls:]] == [  # only what was not stored yet
            {"start_date": "2026-03-31", "end_date": "2026-04-18"},
            {},  # and the catalogue, seven weeks old
        ]
        [post] = await posts(bot)
        assert post.message.note is not None and "caught up 49 days" in post.message.note
        assert {e.as_of for e in post.message.events} <= {
            date(2026, 4, 16),
            date(2026, 4, 17),
            date(2026, 4, 18),
        }
        assert await store.state.get(keys.catch_up("openrouter")) is None
