"""Getting each outbox item to its channel: a pipeline of small stages, one worker per channel.

Planning already happened (the planner wrote every post to the outbox, which refused any key
seen before: that is the dedup stage). For each channel with pending items one worker takes
the oldest item and runs it through:

    wait (its retry time, its chart) → channel limit → platform limit → send slot → send
    → record

and only then looks at the next item, so order is kept within a channel while channels are
delivered concurrently. Outcomes:

- SENT → recorded as sent; a sent item is never sent again.
- RETRY → the next attempt waits for the platform's `retry_after` (a 429) and for an
  exponential backoff with jitter, whichever is longer: never an immediate retry. The retry
  time is recorded, so a restart waits too. A post is retried until it goes, never dropped.
- PERMANENT with `failure = access` (channel gone, bot removed, webhook deleted) → recorded as
  failed, the `on_permanent` callback pauses the subscription, and the channel's later items
  stay pending until it is resumed. With `failure = content` (the platform refused this
  message) only this item fails; the channel goes on.

Isolation: a channel waiting for its rate limit or a retry holds nothing; a send holds one of
`concurrency` slots only while it is active: a request still unanswered after
`stalled_after_seconds` gives its slot back (it may still answer, until `send_timeout`), so
endpoints that hang cannot starve healthy channels. The send timeout measures the request
alone (`bot.net.deadline.within`): waiting for limits, slots, the store, or a loop busy with
other work never counts. The stall clock counts the same way: a busy process, whose answers
wait unread, does not let out more requests.

Recording is a group commit: outcomes that arrive while the previous write is on its way to
the disk go together in the next one. A worker sends its channel's next item only once the
previous outcome is durable, so a crash can repeat at most the sends that were in flight at
that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock, utcnow
from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.delivery.rate_limits import RateLimiter
from bot.delivery.sender import Sender, SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.delivery.tokens import (
    CHECK_FIRST_SECONDS,
    CHECK_MAX_SECONDS,
    Scope,
    TokenCheck,
    TokenHealth,
    describe,
    token_scope,
)
from bot.net.deadline import GRACE_SECONDS, LATE_SECONDS, within
from bot.net.retry import backoff, bounded_delay
from bot.net.slices import Slices
from bot.store.protocols import CONTENT, FAILED, PENDING, SENT, Outbox, OutboxItem, Outcome

log = logging.getLogger("rankbot.delivery")

OnPermanent = Callable[[ChannelRef, str, datetime], Awaitable[None]]
IN_FLIGHT_PER_SLOT = 8
"""Sends in flight (active or stalled) per `concurrency` slot."""
START_BATCH = 64
"""Workers started before the loop gets a turn, whatever the time slice says: a new worker's
first step (its post read, rendered, its request sent) runs in the loop's next turn, and a
10 ms slice started ~1,000 of them, whose first steps then ran back to back in one turn
(60–110 ms of lag in the 5,000-webhook fan-out, `benchmarks/loop_lag.py`)."""
IsPaused = Callable[[ChannelRef], Awaitable[bool]]
OnOutcome = Callable[[OutboxItem, Outcome, SendResult], None]
"""Told every recorded outcome with the answer it came from (the `[ops]` metrics)."""


def context(item: OutboxItem) -> dict[str, str]:
    """A delivery log line's structured context (`bot.logs.CONTEXT_FIELDS`)."""
    return {"channel": item.channel.key, "platform": item.channel.platform, "key": item.key}


def retry_delay(
    result: SendResult, attempts: int, settings: DeliverySettings, rng: random.Random
) -> float:
    """Seconds to wait before attempt `attempts + 1` of a post after a RETRY answer.

    Backoff doubles per failed attempt up to `max_backoff`, with "equal jitter" (between half
    and all of the step) so channels failing together do not retry together, and never less
    than half of `backoff_base`. A 429's `retry_after` is a floor, honoured up to
    `max_retry_after_seconds`: whatever a sender reports (a hint of 1e9 s, inf, NaN), the
    delay stays a finite number a `datetime` can take.
    """
    delay = backoff(attempts, base=settings.backoff_base, cap=settings.max_backoff, rng=rng)
    hint = bounded_delay(result.retry_after, settings.max_retry_after_seconds)
    return max(delay, hint or 0.0)


async def send_once(sender: Sender, item: OutboxItem, timeout: float) -> SendResult:
    """The send stage: one attempt, whose every failure becomes a result, never an exception.

    A sender that hangs counts as a timeout and one that raises as a temporary error: a bug
    or an outage in one platform's sender must not stop delivery to every other channel.
    Only the exception's type is logged, since messages of HTTP errors may hold a secret URL.
    """
    try:
        return await within(
            sender.send(item.channel, item.message, idempotency_key=item.key), timeout
        )
    except TimeoutError:
        return SendResult(SendStatus.RETRY, reason=f"no answer within {timeout:g} s")
    except Exception as exc:
        log.warning(
            "sender for %s raised %s", item.channel.key, type(exc).__name__, extra=context(item)
        )
        return SendResult(SendStatus.RETRY, reason=f"sender error ({type(exc).__name__})")


class SendSlots:
    """At most `limit` sends active at once; a send unanswered after `stalled_after` seconds
    stops counting (see the module docstring). Stalled sends are bounded too, by
    `IN_FLIGHT_PER_SLOT` times `limit`, so a process too busy to read its answers (they all
    look stalled then) cannot pile up ever more requests."""

    def __init__(self, limit: int, stalled_after: float) -> None:
        self._free = asyncio.Semaphore(limit)
        self._in_flight = asyncio.Semaphore(limit * IN_FLIGHT_PER_SLOT)
        self._stalled_after = stalled_after
        self.stalled = 0
        """Sends that gave their slot back while still waiting for an answer."""

    @contextlib.asynccontextmanager
    async def active(self) -> AsyncIterator[None]:
        async with self._in_flight, self._active():
            yield

    @contextlib.asynccontextmanager
    async def _active(self) -> AsyncIterator[None]:
        await self._free.acquire()
        held = True

        def give_back(stalled: bool) -> None:
            nonlocal held
            if held:
                held = False
                self.stalled += stalled
                self._free.release()

        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def check(due: float) -> None:
            # a timer that fires late found the loop busy, not the request slow: its answer
            # may be waiting in the socket. Counting it stalled would let ever more requests
            # out exactly when the process cannot read their answers (and every extra open
            # connection makes each request cost more), so it gets a moment of a free loop
            nonlocal timer
            now = loop.time()
            if now - due > LATE_SECONDS:
                timer = loop.call_at(now + GRACE_SECONDS, check, now + GRACE_SECONDS)
            else:
                give_back(True)

        due = loop.time() + self._stalled_after
        timer = loop.call_at(due, check, due)
        try:
            yield
        finally:
            timer.cancel()
            give_back(False)


class Recorder:
    """The record stage: outcomes that arrive while a write is on its way share the next."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self._queued: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def record(self, outcome: Outcome) -> None:
        """Queue `outcome` for the outbox and return once it is durable."""
        future = asyncio.get_running_loop().create_future()
        self._queued.append((outcome, future))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write())
        await asyncio.shield(future)

    async def _write(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    await self._outbox.record([outcome for outcome, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)
        finally:
            self._writing = None


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
        is_paused: IsPaused | None = None,
        clock: Clock = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        tokens: TokenHealth | None = None,
        after_start: Callable[[int], None] = lambda started: None,
    ) -> None:
        """`after_start` is told how many workers a round started (the composition root
        freezes a large fan-out's waiting workers out of the collector's sight:
        `bot.app.freeze_started_workers`)."""
        self._outbox = outbox
        self._senders = senders
        self._settings = settings or DeliverySettings()
        self._on_permanent = on_permanent
        self._failed_channels: set[ChannelRef] = set()
        self._is_paused = is_paused or self._failed_channel
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        epoch = clock()  # seconds since start: full float precision, unlike a Unix timestamp
        self._limiter = RateLimiter(
            self._settings.limits, clock=lambda: (clock() - epoch).total_seconds(), sleep=sleep
        )
        self._recorder = Recorder(outbox)
        self._slots: SendSlots | None = None
        self._workers: dict[ChannelRef, asyncio.Task[None]] = {}
        self._waiting_for_chart: set[ChannelRef] = set()
        self._wake: asyncio.Event | None = None
        self._broken: asyncio.Future[None] | None = None
        self._wait_for_retries = True
        self._stopping = False
        self.tokens = tokens or TokenHealth()
        """Bot tokens refused right now: their channels wait (`bot.delivery.tokens`)."""
        self._token_checks: dict[Scope, asyncio.Task[None]] = {}
        self._sending: set[ChannelRef] = set()
        """Channels whose worker has a request out, or its outcome on the way to the disk."""
        self.stats = DeliveryStats()
        self.on_outcome: OnOutcome | None = None
        self._after_start = after_start

    async def _failed_channel(self, channel: ChannelRef) -> bool:
        return channel in self._failed_channels

    @property
    def stalled_sends(self) -> int:
        """Sends that gave their slot back while waiting for an answer."""
        return self._slots.stalled if self._slots is not None else 0

    # --- running -----------------------------------------------------------------------------

    async def run_until_idle(self, *, wait_for_retries: bool = True) -> None:
        """Deliver until no channel that can take posts has pending items it may send now.

        With `wait_for_retries=False` (`rankbot poll --once`) a channel stops at its first item
        that is not due yet or answers RETRY: the retry time is recorded and the next run
        picks it up, instead of one cycle sleeping through a long backoff. A channel whose
        next post waits for its chart waits for it here (`kick()` when it is attached).
        """
        self._wait_for_retries = wait_for_retries
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            await self._start_workers()  # channels still waiting for a chart start no worker
            if self._workers:
                await asyncio.gather(*self._workers.values())
                if wait_for_retries or self._waiting_for_chart:
                    continue
                return
            if not self._waiting_for_chart:
                return
            await self._wake.wait()

    async def serve(self) -> None:
        """Deliver forever, starting workers whenever `kick()` says the outbox changed."""
        self._wake = asyncio.Event()
        self._broken = asyncio.get_running_loop().create_future()
        while True:
            self._wake.clear()
            await self._start_workers()
            woken: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
            broken: asyncio.Future[Any] = self._broken
            await asyncio.wait((woken, broken), return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            if self._broken.done():
                self._broken.result()  # a worker that failed (e.g. the disk) stops the bot loudly

    async def stop(self, timeout: float) -> int:
        """Take no new post; let the sends in flight finish and be recorded, for at most
        `timeout` seconds (SIGTERM: `[delivery] drain_seconds`). Workers that only wait (a
        retry time, a rate limit) stop at once. Returns how many sends were cut off: their
        posts stay pending and go out after the restart."""
        self._stopping = True
        for check in self._token_checks.values():
            check.cancel()
        idle = [t for c, t in self._workers.items() if c not in self._sending]
        busy = [t for c, t in self._workers.items() if c in self._sending]
        for task in idle:
            task.cancel()
        cut = 0
        if busy:
            _, late = await asyncio.wait(busy, timeout=timeout)
            cut = len(late)
            for task in late:
                task.cancel()
        await asyncio.gather(*idle, *busy, return_exceptions=True)
        return cut

    def kick(self) -> None:
        """Tell delivery that items were enqueued, a chart attached or a channel resumed."""
        if self._wake is not None:
            self._wake.set()

    async def _start_workers(self) -> None:
        started = await self._start_some_workers()
        if started:
            self._after_start(started)

    async def _start_some_workers(self) -> int:
        started = 0
        slices = Slices()  # thousands of channels: the loop gets its turns meanwhile
        for channel in await self._outbox.channels():
            if slices.due():
                await slices.pause()
            if self._stopping:
                return started
            if channel in self._workers or self.tokens.held_channel(channel):
                continue
            if await self._is_paused(channel):
                continue
            if channel in self._waiting_for_chart:
                head = await self._outbox.head(channel)
                if head is not None and head.chart_pending:
                    continue
                self._waiting_for_chart.discard(channel)
            sender = self._senders.get(channel.platform)
            if sender is None:
                continue  # stays pending until a run that has this platform's adapter
            task = asyncio.ensure_future(self._drain(channel, sender))
            self._workers[channel] = task
            task.add_done_callback(self._worker_done)
            started += 1
            if started % START_BATCH == 0:
                await asyncio.sleep(0)  # the batch takes its first steps before more start
        return started

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None and self._broken is not None and not self._broken.done():
            self._broken.set_exception(error)

    async def _drain(self, channel: ChannelRef, sender: Sender) -> None:
        try:
            while not self._stopping and not await self._stopped_here(channel):
                item = await self._outbox.head(channel)
                if item is None:
                    return
                if item.chart_pending:
                    self._waiting_for_chart.add(channel)
                    return
                if not await self._deliver(item, sender):
                    return
        finally:
            del self._workers[channel]

    # --- one item through the stages ---------------------------------------------------------

    async def _deliver(self, item: OutboxItem, sender: Sender) -> bool:
        """Take one item through the stages; False when its channel must stop for now."""
        if self._slots is None:
            self._slots = SendSlots(
                self._settings.concurrency, self._settings.stalled_after_seconds
            )
        attempts, not_before = item.attempts, item.not_before
        while not await self._stopped_here(item.channel):
            if not self._wait_for_retries and not item.is_due(self._clock()):
                return False
            await self._wait_until(not_before)
            self._sending.add(item.channel)
            try:
                result = await self._send(item, sender)
                now = self._clock()
                if result.status is SendStatus.SENT:
                    outcome = Outcome(item.key, SENT, now, platform_id=result.platform_id)
                    await self._recorder.record(outcome)
                    self._observe(item, outcome, result)
                    self.stats.sent += 1
                    return True
                if result.status is SendStatus.PERMANENT:
                    return await self._fail(item, result, now)
                if result.status is SendStatus.HELD:
                    return await self._hold_token(item, result, sender, now)
                attempts += 1
                delay = retry_delay(result, attempts, self._settings, self._rng)
                not_before = now + timedelta(seconds=delay)
                reason = result.reason or "temporary failure"
                outcome = Outcome(item.key, PENDING, now, reason=reason, not_before=not_before)
                await self._recorder.record(outcome)
                self._observe(item, outcome, result)
            finally:
                self._sending.discard(item.channel)
            self.stats.retries += 1
            self.stats.rate_limited += int(result.retry_after is not None)
            log.info(
                "%s: %s; attempt %d in %.1f s",
                item.channel.key,
                reason,
                attempts + 1,
                delay,
                extra={**context(item), "attempt": attempts + 1},
            )
            if not self._wait_for_retries or self._stopping:
                return False
        return False

    async def _send(self, item: OutboxItem, sender: Sender) -> SendResult:
        """Wait for the limits (holding nothing), then a send slot; spend the tokens only
        when the request goes out (another channel may have taken them meanwhile: wait
        again)."""
        assert self._slots is not None
        while True:
            await self._limiter.wait_channel(item.channel)
            await self._limiter.wait_platform(item.channel)
            async with self._slots.active():
                if self._limiter.take(item.channel):
                    return await send_once(sender, item, self._settings.send_timeout)

    async def _fail(self, item: OutboxItem, result: SendResult, now: datetime) -> bool:
        """Record a permanent failure; True when the channel may go on with its next post."""
        reason = result.reason or "the platform refused the post"
        outcome = Outcome(item.key, FAILED, now, reason=reason, failure=result.failure)
        await self._recorder.record(outcome)
        self._observe(item, outcome, result)
        self.stats.failed += 1
        if result.failure == CONTENT:
            log.warning(
                "%s: post %s refused: %s", item.channel.key, item.key, reason, extra=context(item)
            )
            return True
        self._failed_channels.add(item.channel)
        log.warning(
            "%s: %s; its deliveries are paused", item.channel.key, reason, extra=context(item)
        )
        if self._on_permanent is not None:
            await self._on_permanent(item.channel, reason, now)
        return False

    def _observe(self, item: OutboxItem, outcome: Outcome, result: SendResult) -> None:
        if self.on_outcome is not None:
            self.on_outcome(item, outcome, result)

    async def _stopped_here(self, channel: ChannelRef) -> bool:
        """Whether `channel` must not get posts now: its token is held, or it is paused."""
        return bool(self.tokens.held_channel(channel)) or await self._is_paused(channel)

    async def _hold_token(
        self, item: OutboxItem, result: SendResult, sender: Sender, now: datetime
    ) -> bool:
        """The token was refused: hold every channel that uses it (the post stays pending,
        no attempt counted), say so once, and check the token until it works again."""
        scope = token_scope(item.channel)
        if scope is None:  # a platform without bot tokens: the channel's own problem
            return await self._fail(item, replace(result, status=SendStatus.PERMANENT), now)
        reason = result.reason or "the token was refused"
        if self.tokens.hold(scope, reason, now):
            what = describe(scope)
            log.error(
                "%s was refused (%s): posts to every channel using it wait until it works "
                "again (it is checked with backoff); put a valid token in place",
                what,
                reason,
            )
            await self._notify_operator(f"⚠️ {what} was refused ({reason}): alerts wait.", now)
            if isinstance(sender, TokenCheck) and self._wake is not None:
                self._token_checks[scope] = asyncio.ensure_future(self._check_token(scope, sender))
        return False

    async def _check_token(self, scope: Scope, sender: TokenCheck) -> None:
        """Ask the platform again, with backoff, until the token works; then go on."""
        attempt = 0
        try:
            while True:
                attempt += 1
                await self._sleep(
                    backoff(attempt, base=CHECK_FIRST_SECONDS, cap=CHECK_MAX_SECONDS, rng=self._rng)
                )
                try:
                    works = await within(sender.check_token(scope[1]), self._settings.send_timeout)
                except Exception as exc:  # a check that fails says nothing about the token
                    log.info("%s: check failed (%s)", describe(scope), type(exc).__name__)
                    continue
                if works:
                    break
        finally:
            self._token_checks.pop(scope, None)
        held = self.tokens.release(scope)
        log.warning("%s works again: its channels get their waiting posts", describe(scope))
        if held is not None:
            await self._notify_operator(f"✅ {describe(scope)} works again.", self._clock())
        self.kick()

    async def _notify_operator(self, text: str, now: datetime) -> None:
        """A notice to `[delivery] operator_channel`, unless that channel cannot get it (it
        uses a held token, or there is none: the log line is then all there is)."""
        operator = self._settings.operator_channel
        if operator is None or self.tokens.held_channel(operator):
            return
        key = f"token-notice:{operator.key}:{now.isoformat()}"
        await self._outbox.enqueue([Planned(operator, Message(notice=text), key)], now=now)
        self.kick()

    async def _wait_until(self, moment: datetime | None) -> None:
        if moment is None:
            return
        delay = (moment - self._clock()).total_seconds()
        if delay > 0:
            await self._sleep(delay)
