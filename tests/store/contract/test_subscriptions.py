"""Subscription records and held alerts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from bot.core.events import Event
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import ChannelRef
from bot.core.subscription import Filters, Subscription
from bot.store.protocols import DetectionAsks, Store
from tests.store.contract.conftest import Backend

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
CH = ChannelRef("slack", "T1", "C1")
OTHER = ChannelRef("discord", "G1", "C1")


def event(subject: str) -> Event:
    return Event("new_model", "openrouter", "week", date(2026, 2, 16), subject, {"model": subject})


async def test_a_record_round_trips(store: Store, backend: Backend) -> None:
    full = Subscription(
        CH,
        kinds=("new_leader", "surge"),
        filters=Filters(
            top_n=5, models=("openai/*",), exclude_countries=("CN",), min_move=4, min_change_pct=70
        ),
        periods=("day", "week"),
        digest=Digest("weekly", time(8, 30), "Europe/Berlin", 4),
        quiet=QuietHours(time(22), time(7), "Asia/Tokyo"),
        mute_until=NOW + timedelta(hours=2),
        skipped=3,
        charts=False,
        created_by="ann (U1)",
        created_at=NOW,
        paused=True,
        pause_reason="channel_not_found",
    )
    await store.subscriptions.upsert(full)
    store = await backend.reopen(store)
    assert await store.subscriptions.get(CH) == full


async def test_one_record_per_channel(store: Store) -> None:
    subs = store.subscriptions
    await subs.upsert(Subscription(CH, kinds=("new_leader",)))
    await subs.upsert(Subscription(CH, kinds=("surge",)))
    await subs.upsert(Subscription(OTHER, kinds=("drop",)))
    assert [s.channel for s in await subs.all()] == [OTHER, CH]  # sorted by channel key
    assert await subs.count() == 2
    got = await subs.get(CH)
    assert got is not None and got.kinds == ("surge",)
    assert await subs.remove(CH) and not await subs.remove(CH)
    assert await subs.get(CH) is None


async def test_all_follows_every_change_in_channel_order(store: Store) -> None:
    # TinyDB patches its cached list where documents changed: each kind of change is seen
    subs = store.subscriptions
    channels = [ChannelRef("slack", "T1", f"C{i}") for i in (5, 2, 9, 1)]
    for channel in channels:
        await subs.upsert(Subscription(channel))
    assert [s.channel.channel for s in await subs.all()] == ["C1", "C2", "C5", "C9"]
    await subs.pause(channels[0], "channel_not_found", NOW)
    await subs.upsert(Subscription(channels[2], kinds=("surge",)))
    assert [(s.channel.channel, s.paused, s.kinds) for s in await subs.all()] == [
        ("C1", False, Subscription(CH).kinds),
        ("C2", False, Subscription(CH).kinds),
        ("C5", True, Subscription(CH).kinds),
        ("C9", False, ("surge",)),
    ]
    await subs.remove(channels[1])
    await subs.upsert(Subscription(ChannelRef("slack", "T1", "C3")))
    assert [s.channel.channel for s in await subs.all()] == ["C1", "C3", "C5", "C9"]
    try:
        async with store.transaction():
            await subs.resume(channels[0], NOW)
            await subs.upsert(Subscription(ChannelRef("slack", "T1", "C0")))
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    after = await subs.all()
    assert [(s.channel.channel, s.paused) for s in after] == [
        ("C1", False),
        ("C3", False),
        ("C5", True),
        ("C9", False),
    ]


async def test_pause_keeps_the_settings_and_resume_clears_it(store: Store) -> None:
    subs = store.subscriptions
    await subs.upsert(Subscription(CH, filters=Filters(top_n=3)))
    await subs.pause(CH, "not_in_channel", NOW)
    paused = await subs.get(CH)
    assert paused is not None and paused.paused and paused.pause_reason == "not_in_channel"
    assert paused.filters.top_n == 3 and await subs.is_paused(CH)
    resumed = await subs.resume(CH, NOW, by="ann")
    assert resumed is not None and not resumed.paused and resumed.pause_reason is None
    assert not await subs.is_paused(CH) and not await subs.is_paused(OTHER)
    await subs.pause(ChannelRef("slack", "T1", "nobody"), "gone", NOW)  # no record: nothing
    assert await subs.count() == 1


async def test_attention_workspaces_and_detection_asks(store: Store) -> None:
    subs = store.subscriptions
    settled = Subscription(CH, confirmed=True, filters=Filters(top_n=5, min_move=2))
    fresh = Subscription(ChannelRef("slack", "T1", "C2"))
    muted = Subscription(OTHER, confirmed=True, mute_until=NOW, filters=Filters(min_change_pct=80))
    paused_new = Subscription(ChannelRef("slack", "T2", "C9"), paused=True)
    for sub in (settled, fresh, muted, paused_new):
        await subs.upsert(sub)
    attention = [s.channel for s in await subs.needing_attention()]
    assert attention == [OTHER, fresh.channel]  # unconfirmed (not paused), or muted
    assert [s.channel for s in await subs.in_workspace("slack", "T1")] == [CH, fresh.channel]
    assert await subs.detection_asks() == DetectionAsks((5, 10), 2, 80.0)
    await subs.upsert(replace(fresh, confirmed=True))
    assert [s.channel for s in await subs.needing_attention()] == [OTHER]
    await subs.remove(CH)
    assert await subs.detection_asks() == DetectionAsks((10,), None, 80.0)


async def test_sync_declared_follows_the_file_and_keeps_history(store: Store) -> None:
    subs = store.subscriptions
    hook = ChannelRef("webhook", "config", "ops")
    gone = ChannelRef("webhook", "config", "old")
    await subs.upsert(Subscription(gone))
    await subs.upsert(Subscription(CH))  # a chat channel is never touched by the file
    await subs.sync_declared([Subscription(hook)], NOW)
    created = await subs.get(hook)
    assert created is not None and created.created_by == "config" and created.created_at == NOW
    await subs.upsert(replace(created, confirmed=True, skipped=2))
    later = NOW + timedelta(days=1)
    await subs.sync_declared([Subscription(hook, kinds=("surge",))], later)
    changed = await subs.get(hook)
    assert changed is not None and changed.kinds == ("surge",) and changed.updated_at == later
    assert changed.confirmed and changed.skipped == 2 and changed.created_at == NOW
    assert await subs.get(gone) is None and await subs.get(CH) is not None


async def test_held_alerts_by_channel(store: Store, backend: Backend) -> None:
    held = store.held
    a, b = event("a/x"), event("b/y")
    await held.hold(CH, [a, b], NOW)
    await held.hold(CH, [a], NOW + timedelta(hours=1))  # held once
    await held.hold(OTHER, [b], NOW)
    store = await backend.reopen(store)
    held = store.held
    assert [(h.event, h.held_at) for h in await held.of(CH)] == [(a, NOW), (b, NOW)]
    assert await held.holding() == {OTHER: NOW, CH: NOW} and await held.count() == 3
    assert list(await held.holding()) == [OTHER, CH]  # sorted by key
    await held.release(CH, [a.key])
    assert [h.event for h in await held.of(CH)] == [b]
    await held.hold(CH, [a], NOW + timedelta(hours=2))
    await held.release(CH, [b.key])  # the oldest goes: the next one is the oldest now
    assert await held.holding() == {OTHER: NOW, CH: NOW + timedelta(hours=2)}
    await store.subscriptions.upsert(Subscription(OTHER))
    await store.subscriptions.remove(OTHER)  # what an unsubscribed channel held goes too
    assert await held.of(OTHER) == [] and list(await held.holding()) == [CH]
