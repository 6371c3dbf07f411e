"""The planner (`bot.engine.planner.Planner`): one grouped post per channel from what is
subscribed in the store, held for quiet hours and digests, muted and counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.events import Event
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.core.planning import Planned, plan_key
from bot.core.subscription import Subscription
from bot.engine.planner import Plan, Planner
from bot.store.protocols import ChartSpec, Store
from bot.store.tinydb import TinyStore

NOW = datetime(2026, 2, 16, 12, 0, tzinfo=UTC)  # a Monday
CH = ChannelRef("slack", "T1", "C1")
OTHER = ChannelRef("discord", "G1", "c2")


def ev(kind: str, subject: str, rank: int = 1, **fields: Any) -> Event:
    base = {"model": subject, "author": subject.split("/")[0], "rank": rank, "country": "US"}
    return Event(kind, "openrouter", "week", date(2026, 2, 16), subject, {**base, **fields})


LEADER = ev("new_leader", "a/one")
ENTRY = ev("top_entry", "b/two", rank=7, top_n=10)
MILESTONE = ev("milestone", "a/one", threshold=10**12)
SURGE = ev("surge", "c/three", rank=4, change_pct=80.0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with TinyStore.open(tmp_path / "db.json") as s:
        yield s


async def subscribe(store: Store, channel: ChannelRef = CH, **changes: Any) -> Subscription:
    sub = replace(Subscription(channel, created_at=NOW, confirmed=True), **changes)
    return await store.subscriptions.upsert(sub)


async def planned_after(store: Store, events: list[Event], now: datetime) -> list[Planned]:
    """What a poll with `events` plans, as the poller does it (one transaction)."""
    async with store.transaction():
        subscriptions = await store.subscriptions.all()
        return (await Planner(store).after_ingest(events, subscriptions, now)).posts


async def flush(store: Store, now: datetime) -> list[Planned]:
    async with store.transaction():
        return await Planner(store).flush_due(now)


async def test_events_of_a_poll_become_one_message_most_important_first(store: Store) -> None:
    await subscribe(store)
    planned = await planned_after(store, [MILESTONE, SURGE, ENTRY, LEADER], NOW)
    assert len(planned) == 1
    assert planned[0].channel == CH
    assert planned[0].message.events == (LEADER, ENTRY, MILESTONE)  # surge not subscribed


async def test_the_same_events_planned_after_a_restart_get_the_same_key(tmp_path: Path) -> None:
    async with TinyStore.open(tmp_path / "db.json") as s:
        await subscribe(s)
        first = await planned_after(s, [LEADER, ENTRY], NOW)
    async with TinyStore.open(tmp_path / "db.json") as s:
        again = await planned_after(s, [ENTRY, LEADER], NOW + timedelta(minutes=5))
    assert [p.key for p in first] == [p.key for p in again]


async def test_overlapping_subscribe_requests_make_one_record_and_one_post(store: Store) -> None:
    services = Services(store, Config())
    ctx = CommandContext(CH, Caller("U1", "ann", can_manage=True), NOW)
    assert (await execute("subscribe new_leader top_entry", ctx, services)).ok
    assert (await execute("subscribe new_leader milestone", ctx, services)).ok
    assert len(await store.subscriptions.all()) == 1
    planned = await planned_after(store, [LEADER, ENTRY, MILESTONE], NOW)
    assert len(planned) == 1 and len(planned[0].message.events) == 3


async def test_channels_that_want_nothing_or_are_paused_get_nothing(store: Store) -> None:
    await subscribe(store, kinds=("surge",), filters=replace(Subscription(CH).filters, top_n=3))
    await subscribe(store, OTHER, paused=True, pause_reason="gone")
    assert await planned_after(store, [LEADER, ENTRY], NOW) == []
    assert await planned_after(store, [], NOW) == []


async def test_a_new_subscription_gets_exactly_one_confirmation(store: Store) -> None:
    await store.subscriptions.upsert(Subscription(CH, created_at=NOW))
    planned = await flush(store, NOW)
    assert len(planned) == 1
    notice = planned[0].message.notice or ""
    assert "from now on" in notice and "new_leader" in notice and not planned[0].message.events
    assert planned[0].key == f"confirm:{CH.key}:{NOW.isoformat()}"
    assert await flush(store, NOW + timedelta(minutes=1)) == []


async def test_quiet_hours_hold_events_until_they_end_then_group_them(store: Store) -> None:
    await subscribe(store, quiet=QuietHours(time(22), time(7), "UTC"))
    night = datetime(2026, 2, 16, 23, 0, tzinfo=UTC)
    assert await planned_after(store, [ENTRY], night) == []
    assert await planned_after(store, [LEADER], night + timedelta(hours=2)) == []
    assert await flush(store, datetime(2026, 2, 17, 6, 59, tzinfo=UTC)) == []
    released = await flush(store, datetime(2026, 2, 17, 7, 0, tzinfo=UTC))
    assert len(released) == 1
    assert released[0].message.events == (LEADER, ENTRY)
    assert "quiet hours" in (released[0].message.title or "")
    assert await flush(store, datetime(2026, 2, 17, 8, 0, tzinfo=UTC)) == []


async def test_quiet_hours_are_local_to_the_channel(store: Store) -> None:
    await subscribe(store, quiet=QuietHours(time(22), time(7), "Asia/Tokyo"))  # 13:00-22:00 UTC
    await subscribe(store, OTHER, quiet=QuietHours(time(22), time(7), "America/New_York"))
    afternoon = datetime(2026, 2, 16, 14, tzinfo=UTC)
    planned = await planned_after(store, [LEADER], afternoon)
    assert [p.channel for p in planned] == [OTHER]  # 09:00 in New York, 23:00 in Tokyo
    released = await flush(store, datetime(2026, 2, 16, 22, tzinfo=UTC))
    assert [p.channel for p in released] == [CH]


async def test_the_same_event_is_held_once(store: Store) -> None:
    await subscribe(store, quiet=QuietHours(time(0), time(23, 59), "UTC"))
    await planned_after(store, [LEADER], NOW)
    await planned_after(store, [LEADER], NOW)
    assert await store.held.count() == 1


async def test_a_daily_digest_gathers_everything_into_one_message(store: Store) -> None:
    await subscribe(store, digest=Digest("daily", time(9), "Europe/Berlin"))  # 08:00 UTC
    assert await planned_after(store, [LEADER], NOW) == []
    assert await planned_after(store, [ENTRY], NOW + timedelta(hours=6)) == []
    assert await flush(store, datetime(2026, 2, 17, 7, 59, tzinfo=UTC)) == []
    digest = await flush(store, datetime(2026, 2, 17, 8, 0, tzinfo=UTC))
    assert len(digest) == 1
    assert digest[0].message.events == (LEADER, ENTRY)
    assert (digest[0].message.title or "").startswith("Daily digest: 2 alert(s)")
    assert digest[0].key.startswith("digest:")
    assert await flush(store, datetime(2026, 2, 18, 8, 0, tzinfo=UTC)) == []


async def test_channels_due_the_same_digest_share_one_message_with_their_own_keys(
    store: Store,
) -> None:
    third = ChannelRef("slack", "T2", "C9")
    daily = Digest("daily", time(9), "Europe/Berlin")
    for channel in (CH, OTHER, third):
        await subscribe(store, channel, digest=daily)
    await subscribe(store, third, digest=daily, lang="zh-CN")
    assert await planned_after(store, [LEADER, ENTRY], NOW) == []
    posts = {p.channel: p for p in await flush(store, datetime(2026, 2, 17, 8, tzinfo=UTC))}
    assert set(posts) == {CH, OTHER, third}
    # one grouping and one English translation shared; the Chinese channel gets its own words
    assert posts[CH].message is posts[OTHER].message
    assert posts[third].message is not posts[CH].message
    assert posts[third].message.events == posts[CH].message.events == (LEADER, ENTRY)
    assert (posts[CH].message.title or "").startswith("Daily digest: 2 alert(s)")
    assert posts[third].message.lang == "zh-CN" and "Daily" not in (
        posts[third].message.title or ""
    )
    # each channel its own key, the one it would get alone
    assert {p.key for p in posts.values()} == {
        plan_key(c, (LEADER, ENTRY), "digest") for c in (CH, OTHER, third)
    }


async def test_a_tick_reads_the_events_of_due_channels_only(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A minute's tick between polls asks each holding channel no more than when it held:
    one whose digest is not due or whose quiet hours go on is not read (on PostgreSQL each
    read is a query); a paused channel keeps what it holds; a digest changed to none since
    (settings edited) goes out at the next tick."""
    quiet = QuietHours(time(22), time(7), "UTC")
    await subscribe(store, CH, digest=Digest("daily", time(9), "UTC"))
    await subscribe(store, OTHER, quiet=quiet)
    paused = ChannelRef("slack", "T3", "C3")
    await subscribe(store, paused, digest=Digest("daily", time(9), "UTC"))
    night = datetime(2026, 2, 16, 23, 0, tzinfo=UTC)
    assert await planned_after(store, [LEADER], night) == []
    sub = await store.subscriptions.get(paused)
    assert sub is not None
    await store.subscriptions.upsert(replace(sub, paused=True))
    read: list[ChannelRef] = []
    of = store.held.of

    async def counted(channel: ChannelRef) -> Any:
        read.append(channel)
        return await of(channel)

    monkeypatch.setattr(store.held, "of", counted)
    assert await flush(store, night + timedelta(minutes=1)) == []
    assert read == []  # none due: nothing read
    woken = await flush(store, datetime(2026, 2, 17, 7, 0, tzinfo=UTC))  # quiet hours over
    assert [p.channel for p in woken] == [OTHER] and read == [OTHER]
    sub = await store.subscriptions.get(CH)
    assert sub is not None
    await store.subscriptions.upsert(replace(sub, digest=None))  # the digest turned off
    assert [p.channel for p in await flush(store, datetime(2026, 2, 17, 7, 1, tzinfo=UTC))] == [CH]
    assert await flush(store, datetime(2026, 2, 18, 9, 0, tzinfo=UTC)) == []  # paused: kept
    assert list(await store.held.holding()) == [paused]


async def test_a_weekly_digest_waits_for_its_day(store: Store) -> None:
    await subscribe(store, digest=Digest("weekly", time(9), "UTC", weekday=4))
    await planned_after(store, [LEADER], NOW)
    assert await flush(store, datetime(2026, 2, 19, 9, tzinfo=UTC)) == []
    assert len(await flush(store, datetime(2026, 2, 20, 9, tzinfo=UTC))) == 1


async def test_muted_alerts_are_dropped_counted_and_announced_once(store: Store) -> None:
    await subscribe(store, mute_until=NOW + timedelta(hours=2))
    assert await planned_after(store, [LEADER, ENTRY], NOW) == []
    assert await planned_after(store, [MILESTONE], NOW + timedelta(hours=1)) == []
    muted = await store.subscriptions.get(CH)
    assert muted is not None and muted.skipped == 3
    assert await flush(store, NOW + timedelta(hours=1)) == []
    ended = await flush(store, NOW + timedelta(hours=2))
    assert len(ended) == 1
    assert (
        ended[0].message.notice == "3 alerts were skipped while muted (until 2026-02-16 14:00 UTC)."
    )
    after = await store.subscriptions.get(CH)
    assert after is not None and after.mute_until is None and after.skipped == 0
    assert await flush(store, NOW + timedelta(hours=3)) == []
    assert len(await planned_after(store, [LEADER], NOW + timedelta(hours=3))) == 1


async def test_a_mute_with_nothing_skipped_ends_silently(store: Store) -> None:
    await subscribe(store, mute_until=NOW + timedelta(hours=1))
    assert await flush(store, NOW + timedelta(hours=2)) == []
    sub = await store.subscriptions.get(CH)
    assert sub is not None and sub.mute_until is None


async def test_a_digest_due_during_a_mute_is_dropped_and_counted(store: Store) -> None:
    await subscribe(store, digest=Digest("daily", time(13), "UTC"))
    await planned_after(store, [LEADER, ENTRY], NOW)
    sub = await store.subscriptions.get(CH)
    assert sub is not None
    await store.subscriptions.upsert(replace(sub, mute_until=NOW + timedelta(hours=3)))
    assert await flush(store, NOW + timedelta(hours=1)) == []
    ended = await flush(store, NOW + timedelta(hours=3))
    assert [p.message.notice for p in ended] == [
        "2 alerts were skipped while muted (until 2026-02-16 15:00 UTC)."
    ]


async def test_held_events_of_a_removed_channel_are_dropped(store: Store) -> None:
    await subscribe(store, digest=Digest("daily", time(9), "UTC"))
    await planned_after(store, [LEADER], NOW)
    await store.subscriptions.remove(CH)
    assert await flush(store, NOW + timedelta(days=2)) == []
    assert await store.held.count() == 0


async def plan_after(store: Store, events: list[Event], now: datetime) -> Plan:
    async with store.transaction():
        subscriptions = await store.subscriptions.all()
        return await Planner(store).after_ingest(events, subscriptions, now)


async def test_a_post_carries_the_chart_of_its_newest_snapshot_only(store: Store) -> None:
    await subscribe(store, kinds=("new_leader", "rank_change"))
    older_leader = replace(LEADER, as_of=date(2026, 2, 9))
    newer_move = ev("rank_change", "c/three", rank=3, previous_rank=6, move=3)
    plan = await plan_after(store, [older_leader, newer_move], NOW)
    [post] = plan.posts
    assert post.message.events == (newer_move, older_leader)  # newest snapshot first
    assert plan.charts == {}  # the leader's picture belongs to an older week
    plan = await plan_after(store, [older_leader, newer_move, LEADER], NOW)
    [post] = plan.posts
    assert plan.charts == {post.key: ChartSpec("trend", "openrouter", "week", LEADER.as_of)}


async def test_a_chart_is_drawn_in_the_channel_language(store: Store) -> None:
    await subscribe(store, kinds=("new_leader",), lang="zh-CN")
    await subscribe(store, ChannelRef("slack", "T1", "C-en"), kinds=("new_leader",))
    plan = await plan_after(store, [LEADER], NOW)
    langs = {post.message.lang: plan.charts[post.key].lang for post in plan.posts}
    assert langs == {"zh-CN": "zh-CN", "en": "en"}


async def test_a_digest_spanning_weeks_lays_out_newest_first(store: Store) -> None:
    await subscribe(store, digest=Digest("daily", time(9), "UTC"))
    old_entry = replace(ENTRY, as_of=date(2026, 2, 9))
    await planned_after(store, [old_entry], NOW)
    await planned_after(store, [MILESTONE], NOW + timedelta(hours=1))
    [digest] = await flush(store, datetime(2026, 2, 17, 9, tzinfo=UTC))
    assert digest.message.events == (MILESTONE, old_entry)


async def test_planning_for_many_channels_gives_the_event_loop_turns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll with news for 10,000 channels plans for longer than the loop may wait, so the
    planner pauses between channels once a slice is used up (here: every slice is)."""
    import asyncio
    import types

    import bot.net.slices

    ticks = iter(range(0, 10**6, 1))
    monkeypatch.setattr(
        bot.net.slices, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks)))
    )
    for i in range(20):
        await subscribe(store, ChannelRef("slack", "T1", f"C{i}"))
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    other = asyncio.ensure_future(other_work())
    await asyncio.sleep(0)
    before = turns
    planned = await planned_after(store, [LEADER], NOW)
    other.cancel()
    assert len(planned) == 20
    assert turns - before >= 19
