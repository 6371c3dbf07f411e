"""`ClaimedDelivery`: worker processes sharing one outbox on PostgreSQL. Two workers (each with
its own store and pool, as two processes) deliver to a loopback fake that counts what
Discord would refuse (50 a second for the bot, 5 per 5 s per channel, counted on arrival):
nothing is refused, every post arrives once, each channel's posts in order."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.delivery.claimed import ClaimedDelivery
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.store.postgres import PgStore
from tests.fakes.loopback import serve
from tests.fakes.postgres import PostgresServer
from tests.store.postgres.database import empty_database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class LimitedSink:
    """Counts arrivals per channel, and arrivals Discord's limits would have refused."""

    def __init__(self) -> None:
        self.arrived: dict[str, list[str]] = {}
        self.violations = 0
        self._all: deque[float] = deque()
        self._per_channel: dict[str, deque[float]] = {}

    async def post(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        channel = request.match_info["channel"]
        body = await request.json()
        for window, limit, seconds in (
            (self._all, 50, 1.0),
            (self._per_channel.setdefault(channel, deque()), 5, 5.0),
        ):
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= limit:
                self.violations += 1
            window.append(now)
        self.arrived.setdefault(channel, []).append(body["key"])
        return web.json_response({"id": "1"})


class SinkSender:
    """Posts one JSON body per post to the sink: the platform's side is not under test."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self._client, self._base = client, base

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        answer = await self._client.post(
            f"{self._base}/channels/{channel.channel}", json={"key": idempotency_key}
        )
        if answer.status_code == 200:
            return SendResult(SendStatus.SENT, platform_id="1")
        return SendResult(SendStatus.RETRY, reason=str(answer.status_code))


@pytest.fixture
async def sink() -> AsyncIterator[tuple[LimitedSink, str]]:
    fake = LimitedSink()
    app = web.Application()
    app.router.add_post("/channels/{channel}", fake.post)
    runner, port = await serve(app)
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_two_workers_stay_within_discords_limits_together(
    postgres_server: PostgresServer, sink: tuple[LimitedSink, str]
) -> None:
    fake, base = sink
    url = empty_database(postgres_server, "claimed")
    channels = [ChannelRef("discord", "g", f"c{n:02d}") for n in range(20)]
    stores = [await PgStore.open(url), await PgStore.open(url)]
    try:
        posts = [
            Planned(ch, Message(notice=f"{ch.channel}-{i}"), f"{ch.channel}-{i}")
            for i in range(8)
            for ch in channels
        ]
        await stores[0].outbox.enqueue(posts, now=NOW)
        async with httpx.AsyncClient() as client:
            sender = SinkSender(client, base)
            workers = [
                ClaimedDelivery(
                    store.outbox,
                    store.leases,
                    store.rate_windows,
                    {"discord": sender},
                    DeliverySettings(concurrency=16),
                    name=f"worker-{n}",
                )
                for n, store in enumerate(stores)
            ]
            told: list[list[str]] = [[], []]  # what each worker tells `/metrics`
            for worker, outcomes in zip(workers, told, strict=True):
                worker.on_outcome = lambda item, outcome, result, to=outcomes: to.append(
                    outcome.state
                )
            await asyncio.wait_for(asyncio.gather(*(w.run_until_idle() for w in workers)), 60)
        assert fake.violations == 0
        assert all(w.stats.sent > 0 for w in workers)  # both took part
        assert [o.count("sent") for o in told] == [w.stats.sent for w in workers]
        assert sum(w.stats.sent for w in workers) == len(posts)
        for ch in channels:  # every post once, each channel in order
            assert fake.arrived[ch.channel] == [f"{ch.channel}-{i}" for i in range(8)]
        assert await stores[1].outbox.count() == 0
    finally:
        for store in stores:
            await store.close()
