"""Run an async loopback fake on an event loop of its own thread.

The CLI under test calls `asyncio.run` in the test's thread, so a fake it talks to must serve
from another loop: `with threaded(SlackFake()) as fake:` starts it there and closes it after.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar


class Startable(Protocol):
    async def start(self) -> Any: ...

    async def close(self) -> None: ...


F = TypeVar("F", bound=Startable)


@contextmanager
def threaded(fake: F) -> Iterator[F]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
        yield fake
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
