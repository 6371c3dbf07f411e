"""A revoked token holds every channel that uses it (and only those), tells the operator once,
is checked with backoff, and its channels go on by themselves when it works again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.tokens import TokenCheck
from bot.delivery.workers import Delivery
from bot.store.tinydb import TinyStore
from tests.fakes.scripted_sender import Call, FakeSender
from tests.fakes.virtual_time import START, VirtualClock, run_virtual

T1 = [ChannelRef("slack", "T1", f"C{i}") for i in range(3)]
T2 = ChannelRef("slack", "T2", "C9")
OPS = ChannelRef("webhook", "config", "ops")


@dataclass
class Workspaces(FakeSender):
    """Slack as seen by one bot per workspace: `revoked` workspaces answer token_revoked."""

    revoked: set[str] = field(default_factory=set)
    checks: list[float] = field(default_factory=list)

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        if channel.workspace in self.revoked:
            elapsed = (self.clock.now() - START).total_seconds()
            self.calls.append(Call(elapsed, channel, idempotency_key, "held"))
            return SendResult(SendStatus.HELD, reason="token_revoked")
        return await super().send(channel, message, idempotency_key=idempotency_key)

    async def check_token(self, workspace: str) -> bool | None:
        self.checks.append((self.clock.now() - START).total_seconds())
        return workspace not in self.revoked


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyStore]:
    s = TinyStore.open(tmp_path / "db.json")
    for channel in [*T1, T2, OPS]:
        asyncio.run(s.subscriptions.upsert(Subscription(channel, created_at=START)))
    posts = [Planned(c, Message(notice=f"alert {c.key}"), f"a:{c.key}") for c in [*T1, T2]]
    asyncio.run(s.outbox.enqueue(posts, now=START))
    yield s
    s.close_now()


def test_a_revoked_token_holds_its_channels_and_comes_back_by_itself(store: TinyStore) -> None:
    assert isinstance(Workspaces(VirtualClock()), TokenCheck)

    async def main(clock: VirtualClock) -> tuple[Workspaces, FakeSender, list[str | None]]:
        slack = Workspaces(clock, revoked={"T1"})
        ops = FakeSender(clock)
        subs = store.subscriptions
        delivery = Delivery(
            store.outbox,
            {"slack": slack, "webhook": ops},
            DeliverySettings(operator_channel=OPS),
            on_permanent=subs.pause,
            is_paused=subs.is_paused,
            clock=clock.now,
        )
        serving = asyncio.ensure_future(delivery.serve())
        held: list[str | None] = []
        await asyncio.sleep(20)  # T2 delivered, T1 held, the operator told
        held.append(delivery.tokens.held("slack", "T1"))
        held.append(delivery.tokens.held("slack", "T2"))
        assert slack.received[T2] == [f"a:{T2.key}"]
        assert [await subs.is_paused(c) for c in T1] == [False] * 3  # nobody paused
        assert await store.outbox.count(state="failed") == 0
        assert len(ops.received[OPS]) == 1  # one notice, not one per channel
        await asyncio.sleep(200)  # checked (30 s, then 60, …), still refused
        refused_checks = len(slack.checks)
        slack.revoked.clear()  # someone put a valid token in place
        await asyncio.sleep(1000)
        held.append(delivery.tokens.held("slack", "T1"))
        await delivery.stop(1)
        serving.cancel()
        assert refused_checks >= 2
        return slack, ops, held

    slack, ops, held = run_virtual(main)
    assert held == ["token_revoked", None, None]
    for channel in T1:
        assert slack.received[channel] == [f"a:{channel.key}"]  # each alert, once
    assert sum(c.outcome == "held" for c in slack.calls) == 1  # one refused post, not three
    assert (
        slack.checks[0] >= 30 * 0.5
        and all(  # backoff: the checks spread out
            b - a >= 14 for a, b in zip(slack.checks, slack.checks[1:], strict=False)
        )
    )
    assert len(ops.received[OPS]) == 2  # "refused", then "works again"
    assert asyncio.run(store.outbox.count()) == 0
