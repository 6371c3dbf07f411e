"""`PgSubscriptions`: one `Subscription` document per channel on PostgreSQL.

What the poller asks on every tick (`all()`, `detection_asks()`) is answered from memory as
long as the table has not changed: a statement trigger bumps `table_versions.subscriptions` on
every write (from any process), and one indexed read of that number decides whether the
cached answers still hold. 10,000 channels are then decoded once per change, not once per
tick. Equal settings are shared objects, as in the TinyDB backend, so the planner works out
each distinct ask once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from bot.core.messages import ChannelRef
from bot.core.subscription import (
    CONFIG_WORKSPACE,
    Subscription,
    declared_record,
    interned,
    paused_record,
    resumed_record,
)
from bot.store.postgres.connection import Session
from bot.store.postgres.held import PgHeldAlerts
from bot.store.protocols import DetectionAsks


class PgSubscriptions:
    def __init__(self, session: Session, held: PgHeldAlerts) -> None:
        self._db = session
        self._held = held
        self._shared: dict[object, object] = {}
        self._all: _Cached | None = None

    def _decode(self, doc: dict[str, Any]) -> Subscription:
        return interned(Subscription.from_dict(doc), self._shared)

    async def _snapshot(self) -> tuple[list[Subscription], DetectionAsks]:
        version = await self._version()
        cached = self._all
        if cached is not None and cached.version == version:
            return cached.subs, cached.asks
        # Inside a transaction that changed subscriptions, what is read is not committed:
        # not for the cache (a rolled-back version number could come back with other rows).
        # A version that matches the committed one means this transaction changed nothing.
        committed = self._db.current() is None or version == await self._version(committed=True)
        if not committed or cached is None:
            fresh = _Cached(version)
            fresh.apply(await self._changed(0), self._decode)
        else:
            fresh = cached.copy(version)
            fresh.apply(await self._changed(cached.rev), self._decode)
            total = int(await self._db.value("SELECT count(*) FROM subscriptions"))
            if total != len(fresh.by_channel):  # rows were removed: read them all again
                fresh = _Cached(version)
                fresh.apply(await self._changed(0), self._decode)
        fresh.settle()
        if committed:
            self._all = fresh
        return fresh.subs, fresh.asks

    async def _changed(self, after: int) -> list[Any]:
        """Rows written after revision `after` (each write stamps the row with a new one)."""
        return await self._db.rows(
            "SELECT channel, rev, doc FROM subscriptions WHERE rev > %s", (after,)
        )

    async def _version(self, *, committed: bool = False) -> int:
        rows = await self._db.rows(
            "SELECT version FROM table_versions WHERE name = 'subscriptions'",
            committed=committed,
        )
        return int(rows[0][0])

    async def get(self, channel: ChannelRef) -> Subscription | None:
        doc = await self._db.value(
            "SELECT doc FROM subscriptions WHERE channel = %s", (channel.key,)
        )
        return self._decode(doc) if doc is not None else None

    async def all(self) -> list[Subscription]:
        return list((await self._snapshot())[0])

    async def count(self) -> int:
        return int(await self._db.value("SELECT count(*) FROM subscriptions"))

    async def upsert(self, sub: Subscription) -> Subscription:
        await self._db.write(
            "INSERT INTO subscriptions (doc) VALUES (%s) ON CONFLICT (channel) DO UPDATE SET "
            "doc = EXCLUDED.doc",
            (Jsonb(sub.to_dict()),),
        )
        return sub

    async def remove(self, channel: ChannelRef) -> bool:
        async with self._db.transaction():
            rows = await self._db.write(
                "DELETE FROM subscriptions WHERE channel = %s RETURNING id", (channel.key,)
            )
            if rows:
                await self._held.drop_channel(channel)
        return bool(rows)

    async def pause(self, channel: ChannelRef, reason: str, now: datetime) -> None:
        async with self._db.transaction():
            sub = await self.get(channel)
            if sub is not None:
                await self.upsert(paused_record(sub, reason, now))

    async def resume(self, channel: ChannelRef, now: datetime, by: str = "") -> Subscription | None:
        async with self._db.transaction():
            sub = await self.get(channel)
            if sub is None:
                return None
            return await self.upsert(resumed_record(sub, now, by))

    async def is_paused(self, channel: ChannelRef) -> bool:
        return bool(
            await self._db.value(
                "SELECT paused FROM subscriptions WHERE channel = %s", (channel.key,)
            )
        )

    async def needing_attention(self) -> list[Subscription]:
        rows = await self._db.rows("SELECT doc FROM subscriptions WHERE attention ORDER BY channel")
        return [self._decode(r[0]) for r in rows]

    async def in_workspace(self, platform: str, workspace: str) -> list[Subscription]:
        rows = await self._db.rows(
            "SELECT doc FROM subscriptions WHERE platform = %s AND workspace = %s ORDER BY channel",
            (platform, workspace),
        )
        return [self._decode(r[0]) for r in rows]

    async def detection_asks(self) -> DetectionAsks:
        """From the columns generated out of each record's filters, without decoding any
        (asked at every snapshot; a new poller process has nothing decoded yet)."""
        cached = self._all
        if cached is not None and cached.version == await self._version():
            return cached.asks
        top_ns, min_move, min_change = await self._db.row(
            "SELECT coalesce(array_agg(DISTINCT top_n ORDER BY top_n), '{}'), min(min_move), "
            "min(min_change_pct) FROM subscriptions"
        )
        return DetectionAsks(tuple(top_ns), min_move, min_change)

    async def sync_declared(self, declared: Iterable[Subscription], now: datetime) -> None:
        wanted = {d.channel.key: d for d in declared}
        async with self._db.transaction():
            for sub in await self.in_workspace_config():
                if sub.channel.key not in wanted:
                    await self.remove(sub.channel)
            for new in wanted.values():
                record = declared_record(await self.get(new.channel), new, now)
                if record is not None:
                    await self.upsert(record)

    async def in_workspace_config(self) -> list[Subscription]:
        """Records declared in a config file, whatever their platform."""
        rows = await self._db.rows(
            "SELECT doc FROM subscriptions WHERE workspace = %s ORDER BY channel",
            (CONFIG_WORKSPACE,),
        )
        return [self._decode(r[0]) for r in rows]


class _Cached:
    """Every subscription as of one table version, refreshed by the rows written since."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.rev = 0
        self.by_channel: dict[str, Subscription] = {}
        self.subs: list[Subscription] = []
        self.asks = DetectionAsks()

    def copy(self, version: int) -> _Cached:
        other = _Cached(version)
        other.rev, other.by_channel = self.rev, dict(self.by_channel)
        return other

    def apply(self, rows: list[Any], decode: Callable[[dict[str, Any]], Subscription]) -> None:
        for channel, rev, doc in rows:
            self.by_channel[channel] = decode(doc)
            self.rev = max(self.rev, rev)

    def settle(self) -> None:
        self.subs = [self.by_channel[k] for k in sorted(self.by_channel)]
        subs = self.subs
        self.asks = DetectionAsks(
            top_ns=tuple(sorted({s.filters.top_n for s in subs})),
            min_move=min(
                (s.filters.min_move for s in subs if s.filters.min_move is not None),
                default=None,
            ),
            min_change_pct=min(
                (s.filters.min_change_pct for s in subs if s.filters.min_change_pct is not None),
                default=None,
            ),
        )
