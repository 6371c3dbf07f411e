"""Ranking sources behind one protocol (`bot.sources.base.Source`): a replay file, OpenRouter."""
