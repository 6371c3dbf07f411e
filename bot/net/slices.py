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
    """`await slices.pause()` after each step: it yields once the slice is used up. A loop of
    thousands of tiny steps (a post per channel) writes `if slices.due(): await
    slices.pause()`: the check is a plain call, where awaiting `pause` made a coroutine per
    step (~0.4 µs each, 8 ms of a 10,000-channel poll)."""

    def __init__(self, seconds: float = SLICE_SECONDS) -> None:
        self._seconds = seconds
        self._started = time.perf_counter()

    def due(self) -> bool:
        """Whether the slice is used up: the loop's turn has come."""
        return time.perf_counter() - self._started >= self._seconds

    async def pause(self) -> None:
        if self.due():
            await asyncio.sleep(0)
            self._started = time.perf_counter()
