"""`within`: a timeout that counts only time the event loop could serve the request."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.net.deadline import within
from tests.fakes.virtual_time import VirtualClock, run_virtual


def test_an_answer_in_time_is_returned_and_a_hang_times_out() -> None:
    async def main(clock: VirtualClock) -> tuple[str, float]:
        async def answer() -> str:
            await asyncio.sleep(1)
            return "ok"

        got = await within(answer(), 5)
        with pytest.raises(TimeoutError):
            await within(asyncio.sleep(3600), 5)
        return got, clock.t

    got, t = run_virtual(main)
    assert got == "ok" and t == pytest.approx(6.0)  # 1 s of answer, then exactly 5 s of hang


async def test_an_answer_that_arrived_while_the_loop_was_busy_is_not_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    answered = asyncio.Event()

    async def request() -> str:
        await answered.wait()  # the response's head, read once the loop gets to it
        await asyncio.sleep(0)  # and its body, a turn later (as HTTP clients read)
        return "answered"

    loop.call_later(0.01, time.sleep, 0.3)  # the process busy with something else
    loop.call_later(0.02, answered.set)  # the answer comes in meanwhile, before the deadline
    assert await within(request(), 0.1) == "answered"  # asyncio.wait_for would give up here


async def test_a_request_that_hangs_behind_a_busy_loop_still_times_out() -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, time.sleep, 0.2)
    began = loop.time()
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(3600), 0.1)
    assert 0.2 <= loop.time() - began < 2  # late by the stall and a short grace, no more


async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    task = asyncio.ensure_future(within(asyncio.sleep(3600), 10))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
