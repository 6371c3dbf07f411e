"""The raw daily rows, in the store's `openrouter_days` table: one document per UTC day.

Each document holds a day's rows keyed by model (`{"date", "as_of", "rows": {model: tokens}}`,
tokens as decimal strings), so upserting a day upserts every `(date, model)` row at once and
drops models that a restatement no longer lists. One document per day keeps 18 months of
history at ~550 documents, which TinyDB rewrites cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from tinydb import Query

from bot.sources.openrouter.rows import Day
from bot.store.database import Store

TABLE = "openrouter_days"


def load_days(store: Store) -> dict[date, Day]:
    return {day.date: day for day in map(Day.from_doc, store.table(TABLE).all())}


def upsert_days(store: Store, days: Iterable[Day], held: dict[date, Day]) -> list[date]:
    """Store new and restated days; return the dates whose rows changed (oldest first).

    `held` (what `load_days` returned) is updated in place, so callers can derive windows
    without reading the table again. A day whose rows are unchanged is left alone, even if
    its `as_of` moved: the figures, not the timestamp, are what alerts are about.
    """
    table = store.table(TABLE)
    changed: list[date] = []
    for day in sorted(days, key=lambda d: d.date):
        before = held.get(day.date)
        if before is not None and before.tokens == day.tokens and before.other == day.other:
            continue
        table.upsert(day.to_doc(), Query().date == day.date.isoformat())
        held[day.date] = day
        changed.append(day.date)
    return changed
