"""The outbox: written before sending, enqueued once per key, resumed after a restart, and the
state machine `pending` → `sent` | `failed` | `dropped` that `status`, `resume` and the admin
commands build on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.events import Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.planning import Planned
from bot.store.protocols import ChartSpec, Outcome, Requeued, Store
from tests.store.contract.conftest import Backend

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
ALPHA = ChannelRef("slack", "T1", "C-alpha")
BETA = ChannelRef("discord", "G1", "c-beta")
CHART = ChartSpec("trend", "openrouter", "week", date(2026, 2, 16))


def leader_event() -> Event:
    return Event(
        kind="new_leader",
        source="openrouter",
        period="week",
        as_of=date(2026, 2, 16),
        subject="minimax/minimax-m2.5-20260211",
        fields={"model": "minimax/minimax-m2.5-20260211", "tokens": 1_700_000_000_000},
        attribution="Source: OpenRouter",
    )


async def put(store: Store, channel: ChannelRef, key: str, text: str | None = None) -> bool:
    post = Planned(channel, Message(notice=text or key), key)
    return await store.outbox.enqueue([post], now=NOW) == 1


async def test_a_message_survives_a_restart_intact(store: Store, backend: Backend) -> None:
    chart = Attachment(
        "top.png", b"\x89PNG\x00binary", title="前10名", mime="image/png", alt="MiniMax leads"
    )
    message = Message(
        events=(leader_event(),),
        title="Weekly",
        attachments=(chart,),
        note="↻ caught up",
        lang="zh-CN",
        tz="Asia/Shanghai",
    )
    assert await store.outbox.enqueue([Planned(ALPHA, message, "k1")], now=NOW) == 1
    store = await backend.reopen(store)
    item = await store.outbox.head(ALPHA)
    assert item is not None and item.message == message
    assert (item.key, item.channel, item.enqueued_at, item.attempts, item.state) == (
        "k1",
        ALPHA,
        NOW,
        0,
        "pending",
    )


async def test_a_key_is_enqueued_once_whatever_became_of_it(store: Store, backend: Backend) -> None:
    outbox = store.outbox
    assert await put(store, ALPHA, "k1", "one")
    assert not await put(store, ALPHA, "k1", "again")
    await outbox.record([Outcome("k1", "sent", NOW)])
    assert not await put(store, ALPHA, "k1", "after sent")
    await put(store, BETA, "k2")
    await outbox.record([Outcome("k2", "failed", NOW, reason="channel_not_found")])
    assert not await put(store, BETA, "k2", "after failed")
    posts = [Planned(ALPHA, Message(notice="x"), "k3"), Planned(ALPHA, Message(notice="y"), "k3")]
    assert await outbox.enqueue(posts, now=NOW) == 1  # a key twice in one batch: once
    store = await backend.reopen(store)
    assert not await put(store, ALPHA, "k1", "after restart")
    states = [await store.outbox.state_of(k) for k in ("k1", "k2", "k3", "k4")]
    assert states == ["sent", "failed", "pending", None]


async def test_pending_items_come_back_per_channel_in_enqueue_order(
    store: Store, backend: Backend
) -> None:
    for i in range(3):
        await put(store, ALPHA, f"a{i}")
        await put(store, BETA, f"b{i}")
    await store.outbox.record([Outcome("a0", "sent", NOW)])
    store = await backend.reopen(store)
    outbox = store.outbox
    assert [i.key for i in await outbox.pending(ALPHA)] == ["a1", "a2"]
    assert [i.key for i in await outbox.pending(BETA)] == ["b0", "b1", "b2"]
    assert await outbox.channels() == [BETA, ALPHA]  # oldest pending item first
    assert (await outbox.count(), await outbox.count(ALPHA)) == (5, 2)
    assert await outbox.count(ALPHA, "sent") == 1
    assert (await outbox.counts())[(ALPHA, "pending")] == 2


async def test_a_retry_keeps_its_wait_across_a_restart(store: Store, backend: Backend) -> None:
    later = NOW + timedelta(seconds=30)
    await put(store, ALPHA, "a0")
    await put(store, ALPHA, "a1")
    await store.outbox.record(
        [Outcome("a0", "pending", NOW, reason="rate limited (HTTP 429)", not_before=later)]
    )
    store = await backend.reopen(store)
    head = await store.outbox.head(ALPHA)
    assert head is not None and (head.key, head.attempts, head.last_error) == (
        "a0",
        1,
        "rate limited (HTTP 429)",
    )
    assert head.not_before == later and not head.is_due(NOW) and head.is_due(later)


async def test_recording_a_post_that_is_not_pending_writes_nothing(store: Store) -> None:
    await put(store, ALPHA, "k1")
    await put(store, ALPHA, "k2")
    await store.outbox.record([Outcome("k1", "sent", NOW)])
    with pytest.raises(KeyError):
        await store.outbox.record([Outcome("k2", "sent", NOW), Outcome("k1", "sent", NOW)])
    assert await store.outbox.state_of("k2") == "pending"
    with pytest.raises(KeyError):
        await store.outbox.record([Outcome("nope", "pending", NOW, not_before=NOW)])


async def test_a_post_is_handed_out_only_once_its_enqueue_is_committed(store: Store) -> None:
    async with store.transaction():
        await put(store, ALPHA, "k1")
        assert await store.outbox.head(ALPHA) is None
        assert await store.outbox.channels() == []
    item = await store.outbox.head(ALPHA)
    assert item is not None and item.key == "k1"


async def test_failed_posts_keep_their_body_and_can_go_back(store: Store, backend: Backend) -> None:
    outbox = store.outbox
    for key in ("k1", "k2", "k3", "k4"):
        await put(store, ALPHA, key)
    early, late = NOW + timedelta(minutes=1), NOW + timedelta(minutes=10)
    await outbox.record([Outcome("k1", "failed", early, reason="not_in_channel")])
    await outbox.record(
        [
            Outcome("k2", "failed", late, reason="channel_not_found"),
            Outcome("k3", "failed", late, reason="invalid_blocks", failure="content"),
        ]
    )
    store = await backend.reopen(store)
    outbox = store.outbox
    failed = await outbox.items(ALPHA, "failed")
    assert [(i.key, i.failure, i.last_error) for i in failed] == [
        ("k1", "access", "not_in_channel"),
        ("k2", "access", "channel_not_found"),
        ("k3", "content", "invalid_blocks"),
    ]
    assert failed[0].message == Message(notice="k1") and failed[0].finished_at == early
    requeued = await outbox.requeue(ALPHA, NOW + timedelta(minutes=5))
    assert requeued == Requeued(requeued=("k2",), older=("k1",))  # content failures stay
    assert [i.key for i in await outbox.pending(ALPHA)] == ["k2", "k4"]  # original order
    assert await outbox.retry(["k3", "k4", "nope"]) == 1
    assert [i.key for i in await outbox.pending(ALPHA)] == ["k2", "k3", "k4"]
    assert await outbox.drop(["k1", "k4"], NOW) == 2
    assert [await outbox.state_of(k) for k in ("k1", "k4")] == ["dropped", "dropped"]
    assert not await put(store, ALPHA, "k1")  # a dropped key stays known


async def test_prune_forgets_old_sent_posts_and_keeps_failed_ones(store: Store) -> None:
    outbox = store.outbox
    for key in ("old-sent", "old-failed", "old-dropped", "new-sent", "waiting"):
        await put(store, ALPHA, key)
    old = NOW - timedelta(days=40)
    await outbox.record(
        [
            Outcome("old-sent", "sent", old),
            Outcome("old-failed", "failed", old, reason="is_archived"),
            Outcome("new-sent", "sent", NOW - timedelta(days=2)),
        ]
    )
    await outbox.drop(["old-dropped"], old)
    assert await outbox.prune(NOW, keep_sent_days=30) == 2
    states = [
        await outbox.state_of(k)
        for k in ("old-sent", "old-failed", "old-dropped", "new-sent", "waiting")
    ]
    assert states == [None, "failed", None, "sent", "pending"]
    assert await outbox.prune(NOW, keep_sent_days=30) == 0


async def test_a_post_waits_for_its_chart_which_survives_a_restart(
    store: Store, backend: Backend
) -> None:
    message = Message(events=(leader_event(),))
    posts = [Planned(ALPHA, message, "a"), Planned(BETA, message, "b")]
    await store.outbox.enqueue(posts, now=NOW, charts={"a": CHART, "b": CHART})
    await put(store, ALPHA, "plain")
    store = await backend.reopen(store)
    head = await store.outbox.head(ALPHA)
    assert head is not None and head.chart_pending and head.message.attachments == ()
    assert await store.outbox.charts_pending() == [CHART]
    png = Attachment("trend.png", b"\x89PNG chart", title="Trend")
    assert await store.outbox.attach_chart(CHART, png) >= 1
    assert await store.outbox.charts_pending() == []
    for channel in (ALPHA, BETA):
        item = await store.outbox.head(channel)
        assert item is not None and not item.chart_pending
        assert item.message.attachments == (png,) and item.message.events == message.events
    assert await store.outbox.attach_chart(CHART, png) == 0


async def test_a_chart_that_cannot_be_drawn_lets_the_post_go_without_it(store: Store) -> None:
    await store.outbox.enqueue(
        [Planned(ALPHA, Message(notice="x"), "a")], now=NOW, charts={"a": CHART}
    )
    await store.outbox.attach_chart(CHART, None)
    item = await store.outbox.head(ALPHA)
    assert item is not None and not item.chart_pending and item.message.attachments == ()
