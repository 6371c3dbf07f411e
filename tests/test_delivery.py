"""Delivery and the poller, on virtual time: faults, order, pauses, restarts, one tick."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from bot.cli.main import main
from bot.core.countries import shipped_table
from bot.core.events import DetectParams, Event
from bot.core.history_format import write_history
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery, retry_delay
from bot.engine.poller import Poller, ReplaySource, run_forever
from bot.store.atomic_json import AtomicJSONStorage
from bot.store.database import Store
from bot.store.outbox import Outbox
from bot.store.subscriptions import Subscriptions
from tests.helpers import snap
from tests.test_ratelimit import max_in_window
from tests.virtual_time import START, VirtualClock, run_virtual

SETTINGS = DeliverySettings(send_timeout=5.0, backoff_base=1.0, max_backoff=60.0)


@dataclass
class Call:
    t: float
    channel: ChannelRef
    key: str
    outcome: str
    retry_after: float | None = None


@dataclass
class FakeSender:
    """Answers from a script (`outcomes`, one per call, then SENT) and records everything."""

    clock: VirtualClock
    choose: Callable[[ChannelRef, str], str] = lambda channel, key: "sent"
    calls: list[Call] = field(default_factory=list)
    received: dict[ChannelRef, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        outcome = self.choose(channel, idempotency_key)
        elapsed = (self.clock.now() - START).total_seconds()  # the wall clock a platform sees
        call = Call(elapsed, channel, idempotency_key, outcome)
        self.calls.append(call)
        if outcome == "sent":
            self.received[channel].append(idempotency_key)
            return SendResult(SendStatus.SENT, platform_id=f"m-{idempotency_key}")
        if outcome == "429":
            call.retry_after = 7.5
            return SendResult(SendStatus.RETRY, retry_after=7.5, reason="rate limited")
        if outcome == "500":
            return SendResult(SendStatus.RETRY, reason="server error (HTTP 500)")
        if outcome == "hang":
            await asyncio.sleep(3600)
        if outcome == "raise":
            raise ConnectionResetError("https://hooks.example/secret-token")
        return SendResult(SendStatus.PERMANENT, reason="channel_not_found")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db.json") as s:
        yield s


def fill(outbox: Outbox, channels: list[ChannelRef], per_channel: int) -> dict[ChannelRef, list]:
    expected: dict[ChannelRef, list[str]] = {}
    for i in range(per_channel):  # interleaved, as a planner fanning out several polls would
        for channel in channels:
            key = f"{channel.channel}#{i}"
            outbox.enqueue(channel, Message(notice=key), key=key, now=START)
            expected.setdefault(channel, []).append(key)
    return expected


def test_random_429s_500s_and_timeouts_lose_nothing_and_keep_order(store: Store) -> None:
    rng = random.Random(4)
    channels = [ChannelRef("slack", "T1", f"C{i}") for i in range(30)]
    channels += [ChannelRef("discord", "G1", f"d{i}") for i in range(10)]
    outbox = Outbox(store)
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
    assert outbox.pending_count() == 0
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


def test_a_permanent_failure_pauses_the_channel_and_keeps_its_later_posts(store: Store) -> None:
    gone, fine = ChannelRef("slack", "T1", "gone"), ChannelRef("slack", "T1", "fine")
    outbox = Outbox(store)
    fill(outbox, [gone, fine], per_channel=3)
    paused: list[tuple[ChannelRef, str, datetime]] = []

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock, lambda c, k: "permanent" if c == gone else "sent")
        delivery = Delivery(
            outbox,
            {"slack": sender},
            SETTINGS,
            on_permanent=lambda c, reason, now: paused.append((c, reason, now)),
            clock=clock.now,
        )
        await delivery.run_until_idle()
        assert delivery.stats.failed == 1
        return sender

    sender = run_virtual(main)
    assert paused == [(gone, "channel_not_found", START)]
    assert [c.key for c in sender.calls if c.channel == gone] == ["gone#0"]  # not retried
    assert outbox.status("gone#0") == "failed"
    assert [i.key for i in outbox.pending(gone)] == ["gone#1", "gone#2"]
    assert sender.received[fine] == ["fine#0", "fine#1", "fine#2"]


def test_a_paused_channel_gets_nothing_until_it_is_resumed(store: Store) -> None:
    quiet = ChannelRef("discord", "G1", "quiet")
    outbox = Outbox(store)
    fill(outbox, [quiet], per_channel=2)
    paused = {quiet}

    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        delivery = Delivery(
            outbox, {"discord": sender}, is_paused=paused.__contains__, clock=clock.now
        )
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
        with Store.open(tmp_path / "db.json") as store:
            outbox = Outbox(store)
            fill(outbox, [channel], per_channel=2)
            sender = FakeSender(clock, lambda c, k: "429")
            delivery = Delivery(outbox, {"webhook": sender}, SETTINGS, clock=clock.now)
            await delivery.run_until_idle(wait_for_retries=False)  # one attempt, then exit
            assert [c.outcome for c in sender.calls] == ["429"]
            assert outbox.pending_count() == 2

    async def after_restart(clock: VirtualClock) -> None:
        clock.t = 2.0  # restarted 2 s later: the 429 asked for 7.5 s
        with Store.open(tmp_path / "db.json") as store:
            outbox = Outbox(store)
            sender = FakeSender(clock)
            await Delivery(outbox, {"webhook": sender}, SETTINGS, clock=clock.now).run_until_idle()
            first_call.append(sender.calls[0].t)
            assert sender.received[channel] == ["ops#0", "ops#1"]

    run_virtual(before_restart)
    run_virtual(after_restart)
    assert first_call[0] >= 7.5


def test_a_sender_that_raises_or_hangs_is_retried_and_the_error_text_is_not_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    channel = ChannelRef("console", "", "out")
    outbox = Outbox(store)
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


def test_posts_for_a_platform_without_a_sender_stay_pending(store: Store) -> None:
    outbox = Outbox(store)
    fill(outbox, [ChannelRef("slack", "T1", "C1")], per_channel=1)

    async def main(clock: VirtualClock) -> None:
        await Delivery(outbox, {}, clock=clock.now).run_until_idle()

    run_virtual(main)
    assert outbox.pending_count() == 1


def test_outcomes_reached_together_share_one_disk_write(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    channels = [ChannelRef("console", "", f"c{i}") for i in range(50)]
    outbox = Outbox(store)
    fill(outbox, channels, per_channel=1)
    writes: list[int] = []
    flush = AtomicJSONStorage._flush

    def counting_flush(self: AtomicJSONStorage) -> None:
        writes.append(1)
        flush(self)

    monkeypatch.setattr(AtomicJSONStorage, "_flush", counting_flush)

    async def main(clock: VirtualClock) -> None:
        sender = FakeSender(clock)
        await Delivery(outbox, {"console": sender}, clock=clock.now).run_until_idle()
        assert len(sender.received) == 50

    run_virtual(main)
    assert outbox.pending_count() == 0
    assert len(writes) <= 4  # 16 sends in flight at a time: a handful of group commits


def test_backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() -> None:
    rng = random.Random(0)
    server_error = SendResult(SendStatus.RETRY)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)]:
        delays = [retry_delay(server_error, attempt, SETTINGS, rng) for _ in range(200)]
        assert step / 2 <= min(delays) and max(delays) <= step
    assert retry_delay(SendResult(SendStatus.RETRY, retry_after=120), 1, SETTINGS, rng) == 120


# --- the poller --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    channel: ChannelRef
    message: Message
    key: str


@dataclass
class TwoChannelPlanner:
    """Every event to two channels, one message per snapshot; a notice held back once."""

    channels: tuple[ChannelRef, ...] = (
        ChannelRef("console", "", "a"),
        ChannelRef("console", "", "b"),
    )
    held: list[Post] = field(default_factory=list)

    def after_ingest(self, store: Store, events: list[Event], now: datetime) -> list[Post]:
        if not events:
            return []
        keys = "+".join(e.key for e in events)
        return [Post(c, Message(events=tuple(events)), f"{c.key}|{keys}") for c in self.channels]

    def flush_due(self, store: Store, now: datetime) -> list[Post]:
        held, self.held = self.held, []
        return held


def weeks() -> list:
    return [
        snap("2026-02-02", {"a/x": 900, "b/y": 800}),
        snap("2026-02-09", {"a/x": 900, "b/y": 1000}),
        snap("2026-02-16", {"a/x": 1200, "b/y": 1000}),
    ]


def poller(store: Store, source: ReplaySource, planner: TwoChannelPlanner, clock) -> Poller:  # type: ignore[no-untyped-def]
    return Poller(
        store,
        source,
        planner,
        Outbox(store),
        params=lambda period: DetectParams(),
        countries=shipped_table(),
        clock=clock,
    )


def test_a_tick_stores_plans_and_enqueues_and_a_replay_enqueues_nothing_twice(
    store: Store,
) -> None:
    planner = TwoChannelPlanner()
    planner.held.append(Post(ChannelRef("console", "", "a"), Message(notice="digest"), "dg-1"))
    tick = poller(store, ReplaySource(weeks()), planner, lambda: START).tick
    report = asyncio.run(tick())
    # the released digest, then ONE post per channel for everything this poll brought
    assert (report.snapshots, report.enqueued, report.source_error) == (3, 3, None)
    assert report.events >= 2  # two new leaders, after the silent baseline
    outbox = Outbox(store)
    # what the planner released comes before this tick's alerts (a confirmation first)
    assert outbox.pending(ChannelRef("console", "", "a"))[0].key == "dg-1"

    again = poller(store, ReplaySource(weeks()), TwoChannelPlanner(), lambda: START).tick
    assert asyncio.run(again()).enqueued == 0


def test_a_failing_source_is_reported_and_planning_goes_on(store: Store) -> None:
    class Down(ReplaySource):
        async def fetch_new(self, store: Store, now: datetime) -> list:
            raise ConnectionError("rankings API unreachable")

    planner = TwoChannelPlanner()
    planner.held.append(Post(ChannelRef("console", "", "a"), Message(notice="digest"), "dg-1"))
    report = asyncio.run(poller(store, Down([]), planner, lambda: START).tick())
    assert report.source_error == "ConnectionError: rankings API unreachable"
    assert report.enqueued == 1


def test_run_forever_polls_on_the_sources_schedule_and_delivers(store: Store) -> None:
    async def main(clock: VirtualClock) -> FakeSender:
        sender = FakeSender(clock)
        source = ReplaySource(weeks(), per_poll=1, interval=timedelta(hours=1))
        the_poller = poller(store, source, TwoChannelPlanner(), clock.now)
        delivery = Delivery(the_poller._outbox, {"console": sender}, clock=clock.now)
        task = asyncio.ensure_future(run_forever(the_poller, delivery, clock=clock.now))
        await asyncio.sleep(3 * 3600)
        task.cancel()
        return sender

    sender = run_virtual(main)
    times = sorted({round(c.t) for c in sender.calls})
    assert times == [3600, 7200]  # week 1 is the baseline; weeks 2 and 3 an hour apart
    assert all(len(keys) == 2 for keys in sender.received.values())


# --- `rankbot poll --once` end to end ----------------------------------------------------------

HOOK = "https://hooks.example.test/T0/ops"


def poll_setup(tmp_path: Path) -> tuple[Path, Path]:
    history = tmp_path / "history.jsonl"
    with history.open("w") as out:
        write_history(weeks(), out)
    config = tmp_path / "rankbot.toml"
    config.write_text(
        '[store]\npath = "bot.db.json"\n\n'
        '[[channels]]\nname = "ops"\nplatform = "webhook"\nurl_env = "OPS_HOOK"\n'
        'kinds = ["new_leader"]\n'
    )
    return config, history


def test_poll_once_dry_run_prints_who_gets_what_and_keeps_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    argv = ["poll", "--once", "--dry-run", "--config", str(config), "--history", str(history)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("→ webhook:config:ops\n  Subscribed")  # the confirmation first
    # + ONE grouped post for both new leaders the poll brought (no burst of posts)
    assert out.count("→ webhook:config:ops") == 2
    assert out.count("New #1") == 2
    assert "2 would be sent, 0 pending" in err and "nothing stored" in err
    assert not (tmp_path / "bot.db.json").exists()


@respx.mock
def test_poll_once_posts_each_alert_once_and_pauses_a_deleted_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    argv = ["poll", "--once", "--config", str(config), "--history", str(history)]
    assert main(argv) == 0
    assert hook.call_count == 2  # the confirmation, then one grouped post
    assert main(argv) == 0  # the same history again: nothing new to say
    assert hook.call_count == 2

    hook.mock(return_value=httpx.Response(404))
    later = tmp_path / "later.jsonl"
    with later.open("w") as out:
        write_history([snap("2026-02-23", {"a/x": 1200, "b/y": 1500})], out)
    assert main([*argv[:-1], str(later)]) == 0
    assert hook.call_count == 3  # tried once, not retried
    with Store.open(tmp_path / "bot.db.json", readonly=True) as store:
        sub = Subscriptions(store).get(ChannelRef("webhook", "config", "ops"))
        assert sub is not None and sub.paused
        assert sub.pause_reason == "webhook deleted or forbidden (HTTP 404)"
    err = capsys.readouterr().err
    assert "0 sent, 0 pending, 1 failed" in err
    assert HOOK not in err  # the URL is a secret
