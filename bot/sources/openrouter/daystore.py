"""The raw daily rows, kept in the store's per-source days (`bot.store.protocols.SourceDays`).

Each document holds a day's rows keyed by model (`{"date", "as_of", "rows": {model: tokens}}`,
tokens as decimal strings), so upserting a day upserts every `(date, model)` row at once and
drops models that a restatement no longer lists.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from bot.sources.openrouter.rows import Day
from bot.store.protocols import SourceDays

SOURCE = "openrouter"

_decoded: weakref.WeakKeyDictionary[SourceDays, dict[str, tuple[Mapping[str, Any], Day]]]
_decoded = weakref.WeakKeyDictionary()
"""Days already decoded, per store and day, with the document they came from: a poll reads a
year of days, and decoding 18,000 token figures every time cost more than the poll itself.
A day whose document changed (restated) is decoded again."""


async def load_days(days: SourceDays, since: date | None = None) -> dict[date, Day]:
    """The stored days from `since` on (every day when None), decoded."""
    cache = _decoded.setdefault(days, {})
    out: dict[date, Day] = {}
    start = since.isoformat() if since is not None else None
    for key, doc in (await days.load(SOURCE, start)).items():
        cached = cache.get(key)
        if cached is None or cached[0] is not doc:
            cached = cache[key] = (doc, Day.from_doc(doc))
        out[cached[1].date] = cached[1]
    return out


async def upsert_days(days: SourceDays, fresh: Iterable[Day], held: dict[date, Day]) -> list[date]:
    """Store new and restated days; return the dates whose rows changed (oldest first).

    `held` (what `load_days` returned) is updated in place, so callers can derive windows
    without reading the store again. A day whose rows are unchanged is left alone, even if
    its `as_of` moved: the figures, not the timestamp, are what alerts are about.
    """
    changed: list[date] = []
    for day in sorted(fresh, key=lambda d: d.date):
        before = held.get(day.date)
        if before is not None and before.tokens == day.tokens and before.other == day.other:
            continue
        await days.put(SOURCE, day.date.isoformat(), day.to_doc())
        held[day.date] = day
        changed.append(day.date)
    return changed
