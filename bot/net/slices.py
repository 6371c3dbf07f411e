"""Long CPU work on the event loop, cut into slices so the loop keeps answering.

Why not a thread: the work (deriving a year of window snapshots, storing a backfill) is pure
Python, so a thread would hold the GIL for most of it and stall the loop just the same. A
coroutine that gives the loop a turn every few milliseconds costs nothing extra and keeps
every other task (commands, deliveries) within one slice of their turn.
"""

from __future__ import annotations

import asyncio
import time

SLICE_SECONDS = 0.01
"""How long a slice may run before the loop gets a turn."""


class Slices:
    """`await slices.pause()` after each step: it yields once the slice is used up."""

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self._seconds = seconds
        self._started = time.perf_counter()

    async def pause(self) -> None:
        if time.perf_counter() - self._started >= self._seconds:
            await asyncio.sleep(0)
            self._started = time.perf_counter()
