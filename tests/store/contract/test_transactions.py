"""Transactions: all or nothing, durable once the block ends, one writer at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.store.protocols import Store, Stored
from tests.helpers import snap
from tests.store.contract.conftest import Backend

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
CH = ChannelRef("webhook", "config", "ops")


async def test_a_block_that_raises_leaves_nothing(store: Store, backend: Backend) -> None:
    await store.state.set("kept", 1)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            assert await store.history.add_snapshot(snap("2026-01-05", {"a/x": 5})) is Stored.NEW
            await store.state.set("kept", 2)
            await store.subscriptions.upsert(Subscription(CH))
            await store.outbox.enqueue([Planned(CH, Message(notice="x"), "k")], now=NOW)
            raise RuntimeError("planning failed")
    for reopen in (False, True):
        current = await backend.reopen(store) if reopen else store
        assert await current.history.snapshot_count() == 0
        assert await current.history.latest_snapshot("openrouter", "week") is None
        assert await current.state.get("kept") == 1
        assert await current.subscriptions.get(CH) is None
        assert await current.outbox.state_of("k") is None
    store = backend.current
    assert store is not None
    # and the store still works
    assert await store.history.add_snapshot(snap("2026-01-05", {"a/x": 5})) is Stored.NEW


async def test_nested_blocks_commit_together(store: Store, backend: Backend) -> None:
    async with store.transaction():
        await store.state.set("a", 1)
        async with store.transaction():
            await store.state.set("b", 2)
        await store.state.set("c", 3)
    store = await backend.reopen(store)
    assert [await store.state.get(k) for k in "abc"] == [1, 2, 3]


async def test_another_task_writes_after_the_block(store: Store) -> None:
    order: list[str] = []
    inside = asyncio.Event()

    async def other() -> None:
        await inside.wait()
        await store.state.set("other", 1)
        order.append("other wrote")

    task = asyncio.ensure_future(other())
    async with store.transaction():
        await store.state.set("mine", 1)
        inside.set()
        await asyncio.sleep(0.01)  # the other task runs, and waits for the block
        order.append("block ends")
    await task
    assert order == ["block ends", "other wrote"]
    assert await store.state.get("other") == 1
