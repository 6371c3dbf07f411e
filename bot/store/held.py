"""The `held` table: events held back per channel until quiet hours end or a digest is due.

One document per (channel, event): `{channel, event, held_at}`. The planner
(`bot.engine.planner`) holds and releases; the decisions are `bot.core.planning`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tinydb import Query

from bot.core.events import Event
from bot.core.messages import ChannelRef
from bot.core.planning import Held
from bot.store.database import Store

TABLE = "held"


class HeldAlerts:
    def __init__(self, store: Store) -> None:
        self._table = store.table(TABLE)

    def hold(self, channel: ChannelRef, events: Iterable[Event], now: datetime) -> None:
        """Hold `events` for `channel`; an event already held there is not held twice."""
        already = {d["event"]["key"] for d in self._table.search(Query().channel == channel.key)}
        self._table.insert_multiple(
            {"channel": channel.key, "event": e.to_dict(), "held_at": now.isoformat()}
            for e in events
            if e.key not in already
        )

    def of(self, channel: ChannelRef) -> tuple[list[Held], list[int]]:
        """What `channel` holds, and the document ids to `clear` once it is released."""
        docs = self._table.search(Query().channel == channel.key)
        items = [
            Held(Event.from_dict(d["event"]), datetime.fromisoformat(d["held_at"])) for d in docs
        ]
        return items, [d.doc_id for d in docs]

    def clear(self, doc_ids: list[int]) -> None:
        self._table.remove(doc_ids=doc_ids)

    def keep_only(self, channel_keys: set[str]) -> None:
        """Drop what is held for channels no longer subscribed."""
        self._table.remove(Query().channel.test(lambda key: key not in channel_keys))

    def __len__(self) -> int:
        return len(self._table)
