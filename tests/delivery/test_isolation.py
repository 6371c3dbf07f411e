"""Delivery isolates what is slow or broken: endpoints that hang hold no capacity, a channel
waiting for its limits holds no send slot, a refused message fails alone, a post waits for
its chart and only for it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.planning import Planned
from bot.delivery.rate_limits import Limit, PlatformLimits
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery
from bot.store.protocols import ChartSpec
from bot.store.tinydb import TinyStore
from tests.fakes.scripted_sender import FakeSender
from tests.fakes.virtual_time import START, VirtualClock, run_virtual


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    s = TinyStore.open(tmp_path / "db.json")
    yield s
    s.close_now()


def enqueue(store: TinyStore, posts: list[Planned], **charts: ChartSpec) -> None:
    asyncio.run(store.outbox.enqueue(posts, now=START, charts=charts))


def post(channel: ChannelRef, key: str) -> Planned:
    return Planned(channel, Message(notice=key), key)


def test_endpoints_that_hang_do_not_hold_up_healthy_channels(store: TinyStore) -> None:
    hanging = [ChannelRef("webhook", "config", f"hang{i}") for i in range(18)]
    healthy = [ChannelRef("webhook", "config", f"ok{i}") for i in range(40)]
    enqueue(store, [post(c, c.channel) for c in hanging + healthy])  # the hangers first
    settings = DeliverySettings(limits={}, send_timeout=30, stalled_after_seconds=0.5)

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock, lambda c, k: "hang" if k.startswith("hang") else "sent")
        delivery = Delivery(store.outbox, {"webhook": sender}, settings, clock=clock.now)
        await delivery.run_until_idle(wait_for_retries=False)
        return sender

    sender = run_virtual(main)
    done = [c.t for c in sender.calls if c.outcome == "sent"]
    assert len(done) == 40
    # the 16 slots are first taken by hangers; they give them back after 0.5 s of silence
    assert max(done) <= 1.0, max(done)
    stuck = [c for c in sender.calls if c.outcome == "hang"]
    assert len(stuck) == 18  # each tried once; their timeouts recorded as retries


def test_a_channel_waiting_for_its_platform_limit_holds_no_send_slot(store: TinyStore) -> None:
    crowded = [ChannelRef("discord", "G1", str(i)) for i in range(6)]
    other = ChannelRef("slack", "T1", "C1")
    enqueue(store, [post(c, f"d{c.channel}") for c in crowded] + [post(other, "s")])
    limits = {"discord": PlatformLimits(platform=Limit(1, 10.0)), "slack": PlatformLimits()}
    settings = DeliverySettings(limits=limits, concurrency=1)

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        delivery = Delivery(
            store.outbox, {"discord": sender, "slack": sender}, settings, clock=clock.now
        )
        await delivery.run_until_idle()
        return sender

    sender = run_virtual(main)
    slack = next(c for c in sender.calls if c.channel == other)
    assert slack.t < 1.0  # not behind five Discord posts that wait ten seconds each
    discord_times = sorted(c.t for c in sender.calls if c.channel.platform == "discord")
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(discord_times))


def test_a_refused_message_fails_alone_and_the_channel_goes_on(store: TinyStore) -> None:
    channel = ChannelRef("slack", "T1", "C1")
    enqueue(store, [post(channel, "bad"), post(channel, "next")])
    paused: list[ChannelRef] = []

    class Refusing(FakeSender):
        async def send(
            self, channel: ChannelRef, message: Message, *, idempotency_key: str
        ) -> SendResult:
            if idempotency_key == "bad":
                return SendResult(SendStatus.PERMANENT, reason="invalid_blocks", failure="content")
            return await super().send(channel, message, idempotency_key=idempotency_key)

    async def on_permanent(channel: ChannelRef, reason: str, now: object) -> None:
        paused.append(channel)

    async def main(clock: VirtualClock) -> Refusing:
        sender = Refusing(clock)
        delivery = Delivery(
            store.outbox, {"slack": sender}, DeliverySettings(), on_permanent=on_permanent
        )
        await delivery.run_until_idle()
        return sender

    sender = run_virtual(main)
    assert sender.received[channel] == ["next"] and paused == []
    bad = asyncio.run(store.outbox.item("bad"))
    assert bad is not None and (bad.state, bad.failure, bad.last_error) == (
        "failed",
        "content",
        "invalid_blocks",
    )


def test_a_post_waits_for_its_chart_and_others_do_not(store: TinyStore) -> None:
    chart = ChartSpec("trend", "openrouter", "week", date(2026, 2, 16))
    charted, plain = ChannelRef("slack", "T1", "C1"), ChannelRef("slack", "T1", "C2")
    enqueue(store, [post(charted, "c"), post(plain, "p")], c=chart)
    png = Attachment("trend.png", b"\x89PNG", title="Trend")

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        delivery = Delivery(store.outbox, {"slack": sender}, DeliverySettings(), clock=clock.now)

        async def draw() -> None:
            await asyncio.sleep(2)  # the worker process drawing
            await store.outbox.attach_chart(chart, png)
            delivery.kick()

        await asyncio.gather(draw(), delivery.run_until_idle(wait_for_retries=False))
        return sender

    sender = run_virtual(main)
    times = {c.channel: c.t for c in sender.calls}
    assert times[plain] < 1.0 and 2.0 <= times[charted] < 3.0


def test_a_send_is_not_counted_stalled_while_the_process_itself_was_busy() -> None:
    """The stall timer that fires late found the loop busy, not the endpoint slow: the send
    keeps its slot (a busy process letting out ever more requests would only get busier);
    one that fires on time gives it back."""
    import time

    from bot.delivery.workers import SendSlots

    async def scenario(busy: bool) -> int:
        slots = SendSlots(1, stalled_after=0.05)
        async with slots.active():
            if busy:
                time.sleep(0.2)  # the loop is held past the stall deadline
                await asyncio.sleep(0.01)  # the late timer runs now
            else:
                await asyncio.sleep(1.0)  # an endpoint that does not answer
        return slots.stalled

    assert asyncio.run(scenario(busy=True)) == 0
    assert asyncio.run(scenario(busy=False)) == 1


def test_each_round_says_how_many_channel_workers_it_started(store: TinyStore) -> None:
    # the composition root freezes a large fan-out's waiting workers
    # (`bot.app.freeze_started_workers`); it needs the count of each round that started any
    channels = [ChannelRef("webhook", "config", f"c{i}") for i in range(25)]
    enqueue(store, [post(c, c.channel) for c in channels])
    started: list[int] = []

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        delivery = Delivery(
            store.outbox,
            {"webhook": sender},
            DeliverySettings(limits={}),
            clock=clock.now,
            after_start=started.append,
        )
        await delivery.run_until_idle()
        return sender

    sender = run_virtual(main)
    assert len(sender.calls) == 25
    assert started == [25]  # one round started them all; the idle round after it, none
