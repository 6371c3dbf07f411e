"""Reading and writing a source's health record (`bot.core.source_health.Health`) in the store.

The one way to the record: the source writes it after every attempt, `status` and the planner
read it, all under `bot.store.keys.health(source)`.
"""

from __future__ import annotations

from bot.core.source_health import Health
from bot.store import keys
from bot.store.protocols import StateValues


async def read_health(state: StateValues, source: str) -> Health:
    """The record of `source` (an empty one when the source never wrote it)."""
    return Health.from_dict(await state.get(keys.health(source)))


async def has_health(state: StateValues, source: str) -> bool:
    """Whether `source` ever wrote its record (`status` says "unknown" until it has)."""
    return await state.get(keys.health(source)) is not None


async def write_health(state: StateValues, source: str, health: Health) -> None:
    await state.set(keys.health(source), health.to_dict())
