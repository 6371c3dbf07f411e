"""Reading and writing a source's health record (`bot.core.source_health.Health`) in the store.

The one way to the record: the source writes it after every attempt, `status` and the planner
read it, all under `bot.store.keys.health(source)`.
"""

from __future__ import annotations

from bot.core.source_health import Health
from bot.store import keys
from bot.store.database import Store


def read_health(store: Store, source: str) -> Health:
    """The record of `source` (an empty one when the source never wrote it)."""
    return Health.from_dict(store.get_state(keys.health(source)))


def has_health(store: Store, source: str) -> bool:
    """Whether `source` ever wrote its record (`status` says "unknown" until it has)."""
    return store.get_state(keys.health(source)) is not None


def write_health(store: Store, source: str, health: Health) -> None:
    store.set_state(keys.health(source), health.to_dict())
