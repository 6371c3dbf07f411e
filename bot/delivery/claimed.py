"""Delivery by several worker processes on one database (`rankbot run --role worker`).

`bot.delivery.workers.Delivery` runs one worker per channel inside one process that owns the
whole outbox. Here many processes share it, so the work is handed out by the database: each
process leases due posts (`PostLeases.claim`: only a channel's oldest pending post, and only
while no other worker holds one of that channel) up to its `concurrency`, sends each through
the same stages (`send_once`, `retry_delay`, the group-committing `Recorder`), and recording
the outcome ends the lease. Per-channel order and "one post of a channel in flight" hold
across all processes because only a channel's head can be leased.

Rate limits are the platforms' (`[delivery.limits]`), counted in the database
(`SharedRateWindows.take`) so that three workers together stay under Discord's 50 a second.
The windows are counted `SHARED_MARGIN` longer than the platform's: a send is counted when
its process takes the token and arrives a little later, and processes' delays differ.

A worker renews its leases while it sends (every third of `lease_seconds`); a killed worker's
leases run out and its posts go to the others, so the only duplicates are the posts that were
in flight at the kill. On a clean stop, leases not yet sent are given back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef
from bot.delivery.rate_limits import PlatformLimits
from bot.delivery.sender import Sender, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import (
    DeliveryStats,
    OnOutcome,
    OnPermanent,
    Recorder,
    retry_delay,
    send_once,
)
from bot.store.protocols import (
    CONTENT,
    FAILED,
    PENDING,
    SENT,
    Outbox,
    OutboxItem,
    Outcome,
    PostLeases,
    SharedRateWindows,
    Window,
)

log = logging.getLogger("rankbot.delivery")

IDLE_POLL_SECONDS = 0.5
"""How often an idle worker asks for due posts (new posts, expired leases, retries)."""
SHARED_MARGIN = 0.05
"""Shared windows are counted this much longer than the platform's (see the docstring)."""


def worker_name() -> str:
    """This process's name in the leases: host and pid (for `status` and the logs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def windows_for(channel: ChannelRef, limits: Mapping[str, PlatformLimits]) -> list[Window]:
    """The shared windows a post to `channel` counts in: its channel's and its platform's."""
    limit = limits.get(channel.platform, PlatformLimits())
    out = []
    stretch = 1.0 + SHARED_MARGIN
    if limit.channel is not None:
        out.append(
            Window(f"c:{channel.key}", limit.channel.messages, limit.channel.seconds * stretch)
        )
    if limit.platform is not None:
        out.append(
            Window(
                f"p:{channel.platform}", limit.platform.messages, limit.platform.seconds * stretch
            )
        )
    return out


class ClaimedDelivery:
    """One worker process's delivery loop over a shared outbox (see the module docstring)."""

    def __init__(
        self,
        outbox: Outbox,
        leases: PostLeases,
        windows: SharedRateWindows,
        senders: Mapping[str, Sender],
        settings: DeliverySettings | None = None,
        *,
        on_permanent: OnPermanent | None = None,
        name: str | None = None,
        lease_seconds: float | None = None,
        idle_poll_seconds: float = IDLE_POLL_SECONDS,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._leases = leases
        self._windows = windows
        self._senders = senders
        self._settings = settings or DeliverySettings()
        self._on_permanent = on_permanent
        self.name = name or worker_name()
        self._lease_seconds = lease_seconds or self._settings.lease_seconds
        self._idle = idle_poll_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._recorder = Recorder(outbox)
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self.stats = DeliveryStats()
        self.on_outcome: OnOutcome | None = None
        """Told every recorded outcome, as `Delivery.on_outcome` is (the `[ops]` metrics)."""

    def kick(self) -> None:
        """Look for due posts now (a post was enqueued or a channel resumed)."""
        self._wake.set()

    async def serve(self) -> None:
        """Claim and deliver forever; on the way out, give back what was not sent."""
        renewing = asyncio.ensure_future(self._renew_forever())
        try:
            while True:
                self._wake.clear()
                if await self._claim():
                    continue
                waits: set[asyncio.Future[Any]] = {
                    asyncio.ensure_future(self._wake.wait()),
                    *self._in_flight.values(),
                }
                if len(self._in_flight) < self._settings.concurrency:
                    waits.add(asyncio.ensure_future(asyncio.sleep(self._idle)))
                done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for future in pending:
                    if future not in self._in_flight.values():
                        future.cancel()
                for future in done:
                    error = None if future.cancelled() else future.exception()
                    if error is not None:
                        raise error
        finally:
            renewing.cancel()
            tasks = list(self._in_flight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._leases.release(self.name, list(self._in_flight))

    async def run_until_idle(self) -> None:
        """Deliver until nothing is due (tests and benchmarks)."""
        while True:
            claimed = await self._claim()
            if not claimed and not self._in_flight:
                return
            if not claimed:
                await asyncio.wait(
                    list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED
                )

    async def _claim(self) -> int:
        """Lease as many posts as there are free slots, once half of them are free (or none
        is in flight): a claim looks at every channel's head, so one per finished send would
        cost the database more than the sends."""
        concurrency = self._settings.concurrency
        free = concurrency - len(self._in_flight)
        if free <= 0 or (self._in_flight and free < max(1, concurrency // 2)):
            return 0
        items = await self._leases.claim(
            self.name,
            free,
            lease_seconds=self._lease_seconds,
            now=self._clock(),
            platforms=list(self._senders),
        )
        for item in items:
            task = asyncio.ensure_future(self._deliver(item, self._senders[item.channel.platform]))
            self._in_flight[item.key] = task
            task.add_done_callback(functools.partial(self._finished, item.key))
        return len(items)

    def _finished(self, key: str, _task: asyncio.Task[None]) -> None:
        task = self._in_flight.get(key)
        if task is not None and task.done() and (task.cancelled() or task.exception() is None):
            del self._in_flight[key]
        self._wake.set()

    async def _renew_forever(self) -> None:
        while True:
            await self._sleep(self._lease_seconds / 3)
            if self._in_flight:
                await self._leases.renew(self.name, list(self._in_flight), self._lease_seconds)

    async def _deliver(self, item: OutboxItem, sender: Sender) -> None:
        """One attempt of one leased post; its outcome ends the lease. (A paused channel's
        posts are not leased: `claim` asks.)"""
        limited = await self._take_limits(item)
        result = await send_once(sender, item, self._settings.send_timeout)
        if limited:
            await self._windows.settle(item.key)
        now = self._clock()
        try:
            if result.status is SendStatus.SENT:
                outcome = Outcome(item.key, SENT, now, platform_id=result.platform_id)
                await self._recorder.record(outcome)
                self.stats.sent += 1
            elif result.status is SendStatus.PERMANENT:
                reason = result.reason or "the platform refused the post"
                outcome = Outcome(item.key, FAILED, now, reason=reason, failure=result.failure)
                await self._recorder.record(outcome)
                self.stats.failed += 1
                if result.failure != CONTENT and self._on_permanent is not None:
                    log.warning("%s: %s; its deliveries are paused", item.channel.key, reason)
                    await self._on_permanent(item.channel, reason, now)
            else:
                delay = retry_delay(result, item.attempts + 1, self._settings, self._rng)
                reason = result.reason or "temporary failure"
                not_before = now + timedelta(seconds=delay)
                outcome = Outcome(item.key, PENDING, now, reason=reason, not_before=not_before)
                await self._recorder.record(outcome)
                self.stats.retries += 1
                self.stats.rate_limited += int(result.retry_after is not None)
            if self.on_outcome is not None:
                self.on_outcome(item, outcome, result)
        except KeyError:
            # the lease ran out while the send hung and another worker recorded the post
            log.warning("%s: post %s was recorded by another worker", item.channel.key, item.key)

    async def _take_limits(self, item: OutboxItem) -> bool:
        """Wait until the shared windows have room and count this send in them; False when
        its platform is not limited."""
        windows = windows_for(item.channel, self._settings.limits)
        while windows and (wait := await self._windows.take(windows, item.key)) > 0:
            await self._sleep(wait)
        return bool(windows)
