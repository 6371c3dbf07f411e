"""A timeout that measures the awaited request, not the process's own busy moments.

`asyncio.wait_for` fires as soon as the event loop gets to its timer. When the loop was busy
(a long write, a draw, a burst of work) at the deadline, the answer may be sitting in the
socket's buffer already, and the timer, which runs before the woken request, cancels it: a
post recorded as timed out although the platform answered in time. `within` checks how late
its timer fired: late means the loop could not serve anything at the deadline, so the request
gets `grace` more seconds of a responsive loop before it counts as timed out. A request that
truly hangs still times out, at most `grace` (plus the loop's stalls) after the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

LATE_SECONDS = 0.05
"""A timer firing this much after its time means the loop was busy, not the request slow."""
GRACE_SECONDS = 0.25
"""How long a request may still answer once the loop is free again."""


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """Await `awaitable`; raise `TimeoutError` once it has had `seconds` of a loop that could
    serve it (see the module docstring)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None, "within() runs inside a task"
    timed_out = False
    handle: asyncio.TimerHandle

    def fire(when: float) -> None:
        nonlocal handle, timed_out
        now = loop.time()
        if now - when > LATE_SECONDS:
            handle = loop.call_at(now + GRACE_SECONDS, fire, now + GRACE_SECONDS)
            return
        timed_out = True
        task.cancel()

    deadline = loop.time() + seconds
    handle = loop.call_at(deadline, fire, deadline)
    try:
        result = await awaitable
    except asyncio.CancelledError:
        if timed_out and task.uncancel() == 0:
            raise TimeoutError(f"no answer within {seconds:g} s") from None
        raise
    finally:
        handle.cancel()
    if timed_out:  # the request swallowed our cancellation and answered anyway
        task.uncancel()
    return result
