"""Starting the `[ops]` listener beside any role of the bot, and the heartbeat task that
feeds it.

The heartbeat is a task of the loop being judged: it stamps `Health.beat()` every
`BEAT_SECONDS`, measures how late it was woken (event-loop lag), asks the readiness checks and
samples the store-backed gauges every `SAMPLE_EVERY` beats. The listener thread reads only
what it published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import UsageError
from bot.ops.admin import Admin
from bot.ops.health import Health
from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer
from bot.ops.settings import OpsSettings
from bot.store.protocols import Store

log = logging.getLogger("rankbot.ops")

BEAT_SECONDS = 1.0
SAMPLE_EVERY = 5
"""Beats between two samples of the outbox counts."""
FULL_SAMPLE_EVERY = 10
"""Beats between two samples of the gauges that read every channel (oldest pending post,
paused channels): `Metrics.sample`."""


@dataclass
class Ops:
    """The running listener's parts (the composition root wires hooks to `metrics`, and
    readiness checks to `health`)."""

    health: Health
    metrics: Metrics
    server: OpsServer | None = None

    @property
    def port(self) -> int | None:
        return self.server.port if self.server is not None else None


async def heartbeat(
    ops: Ops, store: Store, clock: Clock, *, interval: float = BEAT_SECONDS
) -> None:
    loop = asyncio.get_running_loop()
    beats = 0
    while True:
        ops.health.beat()
        try:
            await ops.health.publish()
            if beats % SAMPLE_EVERY == 0:
                await ops.metrics.sample(store, clock(), full=beats % FULL_SAMPLE_EVERY == 0)
        except Exception as exc:  # a failing gauge must not stop the heartbeat
            log.warning("ops sampling failed: %s", type(exc).__name__)
        beats += 1
        started = loop.time()
        await asyncio.sleep(interval)
        ops.metrics.loop_lag.set(max(0.0, loop.time() - started - interval))


@contextlib.asynccontextmanager
async def serve(
    settings: OpsSettings,
    store: Store,
    clock: Clock,
    *,
    admin: Callable[[Ops], Admin] | None = None,
) -> AsyncIterator[Ops]:
    """Health, metrics and (with `admin`) the admin channel for the length of the block;
    nothing is listened on when `[ops] listen` is unset (the hooks still count)."""
    health = Health(settings.heartbeat_stale_seconds)
    ops = Ops(health, Metrics(health))

    async def store_open() -> str | None:
        return None  # the store is open for as long as this block runs

    health.add_check("store", store_open)
    health.beat()  # alive from the start; the task keeps it fresh
    beating = asyncio.create_task(heartbeat(ops, store, clock), name="rankbot-heartbeat")
    try:
        if settings.listen is not None:
            host, port = settings.listen
            try:
                server = OpsServer(
                    host,
                    port,
                    health,
                    ops.metrics,
                    admin(ops) if admin is not None else None,
                    asyncio.get_running_loop(),
                )
            except OSError as exc:
                raise UsageError(
                    f"[ops] listen: cannot listen on {host}:{port} ({exc.strerror}): "
                    "choose a free port, or unset it"
                ) from None
            ops.server = server.start()
            log.info("ops: health, metrics and admin on %s:%d", host, server.port)
        yield ops
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
        if ops.server is not None:
            await asyncio.to_thread(ops.server.close)
