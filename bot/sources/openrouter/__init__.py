"""The live OpenRouter source: the official rankings Data API, validated and attributed.

`OpenRouterSource` is what the poller runs (`bot.source.Source`); `HEALTH_KEY` / `Health`
are what `status` and outage notices read (see `bot.openrouter.health` for the keys).
"""

from bot.errors import SourceError
from bot.sources.openrouter.health import HEALTH_KEY, Health, health_transition
from bot.sources.openrouter.source import OpenRouterSource

__all__ = ["HEALTH_KEY", "Health", "OpenRouterSource", "SourceError", "health_transition"]
