"""`TinyHeldAlerts`: the `held` table, one document per (channel, event) held back.

`{channel, event, held_at}` with `event` the event's key: the event itself is stored once, in
the event log (schema 2 copied it into every channel's document). Indexed by channel, so a
quiet tick looks only at the channels that hold something.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, cast

from bot.core.events import Event
from bot.core.messages import ChannelRef
from bot.core.planning import Held
from bot.store.tinydb.table import Database, Index, UniqueIndex, Writes

if TYPE_CHECKING:
    from bot.store.tinydb.history import TinyHistory

HELD = "held"


class TinyHeldAlerts:
    def __init__(self, store: Writes, db: Database, history: TinyHistory) -> None:
        self._store = store
        self._history = history
        self.table = db.incremental(HELD)
        self._by_channel = self.table.add_index(Index(lambda d: d["channel"]))
        self._by_pair = self.table.add_index(UniqueIndex(lambda d: (d["channel"], d["event"])))

    async def hold(self, channel: ChannelRef, events: Iterable[Event], now: datetime) -> None:
        fresh = [e for e in events if self._by_pair.get((channel.key, e.key)) is None]
        if not fresh:
            return
        stamp = now.isoformat()
        async with self._store.write():
            self._history.remember(fresh, now)
            for event in fresh:
                if self._by_pair.get((channel.key, event.key)) is None:
                    self.table.add({"channel": channel.key, "event": event.key, "held_at": stamp})

    async def of(self, channel: ChannelRef) -> list[Held]:
        out = []
        for doc_id in self._by_channel.ids(channel.key):
            doc = self.table.doc(doc_id)
            event = self._history.by_key(doc["event"]) if doc is not None else None
            if doc is not None and event is not None:
                out.append(Held(event, datetime.fromisoformat(doc["held_at"])))
        return out

    async def release(self, channel: ChannelRef, keys: Iterable[str]) -> None:
        ids = [self._by_pair.get((channel.key, key)) for key in keys]
        if any(i is not None for i in ids):
            async with self._store.write():
                self.drop_ids(i for i in ids if i is not None)

    def drop_channel(self, channel: ChannelRef) -> None:
        """Forget everything the channel holds, inside the caller's open transaction."""
        self.drop_ids(self._by_channel.ids(channel.key))

    def drop_ids(self, ids: Iterable[int]) -> None:
        for doc_id in list(ids):
            self.table.delete(doc_id)

    async def holding(self) -> dict[ChannelRef, datetime]:
        out: dict[ChannelRef, datetime] = {}
        doc = self.table.doc
        for key in sorted(self._by_channel.groups, key=str):
            stamps = {d["held_at"] for d in map(doc, self._by_channel.ids(key)) if d is not None}
            if stamps:  # a channel's events are mostly held at one moment: parse each once
                out[ChannelRef.from_key(cast(str, key))] = min(map(datetime.fromisoformat, stamps))
        return out

    async def count(self) -> int:
        return len(self.table.raw)
