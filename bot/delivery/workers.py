"""Getting each outbox item to its channel: a pipeline of small stages, one worker per channel.

Planning already happened (the planner wrote every post to the outbox, which refused any key
seen before: that is the dedup stage). For each channel with pending items one worker takes
the oldest item and runs it through:

    wait (its retry time) → rate limit (channel, then platform) → send → record

and only then looks at the next item, so order is kept within a channel while channels are
delivered concurrently. Outcomes:

- SENT → recorded as sent; a sent item is never sent again.
- RETRY → the next attempt waits for the platform's `retry_after` (a 429) and for an
  exponential backoff with jitter, whichever is longer: never an immediate retry. The retry
  time is recorded, so a restart waits too. A post is retried until it goes, never dropped.
- PERMANENT (channel gone, bot removed, webhook deleted) → recorded as failed, the
  `on_permanent` callback pauses the subscription, and the channel's later items stay pending
  until it is resumed.

Recording is a group commit: outcomes reached in the same turn of the event loop go to disk
in one atomic write, so 2,000 channels finishing together cost a few writes, not 2,000. A
worker sends its channel's next item only once the previous outcome is on disk, so a crash
can repeat at most the sends that were in flight at that moment (at most `concurrency`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef
from bot.delivery.rate_limits import RateLimiter
from bot.delivery.sender import Sender, SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.net.retry import backoff
from bot.store.outbox import FAILED, PENDING, SENT, Outbox, OutboxItem, Outcome

log = logging.getLogger("rankbot.delivery")

OnPermanent = Callable[[ChannelRef, str, datetime], None]


def retry_delay(
    result: SendResult, attempts: int, settings: DeliverySettings, rng: random.Random
) -> float:
    """Seconds to wait before attempt `attempts + 1` of a post after a RETRY answer.

    Backoff doubles per failed attempt up to `max_backoff`, with "equal jitter" (between half
    and all of the step) so channels failing together do not retry together, and never less
    than half of `backoff_base`. A 429's `retry_after` is a floor: it is always honoured.
    """
    delay = backoff(attempts, base=settings.backoff_base, cap=settings.max_backoff, rng=rng)
    return max(delay, result.retry_after or 0.0)


async def send_once(sender: Sender, item: OutboxItem, timeout: float) -> SendResult:
    """The send stage: one attempt, whose every failure becomes a result, never an exception.

    A sender that hangs counts as a timeout and one that raises as a temporary error: a bug
    or an outage in one platform's sender must not stop delivery to every other channel.
    Only the exception's type is logged, since messages of HTTP errors may hold a secret URL.
    """
    try:
        return await asyncio.wait_for(
            sender.send(item.channel, item.message, idempotency_key=item.key), timeout
        )
    except TimeoutError:
        return SendResult(SendStatus.RETRY, reason=f"no answer within {timeout:g} s")
    except Exception as exc:
        log.warning("sender for %s raised %s", item.channel.key, type(exc).__name__)
        return SendResult(SendStatus.RETRY, reason=f"sender error ({type(exc).__name__})")


class Recorder:
    """The record stage: outcomes reached in one event-loop turn share one disk write."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._outcomes: list[Outcome] = []
        self._written: asyncio.Future[None] | None = None

    async def record(self, outcome: Outcome) -> None:
        """Queue `outcome` for the outbox and return once it is on disk."""
        if self._written is None:
            loop = asyncio.get_running_loop()
            self._written = loop.create_future()
            loop.call_soon(self._flush)
        self._outcomes.append(outcome)
        await asyncio.shield(self._written)

    def _flush(self) -> None:
        outcomes, written = self._outcomes, self._written
        self._outcomes, self._written = [], None
        assert written is not None
        try:
            self._outbox.record(outcomes)
        except Exception as exc:
            written.set_exception(exc)
        else:
            written.set_result(None)


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    """RETRY answers that carried a `retry_after` (429s)."""
    failed: int = 0


class Delivery:
    """Delivers the outbox through `senders` (platform → sender), one worker per channel.

    `is_paused(channel)` says whether a channel may get posts (the composition root wires it
    to the subscriptions); without it, a channel stops after a permanent failure until restart.
    `clock` and `sleep` are injected so tests run retries and rate limits in virtual time.
    """

    def __init__(
        self,
        outbox: Outbox,
        senders: Mapping[str, Sender],
        settings: DeliverySettings | None = None,
        *,
        on_permanent: OnPermanent | None = None,
        is_paused: Callable[[ChannelRef], bool] | None = None,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._outbox = outbox
        self._senders = senders
        self._settings = settings or DeliverySettings()
        self._on_permanent = on_permanent
        self._failed_channels: set[ChannelRef] = set()
        self._is_paused = is_paused or self._failed_channels.__contains__
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        epoch = clock()  # seconds since start: full float precision, unlike a Unix timestamp
        self._limiter = RateLimiter(
            self._settings.limits, clock=lambda: (clock() - epoch).total_seconds(), sleep=sleep
        )
        self._recorder = Recorder(outbox)
        self._slots: asyncio.Semaphore | None = None
        self._workers: dict[ChannelRef, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None
        self._wait_for_retries = True
        self.stats = DeliveryStats()

    # --- running -----------------------------------------------------------------------------

    async def run_until_idle(self, *, wait_for_retries: bool = True) -> None:
        """Deliver until no channel that can take posts has pending items.

        With `wait_for_retries=False` (`rankbot poll --once`) a channel stops at its first item
        that is not due yet or answers RETRY: the retry time is recorded and the next run
        picks it up, instead of one cycle sleeping through a long backoff.
        """
        self._wait_for_retries = wait_for_retries
        self._start_workers()
        while self._workers:
            await asyncio.gather(*self._workers.values())
            if not wait_for_retries:
                return
            self._start_workers()

    async def serve(self) -> None:
        """Deliver forever, starting workers whenever `kick()` says the outbox changed."""
        self._wake = asyncio.Event()
        while True:
            self._start_workers()
            woken = asyncio.ensure_future(self._wake.wait())
            done, _ = await asyncio.wait(
                {woken, *self._workers.values()}, return_when=asyncio.FIRST_COMPLETED
            )
            woken.cancel()
            self._wake.clear()
            for task in done - {woken}:
                task.result()  # a worker that failed (e.g. the disk) stops the bot loudly

    def kick(self) -> None:
        """Tell `serve()` that items were enqueued or a channel was resumed."""
        if self._wake is not None:
            self._wake.set()

    def _start_workers(self) -> None:
        for channel in self._outbox.channels():
            if channel in self._workers or self._is_paused(channel):
                continue
            sender = self._senders.get(channel.platform)
            if sender is None:
                continue  # stays pending until a run that has this platform's adapter
            self._workers[channel] = asyncio.ensure_future(self._drain(channel, sender))

    async def _drain(self, channel: ChannelRef, sender: Sender) -> None:
        try:
            while not self._is_paused(channel):
                item = self._outbox.head(channel)
                if item is None or not await self._deliver(item, sender):
                    return
        finally:
            del self._workers[channel]

    # --- one item through the stages ---------------------------------------------------------

    async def _deliver(self, item: OutboxItem, sender: Sender) -> bool:
        """Take one item through the stages; False when its channel must stop for now."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._settings.concurrency)
        attempts, not_before = item.attempts, item.not_before
        while not self._is_paused(item.channel):
            if not self._wait_for_retries and not item.is_due(self._clock()):
                return False
            await self._wait_until(not_before)
            await self._limiter.wait_channel(item.channel)
            async with self._slots:
                await self._limiter.acquire(item.channel)
                result = await send_once(sender, item, self._settings.send_timeout)
            now = self._clock()
            if result.status is SendStatus.SENT:
                await self._recorder.record(
                    Outcome(item.key, SENT, now, platform_id=result.platform_id)
                )
                self.stats.sent += 1
                return True
            if result.status is SendStatus.PERMANENT:
                await self._fail(item, result.reason or "the platform refused the post", now)
                return False
            attempts += 1
            delay = retry_delay(result, attempts, self._settings, self._rng)
            not_before = now + timedelta(seconds=delay)
            reason = result.reason or "temporary failure"
            await self._recorder.record(
                Outcome(item.key, PENDING, now, reason=reason, not_before=not_before)
            )
            self.stats.retries += 1
            self.stats.rate_limited += int(result.retry_after is not None)
            log.info("%s: %s; attempt %d in %.1f s", item.channel.key, reason, attempts + 1, delay)
            if not self._wait_for_retries:
                return False
        return False

    async def _fail(self, item: OutboxItem, reason: str, now: datetime) -> None:
        await self._recorder.record(Outcome(item.key, FAILED, now, reason=reason))
        self.stats.failed += 1
        self._failed_channels.add(item.channel)
        log.warning("%s: %s; its deliveries are paused", item.channel.key, reason)
        if self._on_permanent is not None:
            self._on_permanent(item.channel, reason, now)

    async def _wait_until(self, moment: datetime | None) -> None:
        if moment is None:
            return
        delay = (moment - self._clock()).total_seconds()
        if delay > 0:
            await self._sleep(delay)
