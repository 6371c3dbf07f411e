"""Post leases, shared rate windows and the poller's lead on a real PostgreSQL: what several
processes on one database rely on (each `PgStore` here has its own pool, as a process does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.store.postgres import PgStore
from bot.store.protocols import Outcome, Window
from tests.fakes.postgres import PostgresServer
from tests.store.postgres.database import empty_database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
A, B = ChannelRef("webhook", "w", "a"), ChannelRef("webhook", "w", "b")


@pytest.fixture
async def stores(postgres_server: PostgresServer) -> AsyncIterator[tuple[PgStore, PgStore]]:
    url = empty_database(postgres_server, "leases")
    one, two = await PgStore.open(url), await PgStore.open(url)
    yield one, two
    await one.close()
    await two.close()


async def enqueue(store: PgStore, channel: ChannelRef, *keys: str) -> None:
    posts = [Planned(channel, Message(notice=k), k) for k in keys]
    await store.outbox.enqueue(posts, now=NOW)


async def claim(store: PgStore, worker: str, limit: int = 10, lease: float = 30.0) -> list[str]:
    items = await store.leases.claim(
        worker, limit, lease_seconds=lease, now=NOW, platforms=["webhook"]
    )
    return [i.key for i in items]


async def test_only_a_channels_head_is_leased_and_by_one_worker(
    stores: tuple[PgStore, PgStore],
) -> None:
    one, two = stores
    await enqueue(one, A, "a1", "a2", "a3")
    await enqueue(one, B, "b1")
    assert await claim(one, "w1") == ["a1", "b1"]
    assert await claim(two, "w2") == []  # both heads are in flight
    await one.outbox.record([Outcome("a1", "sent", NOW)])
    assert await claim(two, "w2") == ["a2"]  # the next of A, after a1's outcome
    assert await claim(one, "w1") == []


async def test_concurrent_claims_never_hand_out_a_post_twice(
    stores: tuple[PgStore, PgStore],
) -> None:
    one, two = stores
    for n in range(40):
        await enqueue(one, ChannelRef("webhook", "w", f"c{n}"), f"k{n}")
    got = await asyncio.gather(*(claim(s, f"w{i}", 7) for i, s in enumerate([one, two] * 4)))
    keys = [k for batch in got for k in batch]
    assert len(keys) == len(set(keys)) == 40


async def test_a_lease_that_is_not_renewed_goes_to_another_worker(
    stores: tuple[PgStore, PgStore],
) -> None:
    one, two = stores
    await enqueue(one, A, "a1", "a2")
    assert await claim(one, "dead", lease=0.3) == ["a1"]
    assert await claim(two, "alive") == []
    await asyncio.sleep(0.4)
    assert await claim(two, "alive") == ["a1"]  # the same post, still first: order kept
    await two.outbox.record([Outcome("a1", "sent", NOW)])
    with pytest.raises(KeyError):  # the dead worker's late outcome is refused
        await one.outbox.record([Outcome("a1", "sent", NOW)])


async def test_renewed_and_released_leases(stores: tuple[PgStore, PgStore]) -> None:
    one, two = stores
    await enqueue(one, A, "a1")
    assert await claim(one, "w1", lease=0.3) == ["a1"]
    assert await one.leases.renew("w1", ["a1"], 30.0) == 1
    assert await one.leases.renew("w2", ["a1"], 30.0) == 0
    await asyncio.sleep(0.4)
    assert await claim(two, "w2") == []  # renewed: still w1's
    await one.leases.release("w1", ["a1"])
    assert await claim(two, "w2") == ["a1"]


async def test_paused_channels_retries_and_charts_wait(stores: tuple[PgStore, PgStore]) -> None:
    one, _ = stores
    await one.subscriptions.upsert(Subscription(A, paused=True))
    await enqueue(one, A, "a1")
    await enqueue(one, B, "b1")
    assert await claim(one, "w") == ["b1"]
    later = NOW + timedelta(minutes=5)
    await one.outbox.record([Outcome("b1", "pending", NOW, reason="503", not_before=later)])
    assert await claim(one, "w") == []
    items = await one.leases.claim("w", 5, lease_seconds=30, now=later, platforms=["webhook"])
    assert [i.key for i in items] == ["b1"] and items[0].attempts == 1


async def test_shared_windows_count_every_process(stores: tuple[PgStore, PgStore]) -> None:
    one, two = stores
    windows = [Window("c:x", 5, 1.0), Window("p:discord", 8, 1.0)]
    took = [await s.rate_windows.take(windows) for s in (one, two, one, two, one)]
    assert took == [0.0] * 5
    wait = await two.rate_windows.take(windows)
    assert 0 < wait <= 1.0  # the channel's five are spent, whichever process asks
    other = [Window("c:y", 5, 1.0), Window("p:discord", 8, 1.0)]
    assert [await one.rate_windows.take(other) for _ in range(3)] == [0.0] * 3
    assert await two.rate_windows.take(other) > 0  # the platform's eight are spent
    await asyncio.sleep(wait + 0.05)
    assert await two.rate_windows.take(windows) == 0.0


async def test_one_leader_at_a_time_and_a_standby_takes_over(
    stores: tuple[PgStore, PgStore],
) -> None:
    one, two = stores
    first, second = one.leadership(), two.leadership()
    assert await first.try_lead()
    assert not await second.try_lead()
    assert await first.still_leading()
    began = time.monotonic()
    await first.resign()  # as a killed process's connection closes
    assert await second.try_lead()
    assert time.monotonic() - began < 5
    assert not await first.still_leading() and not await first.try_lead()
    await second.resign()
