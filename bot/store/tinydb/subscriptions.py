"""`TinySubscriptions`: the `subscriptions` table, one record per channel.

Indexed by channel key (every `get` and `is_paused` is a dictionary lookup, not a scan: with
10,000 channels a scan per call made planning quadratic), by workspace, and by "needs a look
on a quiet tick" (not yet confirmed, or muted). Decoded `Subscription`s are cached per stored
document, and the sorted list `all()` returns is patched where documents changed (`_Order`):
re-sorted only when a channel came or went.

Channels declared in the config (`[[channels]]`) become records with the workspace `config`,
kept in line with the file by `sync_declared`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from bot.core.messages import ChannelRef
from bot.core.subscription import (
    CONFIG_WORKSPACE,
    Subscription,
    declared_record,
    interned,
    paused_record,
    resumed_record,
)
from bot.store.protocols import DetectionAsks
from bot.store.tinydb.table import Database, Doc, Index, UniqueIndex, Watcher, Writes

if TYPE_CHECKING:
    from bot.store.tinydb.held import TinyHeldAlerts

SUBSCRIPTIONS = "subscriptions"


def _workspace(doc: Mapping[str, Any]) -> tuple[str, str]:
    platform, workspace, _ = str(doc["channel"]).split(":", 2)
    return (platform, workspace)


def _filter(doc: Mapping[str, Any], name: str) -> Any:
    return (doc.get("filters") or {}).get(name, 10 if name == "top_n" else None)


def _attention(doc: Mapping[str, Any]) -> bool | None:
    unconfirmed = not doc.get("confirmed", False) and not doc.get("paused", False)
    return True if unconfirmed or doc.get("mute_until") else None


class _Order(Watcher):
    """What `all()` needs to know of the table's changes: which documents changed since it
    last looked, and whether a channel came or went (or a document changed its channel),
    which is when the order must be worked out again. A pause, a mute or a changed filter in
    one of 10,000 channels then costs one replaced entry, not decoding and sorting them all
    (~20 ms at the next poll)."""

    def __init__(self) -> None:
        self.changed: set[int] = set()
        self.moved = True

    def update(
        self, doc_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        if old is None or new is None or old["channel"] != new["channel"]:
            self.moved = True
        else:
            self.changed.add(doc_id)


class TinySubscriptions:
    def __init__(self, store: Writes, db: Database, held: TinyHeldAlerts) -> None:
        self._store = store
        self._held = held
        self.table = db.incremental(SUBSCRIPTIONS)
        self._by_channel = self.table.add_index(UniqueIndex(lambda d: d["channel"]))
        self._by_workspace = self.table.add_index(Index(_workspace))
        self._attention = self.table.add_index(Index(_attention))
        # what detection must produce for the channels, kept as the distinct values asked
        self._top_ns = self.table.add_index(Index(lambda d: _filter(d, "top_n")))
        self._min_moves = self.table.add_index(Index(lambda d: _filter(d, "min_move")))
        self._min_changes = self.table.add_index(Index(lambda d: _filter(d, "min_change_pct")))
        self._order = self.table.add_index(_Order())
        self._decoded: dict[int, tuple[Doc, Subscription]] = {}
        self._all: list[Subscription] = []
        self._position: dict[int, int] = {}
        """Where each document's subscription is in `_all`."""
        self._shared: dict[object, object] = {}

    def _sub(self, doc_id: int) -> Subscription | None:
        doc = self.table.doc(doc_id)
        if doc is None:
            return None
        cached = self._decoded.get(doc_id)
        if cached is not None and cached[0] is doc:
            return cached[1]
        sub = self._interned(Subscription.from_dict(doc))
        self._decoded[doc_id] = (doc, sub)
        return sub

    def _interned(self, sub: Subscription) -> Subscription:
        """Equal settings as one shared object: 10,000 channels ask a few dozen different
        things, and the planner works out each distinct ask once (`Router`)."""
        return interned(sub, self._shared)

    def _subs(self, ids: Iterable[int]) -> list[Subscription]:
        return [s for s in map(self._sub, ids) if s is not None]

    async def get(self, channel: ChannelRef) -> Subscription | None:
        doc_id = self._by_channel.get(channel.key)
        return self._sub(doc_id) if doc_id is not None else None

    async def all(self) -> list[Subscription]:
        order = self._order
        if order.moved:
            pairs = [
                (i, sub) for i in map(int, self.table.raw) if (sub := self._sub(i)) is not None
            ]
            pairs.sort(key=lambda pair: pair[1].channel.key)
            self._all = [sub for _, sub in pairs]
            self._position = {doc_id: at for at, (doc_id, _) in enumerate(pairs)}
            order.moved = False
        else:
            for doc_id in order.changed:
                sub = self._sub(doc_id)
                if sub is not None:
                    self._all[self._position[doc_id]] = sub
        order.changed.clear()
        return list(self._all)

    async def count(self) -> int:
        return len(self.table.raw)

    async def upsert(self, sub: Subscription) -> Subscription:
        async with self._store.write():
            self._put(sub)
        return sub

    def _put(self, sub: Subscription) -> None:
        sub = self._interned(sub)
        doc = sub.to_dict()
        doc_id = self._by_channel.get(sub.channel.key)
        if doc_id is None:
            doc_id = self.table.add(doc)
        else:
            self.table.put(doc_id, doc)
        self._decoded[doc_id] = (doc, sub)

    async def remove(self, channel: ChannelRef) -> bool:
        doc_id = self._by_channel.get(channel.key)
        if doc_id is None:
            return False
        async with self._store.write():
            self.table.delete(doc_id)
            self._held.drop_channel(channel)
        return True

    async def pause(self, channel: ChannelRef, reason: str, now: datetime) -> None:
        sub = await self.get(channel)
        if sub is not None:
            await self.upsert(paused_record(sub, reason, now))

    async def resume(self, channel: ChannelRef, now: datetime, by: str = "") -> Subscription | None:
        sub = await self.get(channel)
        if sub is None:
            return None
        return await self.upsert(resumed_record(sub, now, by))

    async def is_paused(self, channel: ChannelRef) -> bool:
        doc_id = self._by_channel.get(channel.key)
        doc = self.table.doc(doc_id) if doc_id is not None else None
        return doc is not None and bool(doc.get("paused", False))

    async def needing_attention(self) -> list[Subscription]:
        subs = self._subs(self._attention.ids(True))
        subs.sort(key=lambda s: s.channel.key)
        return subs

    async def in_workspace(self, platform: str, workspace: str) -> list[Subscription]:
        subs = self._subs(self._by_workspace.ids((platform, workspace)))
        subs.sort(key=lambda s: s.channel.key)
        return subs

    async def detection_asks(self) -> DetectionAsks:
        return DetectionAsks(
            top_ns=tuple(sorted(cast(int, n) for n in self._top_ns.groups)),
            min_move=min((cast(int, m) for m in self._min_moves.groups), default=None),
            min_change_pct=min((cast(float, c) for c in self._min_changes.groups), default=None),
        )

    async def sync_declared(self, declared: Iterable[Subscription], now: datetime) -> None:
        wanted = {d.channel.key: d for d in declared}
        async with self._store.write():
            for sub in await self.all():
                key = sub.channel.key
                if sub.channel.workspace == CONFIG_WORKSPACE and key not in wanted:
                    await self.remove(sub.channel)
            for new in wanted.values():
                record = declared_record(await self.get(new.channel), new, now)
                if record is not None:
                    self._put(record)
