"""Every key of the store's `state` table, spelled once.

The `state` table is a small key → JSON value map shared by several owners (detection, the
sources, the Discord adapter). Each key is built here and nowhere else, so two modules can
never disagree on a spelling (the poller once re-spelled the source-health key by hand), and
a reader of the database file finds every key it may hold in one place:

| key                              | owner                                   | value           |
|----------------------------------|-----------------------------------------|-----------------|
| `detector:<source>:<period>`     | `bot.engine.ingest`                     | DetectorState   |
| `known_models:<source>`          | `bot.store.protocols.History`           | sorted model ids|
| `health:<source>`                | `bot.store.source_health`               | Health record   |
| `backfill:<source>`              | `bot.sources.openrouter.backfill`       | progress mark   |
| `catch_up:<source>`              | `bot.sources.openrouter.source`         | progress mark   |
| `catalogue:<source>`             | `bot.sources.openrouter.catalogue`      | cached names    |
| `discord:commands:<guild|global>`| `bot.platforms.discord.sync`            | schema hash     |
"""

from __future__ import annotations


def detector(source: str, period: str) -> str:
    """What detection last announced for one stream (`DetectorState`)."""
    return f"detector:{source}:{period}"


def known_models(source: str) -> str:
    """Every model any stored snapshot of `source` listed (for `new_model`)."""
    return f"known_models:{source}"


def health(source: str) -> str:
    """The source's health record (`bot.core.source_health.Health`)."""
    return f"health:{source}"


def backfill(source: str) -> str:
    """How far a resumable backfill of `source` got."""
    return f"backfill:{source}"


def catch_up(source: str) -> str:
    """How far the resumable catch-up of `source` after an outage got."""
    return f"catch_up:{source}"


def catalogue(source: str) -> str:
    """The source's cached model catalogue (display names), refreshed daily."""
    return f"catalogue:{source}"


def discord_commands(guild_id: int | None) -> str:
    """The hash of the slash-command schema last synced to a server (or globally)."""
    return f"discord:commands:{guild_id or 'global'}"
