"""The `state` table (a key → JSON value map) and the `raw_days` table (each source's raw
data per day), for `bot.store.protocols.StateValues` and `SourceDays`."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from typing import Any

from bot.store.tinydb.table import Database, UniqueIndex, Watcher, Writes

STATE = "state"
RAW_DAYS = "raw_days"


_ATOMS = frozenset({str, int, float, bool, type(None)})


def json_copy(value: Any) -> Any:
    """A copy of a JSON value (what `copy.deepcopy` does, without its bookkeeping: the
    catalogue and health records are read on every poll). Strings and numbers are kept as
    they are without a call each: the catalogue is hundreds of names."""
    if isinstance(value, dict):
        return {k: v if type(v) in _ATOMS else json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _ATOMS else json_copy(v) for v in value]
    return value


class TinyStateValues:
    """One document per key: `{key, value}`. Values are copied in and out: a caller that
    keeps changing its object must not change the stored one (`bot.store.tinydb.table`)."""

    def __init__(self, store: Writes, db: Database) -> None:
        self._store = store
        self.table = db.incremental(STATE)
        self._by_key = self.table.add_index(UniqueIndex(lambda d: d["key"]))

    def raw(self, key: str) -> Any:
        """The stored value itself, not a copy: for repositories that decode and cache it."""
        doc_id = self._by_key.get(key)
        if doc_id is None:
            return None
        doc = self.table.doc(doc_id)
        return doc["value"] if doc is not None else None

    def put(self, key: str, value: Any) -> None:
        """Set inside the caller's open transaction (`value` must not change afterwards)."""
        doc_id = self._by_key.get(key)
        doc = {"key": key, "value": value}
        if doc_id is None:
            self.table.add(doc)
        else:
            self.table.put(doc_id, doc)

    async def get(self, key: str) -> Any:
        return json_copy(self.raw(key))

    async def set(self, key: str, value: Any) -> None:
        value = json_copy(value)
        async with self._store.write():
            self.put(key, value)


class _DaysBySource(Watcher):
    """Each source's days as `load` returns them, kept up to date document by document (a
    poll loads the days its windows need: sorting a year of ids and looking each up was 12 %
    of a quiet poll), with each source's days in order for a range."""

    def __init__(self) -> None:
        self.days: dict[str, dict[str, Mapping[str, Any]]] = {}
        self.order: dict[str, list[str]] = {}
        """Each source's days, oldest first (days arrive mostly in order: appending is the
        usual insertion)."""

    def update(
        self, doc_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        if old is not None and (
            new is None or (old["source"], old["day"]) != (new["source"], new["day"])
        ):
            self._drop(old["source"], old["day"])
        if new is not None:
            days = self.days.setdefault(new["source"], {})
            if new["day"] not in days:
                insort(self.order.setdefault(new["source"], []), new["day"])
            days[new["day"]] = new["doc"]

    def _drop(self, source: str, day: str) -> None:
        if self.days[source].pop(day, None) is not None:
            order = self.order[source]
            del order[bisect_left(order, day)]


class TinySourceDays:
    """One document per (source, day): `{source, day, doc}`."""

    def __init__(self, store: Writes, db: Database) -> None:
        self._store = store
        self.table = db.incremental(RAW_DAYS)
        self._by_day = self.table.add_index(UniqueIndex(lambda d: (d["source"], d["day"])))
        self._by_source = self.table.add_index(_DaysBySource())

    async def load(self, source: str, since: str | None = None) -> dict[str, Mapping[str, Any]]:
        days = self._by_source.days.get(source, {})
        order = self._by_source.order.get(source, [])
        start = bisect_left(order, since) if since is not None else 0
        return {day: days[day] for day in order[start:]}

    async def newest(self, source: str) -> str | None:
        order = self._by_source.order.get(source)
        return order[-1] if order else None

    async def put(self, source: str, day: str, doc: Mapping[str, Any]) -> None:
        stored = {"source": source, "day": day, "doc": json_copy(dict(doc))}
        async with self._store.write():
            doc_id = self._by_day.get((source, day))
            if doc_id is None:
                self.table.add(stored)
            else:
                self.table.put(doc_id, stored)
