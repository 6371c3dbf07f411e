"""Delivery and the poller, on virtual time: faults, order, pauses, restarts, one tick."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery, retry_delay
from bot.store.protocols import Outbox
from bot.store.tinydb import TinyStore
from bot.store.tinydb.journal import JournalWriter
from tests.delivery.test_rate_limits import max_in_window
from tests.fakes.scripted_sender import Call, FakeSender
from tests.fakes.virtual_time import START, VirtualClock, run_virtual

T = TypeVar("T")
SETTINGS = DeliverySettings(send_timeout=5.0, backoff_base=1.0, max_backoff=60.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    s = TinyStore.open(tmp_path / "db.json")
    yield s
    s.close_now()


def sync(step: Coroutine[Any, Any, T]) -> T:
    """A store call from these (sync) tests, on a loop of its own."""
    return asyncio.run(step)


def fill(outbox: Outbox, channels: list[ChannelRef], per_channel: int) -> dict[ChannelRef, list]:
    expected: dict[ChannelRef, list[str]] = {}
    posts = []
    for i in range(per_channel):  # interleaved, as a planner fanning out several polls would
        for channel in channels:
            key = f"{channel.channel}#{i}"
            posts.append(Planned(channel, Message(notice=key), key))
            expected.setdefault(channel, []).append(key)
    sync(outbox.enqueue(posts, now=START))
    return expected


def test_random_429s_500s_and_timeouts_lose_nothing_and_keep_order(store: TinyStore) -> None:
    rng = random.Random(4)
    channels = [ChannelRef("slack", "T1", f"C{i}") for i in range(30)]
    channels += [ChannelRef("discord", "G1", f"d{i}") for i in range(10)]
    outbox = store.outbox
    expected = fill(outbox, channels, per_channel=5)

    def choose(channel: ChannelRef, key: str) -> str:
        return rng.choices(["429", "500", "hang", "sent"], weights=[15, 10, 10, 65])[0]

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock, choose)
        delivery = Delivery(
            outbox,
            {"slack": sender, "discord": sender},
            SETTINGS,
            clock=clock.now,
            rng=random.Random(1),
        )
        await delivery.run_until_idle()
        return sender

    sender = run_virtual(main)
    assert dict(sender.received) == expected  # everything arrived, once, in order
    assert sync(outbox.count()) == 0
    outcomes = [c.outcome for c in sender.calls]
    assert min(outcomes.count(o) for o in ("429", "500", "hang")) >= 10, "too few faults"

    per_channel: dict[ChannelRef, list[Call]] = defaultdict(list)
    for call in sender.calls:
        per_channel[call.channel].append(call)
    for channel, calls in per_channel.items():
        for before, after in itertools.pairwise(calls):
            gap = round(after.t - before.t, 6)  # the platform's clock counts microseconds
            if before.outcome == "429":  # never sooner than the platform asked
                assert gap >= 7.5, (channel, before, after)
            elif before.outcome == "500":  # never an immediate retry either
                assert gap >= SETTINGS.backoff_base / 2
        if channel.platform == "slack":
            assert max_in_window([c.t for c in calls], 1.0) == 1
        else:
            assert max_in_window([c.t for c in calls], 5.0) <= 5


def test_a_permanent_failure_pauses_the_channel_and_keeps_its_later_posts(store: TinyStore) -> None:
    gone, fine = ChannelRef("slack", "T1", "gone"), ChannelRef("slack", "T1", "fine")
    outbox = store.outbox
    fill(outbox, [gone, fine], per_channel=3)
    paused: list[tuple[ChannelRef, str, datetime]] = []

    async def on_permanent(channel: ChannelRef, reason: str, now: datetime) -> None:
        paused.append((channel, reason, now))

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock, lambda c, k: "permanent" if c == gone else "sent")
        delivery = Delivery(
            outbox,
            {"slack": sender},
            SETTINGS,
            on_permanent=on_permanent,
            clock=clock.now,
        )
        await delivery.run_until_idle()
        assert delivery.stats.failed == 1
        return sender

    sender = run_virtual(main)
    assert paused == [(gone, "channel_not_found", START)]
    assert [c.key for c in sender.calls if c.channel == gone] == ["gone#0"]  # not retried
    assert sync(outbox.state_of("gone#0")) == "failed"
    assert [i.key for i in sync(outbox.pending(gone))] == ["gone#1", "gone#2"]
    assert sender.received[fine] == ["fine#0", "fine#1", "fine#2"]


def test_a_paused_channel_gets_nothing_until_it_is_resumed(store: TinyStore) -> None:
    quiet = ChannelRef("discord", "G1", "quiet")
    outbox = store.outbox
    fill(outbox, [quiet], per_channel=2)
    paused = {quiet}

    async def is_paused(channel: ChannelRef) -> bool:
        return channel in paused

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        delivery = Delivery(outbox, {"discord": sender}, is_paused=is_paused, clock=clock.now)
        await delivery.run_until_idle()
        assert sender.calls == []
        paused.clear()
        await delivery.run_until_idle()
        return sender

    assert run_virtual(main).received[quiet] == ["quiet#0", "quiet#1"]


def test_a_retry_time_is_kept_across_a_restart(tmp_path: Path) -> None:
    channel = ChannelRef("webhook", "", "ops")
    first_call: list[float] = []

    async def before_restart(clock: VirtualClock) -> None:
        async with TinyStore.open(tmp_path / "db.json") as store:
            outbox = store.outbox
            posts = [Planned(channel, Message(notice=k), k) for k in ("ops#0", "ops#1")]
            await outbox.enqueue(posts, now=START)
            sender = FakeSender(clock, lambda c, k: "429")
            delivery = Delivery(outbox, {"webhook": sender}, SETTINGS, clock=clock.now)
            await delivery.run_until_idle(wait_for_retries=False)  # one attempt, then exit
            assert [c.outcome for c in sender.calls] == ["429"]
            assert await outbox.count() == 2

    async def after_restart(clock: VirtualClock) -> None:
        clock.t = 2.0  # restarted 2 s later: the 429 asked for 7.5 s
        async with TinyStore.open(tmp_path / "db.json") as store:
            sender = FakeSender(clock)
            await Delivery(
                store.outbox, {"webhook": sender}, SETTINGS, clock=clock.now
            ).run_until_idle()
            first_call.append(sender.calls[0].t)
            assert sender.received[channel] == ["ops#0", "ops#1"]

    run_virtual(before_restart)
    run_virtual(after_restart)
    assert first_call[0] >= 7.5


def test_a_sender_that_raises_or_hangs_is_retried_and_the_error_text_is_not_logged(
    store: TinyStore, caplog: pytest.LogCaptureFixture
) -> None:
    channel = ChannelRef("console", "", "out")
    outbox = store.outbox
    fill(outbox, [channel], per_channel=1)
    script = iter(["raise", "hang", "sent"])

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock, lambda c, k: next(script))
        await Delivery(outbox, {"console": sender}, SETTINGS, clock=clock.now).run_until_idle()
        return sender

    sender = run_virtual(main)
    assert [c.outcome for c in sender.calls] == ["raise", "hang", "sent"]
    assert sender.calls[2].t >= sender.calls[1].t + SETTINGS.send_timeout
    assert "ConnectionResetError" in caplog.text
    assert "secret-token" not in caplog.text


def test_posts_for_a_platform_without_a_sender_stay_pending(store: TinyStore) -> None:
    outbox = store.outbox
    fill(outbox, [ChannelRef("slack", "T1", "C1")], per_channel=1)

    async def main(clock: VirtualClock) -> None:
        await Delivery(outbox, {}, clock=clock.now).run_until_idle()

    run_virtual(main)
    assert sync(outbox.count()) == 1


def test_outcomes_reached_together_share_one_disk_write(
    store: TinyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = [ChannelRef("console", "", f"c{i}") for i in range(50)]
    outbox = store.outbox
    fill(outbox, channels, per_channel=1)
    writes: list[int] = []
    submit = JournalWriter.submit

    def counting(self: JournalWriter, *args: Any) -> Any:
        writes.append(1)
        return submit(self, *args)

    monkeypatch.setattr(JournalWriter, "submit", counting)

    async def main(clock: VirtualClock) -> None:
        sender = FakeSender(clock)
        await Delivery(outbox, {"console": sender}, clock=clock.now).run_until_idle()
        assert len(sender.received) == 50

    run_virtual(main)
    assert sync(outbox.count()) == 0
    assert len(writes) <= 4  # 16 sends in flight at a time: a handful of group commits


def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() -> None:
    rng = random.Random(0)
    server_error = SendResult(SendStatus.RETRY)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)]:
        delays = [retry_delay(server_error, attempt, SETTINGS, rng) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step
    assert retry_delay(SendResult(SendStatus.RETRY, retry_after=120), 1, SETTINGS, rng) == 120


@pytest.mark.parametrize("hint", [1e9, 1e20, float("inf"), float("nan"), -5.0])
def test_a_retry_after_hint_is_bounded_by_max_retry_after_seconds(hint: float) -> None:
    # every sender's hint passes here, whatever the sender did with it
    settings = DeliverySettings(backoff_base=1.0, max_backoff=60.0, max_retry_after_seconds=600)
    delay = retry_delay(
        SendResult(SendStatus.RETRY, retry_after=hint), 1, settings, random.Random()
    )
    assert 0.5 <= delay <= 600
    assert START + timedelta(seconds=delay) > START  # a datetime can take it


def test_workers_start_in_batches_that_take_their_first_step_before_more_start(
    store: TinyStore,
) -> None:
    """A 10 ms slice of the starter started ~1,000 workers, whose first steps (read, render,
    send) then ran back to back in one turn of the loop: 60-110 ms of lag in a 5,000-channel
    fan-out. Each batch of `START_BATCH` now sends before the next one starts."""
    from bot.delivery.workers import START_BATCH

    channels = [ChannelRef("console", "", f"c{i:03d}") for i in range(3 * START_BATCH)]
    outbox = store.outbox
    fill(outbox, channels, per_channel=1)
    started_when_sent: list[int] = []

    async def main(clock: VirtualClock) -> None:
        sender = FakeSender(clock)
        delivery = Delivery(outbox, {"console": sender}, clock=clock.now)
        send = sender.send

        async def observed(*args: Any, **kwargs: Any) -> SendResult:
            started_when_sent.append(len(delivery._workers))
            return await send(*args, **kwargs)

        sender.send = observed  # type: ignore[method-assign]
        await delivery.run_until_idle()

    run_virtual(main)
    assert len(started_when_sent) == 3 * START_BATCH
    assert started_when_sent[0] <= START_BATCH  # the first batch sent before the second began
    assert sync(outbox.count()) == 0
