"""Moving house: a year-sized TinyDB install moves to PostgreSQL (`rankbot db migrate`) and
the bot goes on there without announcing anything again, with complete week and month
windows on the first poll after the move; and it moves back into a file (backups).

The control is the same install left on TinyDB: both poll the same next days, and must store
the same snapshots, log the same events and plan the same posts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import respx

from bot import app
from bot.core.messages import ChannelRef
from bot.core.subscription import Subscription
from bot.store import moving
from bot.store.postgres import PgStore
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore, copy_database
from tests.fakes.openrouter_api import Clock, FakeApi, Rows, history, make_source
from tests.fakes.postgres import PostgresServer
from tests.store.postgres.database import empty_database

START, END = date(2025, 7, 1), date(2026, 6, 30)
CHANNELS = [ChannelRef("console", "w", f"c{i}") for i in range(5)]


def morning(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(2, 30), tzinfo=UTC)


def flipped(rows: Rows) -> Rows:
    """The day's figures with #1 and #2 swapped: news for every period."""
    (m1, t1), (m2, t2), *rest = rows
    return [(m2, t1), (m1, t2), *rest]


async def poll(store: Store, tmp: Path, now: datetime) -> tuple[int, int, int]:
    config = app.config_from_mapping({}, base=tmp)
    source = make_source(
        Clock(), backfill_since=START, periods=("day", "week", "month"), announce_within_days=3
    )
    bot = await app.build_bot(config, store, source, {}, clock=lambda: now)
    report = await bot.poller.tick()
    return report.snapshots, report.events, report.enqueued


async def streams(store: Store) -> dict[tuple[str, str], list[dict]]:
    out = {}
    for source, period in await store.history.streams():
        snaps = await store.history.snapshots(source, period)
        out[(source, period)] = [s.to_dict() for s in snaps]
    return out


async def test_a_year_moves_to_postgres_and_back(
    tmp_path: Path, router: respx.MockRouter, postgres_server: PostgresServer
) -> None:
    days = history(START, END)
    api = FakeApi(days)
    api.mount(router)
    path = tmp_path / "year.db.json"
    async with app.open_database(path) as store:
        async with store.transaction():
            for channel in CHANNELS:
                await store.subscriptions.upsert(
                    Subscription(channel, periods=("day", "week", "month"), confirmed=True)
                )
        await poll(store, tmp_path, morning(END))  # the backfill: a year, silently
        news = END + timedelta(days=1)
        days[news] = flipped(days[END])
        _, events, planned = await poll(store, tmp_path, morning(news))
        assert events and planned  # something was announced on TinyDB
    control = tmp_path / "control.db.json"
    copy_database(path, control)

    url = empty_database(postgres_server, "moving")
    async with await PgStore.open(url) as pg:
        moved = await moving.tiny_to_postgres(path, pg)
    tiny = TinyStore.open(path, readonly=True)
    expected = {t: len(d) for t, d in tiny.documents().items() if t != "meta"}
    tiny.close_now()
    assert {t: n for t, n in moved.counts.items() if n} == {t: n for t, n in expected.items() if n}
    assert moved.counts["raw_days"] >= 365 and moved.counts["outbox"] == planned

    # the next day: the same poll on PostgreSQL and on the TinyDB control
    later = news + timedelta(days=1)
    days[later] = days[news]
    async with await PgStore.open(url) as pg:
        logged_before = {e.key for e in await pg.history.events()}
        on_pg = await poll(pg, tmp_path, morning(later))
        pg_streams = await streams(pg)
        pg_events = [e.key for e in await pg.history.events()]
        pg_posts = sorted(i.key for i in await pg.outbox.items())
    async with app.open_database(control) as tiny_store:
        on_tiny = await poll(tiny_store, tmp_path, morning(later))
        tiny_streams = await streams(tiny_store)
        tiny_events = [e.key for e in await tiny_store.history.events()]
        tiny_posts = sorted(i.key for i in await tiny_store.outbox.items())
    assert on_pg == on_tiny
    assert on_pg[0] >= 3  # day, week and month snapshots stored on the first poll
    assert pg_streams == tiny_streams  # complete week and month windows: the raw days moved
    assert pg_events == tiny_events and pg_posts == tiny_posts
    new_events = pg_events[len(logged_before) :]
    assert not set(new_events) & logged_before  # nothing announced again

    # and back into a file (a backup), counts checked
    backup = tmp_path / "backup.db.json"
    async with await PgStore.open(url) as pg:
        back = await moving.postgres_to_tiny(pg, backup)
        assert back.counts == await pg.counts()
        restored = TinyStore.open(backup, readonly=True)
        assert await streams(restored) == pg_streams
        assert [e.key for e in await restored.history.events()] == pg_events
        restored.close_now()
