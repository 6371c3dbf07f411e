"""An asyncio event loop on virtual time, for tests of rate limits, retries and backoff.

Whenever every task is waiting on a timer, the loop jumps straight to the earliest timer
instead of sleeping: an hour of retries and rate limits runs in milliseconds, and the times
the code under test sees are exact. While the store's journal thread is writing a commit the
loop waits for it in real time instead (a disk write takes no virtual time), so what the code
under test sees does not depend on how fast the disk is. `asyncio.sleep`, `wait_for` timeouts
and the delivery's injected `sleep` all use the loop's clock, so the code under test is
unchanged.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.store.tinydb.journal import writes_in_flight

T = TypeVar("T")

START = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


class VirtualClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready:
            return ready
        while writes_in_flight():  # the commit's future is set from the thread, then we wake
            ready = super().select(0.01)
            if ready:
                return ready
        if timeout is None:  # no timer at all: only a thread could wake us
            ready = super().select(5.0)
            if not ready:
                raise RuntimeError("virtual-time loop: every task waits and no timer is set")
            return ready
        self._clock.t += timeout
        return []


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(selector=_JumpingSelector(clock))
        self._virtual = clock

    def time(self) -> float:
        return self._virtual.t


def run_virtual(main: Callable[[VirtualClock], Coroutine[Any, Any, T]]) -> T:
    """Run `main(clock)` to completion on a fresh virtual-time loop."""
    clock = VirtualClock()
    loop = _VirtualLoop(clock)
    try:
        return loop.run_until_complete(main(clock))
    finally:
        loop.close()
