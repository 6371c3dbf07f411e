"""The `poller` role: of several poller processes on one database, exactly one polls.

Why a lead at all: two pollers would ask the source twice and race to store the same
snapshot. The lead is a database lock held on a connection of its own (`Leadership`): the
database drops it the moment that connection goes (a killed process's socket closes with it),
and a standby that asks every `retry_seconds` takes over. Between two ticks the leader checks
that it still holds the lead and stops polling when it does not. Should two ever overlap (a
leader that lost its connection in the middle of a tick), the store's unique keys make the
second transaction that stores the same snapshot fail whole, with its events and posts: a
snapshot is never ingested twice.
"""

from __future__ import annotations

import asyncio
import logging

from bot.clock import Clock, utcnow
from bot.engine.poller import Poller
from bot.errors import StoreConflict
from bot.store.protocols import Leadership

log = logging.getLogger("rankbot.poller")

RETRY_SECONDS = 5.0
"""How often a standby asks for the lead, and the leader checks it still holds it (a dead
leader is replaced within this, well under the 30 s the docs promise)."""


async def poll_as_leader(
    poller: Poller,
    leadership: Leadership,
    *,
    retry_seconds: float = RETRY_SECONDS,
    clock: Clock = utcnow,
) -> None:
    """Stand by until this process leads, then tick until it no longer does; forever."""
    while True:
        if not await leadership.try_lead():
            await asyncio.sleep(retry_seconds)
            continue
        log.info("this poller leads: polling %s", poller.source.name)
        await poller.charts.resume()
        _forget_schedule(poller)
        while await leadership.still_leading():
            try:
                report = await poller.tick()
                log.info("poll: %s", report)
            except StoreConflict as exc:
                log.warning("another poller stored the same data first: %s", exc)
            due = poller.next_poll
            left = (due - clock()).total_seconds() if due is not None else 0.0
            await asyncio.sleep(min(retry_seconds, max(0.0, left)))
        log.warning("this poller lost the lead; standing by")


def _forget_schedule(poller: Poller) -> None:
    """A new leader asks the source at its first tick: the previous one's schedule died
    with it."""
    poller.next_poll = None
