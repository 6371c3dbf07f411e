"""The outbox's state machine through `resume_channel` and real delivery: an access failure
keeps its post, `resume` sends it (or drops it when too old), a content failure is reported
and never resent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.delivery.resume import resume_channel
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.workers import Delivery
from bot.store.protocols import Failure
from bot.store.tinydb import TinyStore
from tests.fakes.scripted_sender import FakeSender
from tests.fakes.virtual_time import START, VirtualClock, run_virtual

CH = ChannelRef("slack", "T1", "C1")
OTHER = ChannelRef("slack", "T1", "C2")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    s = TinyStore.open(tmp_path / "db.json")
    asyncio.run(s.subscriptions.upsert(Subscription(CH, created_at=START)))
    asyncio.run(s.subscriptions.upsert(Subscription(OTHER, created_at=START)))
    yield s
    s.close_now()


@dataclass
class Scripted(FakeSender):
    """`refuse` maps a post key to the failure of the PERMANENT answer it gets."""

    refuse: dict[str, Failure] = field(default_factory=dict)

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        failure = self.refuse.get(idempotency_key)
        if failure is not None:
            return SendResult(SendStatus.PERMANENT, reason=f"{failure} problem", failure=failure)
        return await super().send(channel, message, idempotency_key=idempotency_key)


def deliver(
    store: TinyStore, refuse: dict[str, Failure], *, at: timedelta = timedelta()
) -> Scripted:
    async def main(clock: VirtualClock) -> Scripted:
        clock.t += at.total_seconds()
        sender = Scripted(clock, refuse=refuse)
        subs = store.subscriptions
        delivery = Delivery(
            store.outbox,
            {"slack": sender},
            on_permanent=subs.pause,
            is_paused=subs.is_paused,
            clock=clock.now,
        )
        await delivery.run_until_idle()
        return sender

    return run_virtual(main)


def enqueue(store: TinyStore, channel: ChannelRef, *keys: str) -> None:
    posts = [Planned(channel, Message(notice=key), key) for key in keys]
    asyncio.run(store.outbox.enqueue(posts, now=START))


def test_an_access_failure_is_resent_on_resume_in_order(store: TinyStore) -> None:
    enqueue(store, CH, "a1", "a2", "a3")
    enqueue(store, OTHER, "b1")
    first = deliver(store, {"a2": "access"})
    assert first.received[CH] == ["a1"] and first.received[OTHER] == ["b1"]
    assert asyncio.run(store.subscriptions.is_paused(CH))
    # the failed post keeps its body; status-like counts see it
    failed = asyncio.run(store.outbox.items(CH, "failed"))
    assert [i.key for i in failed] == ["a2"] and failed[0].failure == "access"
    assert failed[0].message.notice == "a2"

    result = asyncio.run(resume_channel(store, CH, START + timedelta(hours=1), by="U1"))
    assert result.was_paused and result.requeued == 1 and result.dropped == 0
    assert result.subscription is not None and not result.subscription.paused
    second = deliver(store, {}, at=timedelta(hours=1))
    assert second.received[CH] == ["a2", "a3"]  # the missed one first, then the later one
    assert asyncio.run(store.outbox.count(CH, "failed")) == 0


def test_resume_drops_access_failures_older_than_resend_within_days(store: TinyStore) -> None:
    enqueue(store, CH, "old")
    deliver(store, {"old": "access"})
    later = START + timedelta(days=8)
    result = asyncio.run(resume_channel(store, CH, later, resend_within_days=7))
    assert result.requeued == 0 and result.dropped == 1
    assert asyncio.run(store.outbox.state_of("old")) == "dropped"
    assert deliver(store, {}, at=timedelta(days=8)).received[CH] == []


def test_a_content_failure_is_reported_never_resent(store: TinyStore) -> None:
    enqueue(store, CH, "bad", "good")
    first = deliver(store, {"bad": "content"})
    assert first.received[CH] == ["good"]  # the channel goes on
    assert not asyncio.run(store.subscriptions.is_paused(CH))
    result = asyncio.run(resume_channel(store, CH, START))
    assert not result.changed and result.refused == 1 and result.requeued == 0
    assert asyncio.run(store.outbox.state_of("bad")) == "failed"


def test_resume_of_a_channel_that_is_not_paused_changes_nothing(store: TinyStore) -> None:
    result = asyncio.run(resume_channel(store, CH, START))
    assert not result.changed and not result.was_paused
    assert (result.requeued, result.dropped, result.refused) == (0, 0, 0)
