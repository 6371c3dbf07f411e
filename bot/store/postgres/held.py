"""`PgHeldAlerts`: the `held` table, one `{channel, event, held_at}` document per (channel,
event) held back; the event itself is in the event log, referred to by key."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from psycopg.types.json import Jsonb

from bot.core.events import Event
from bot.core.messages import ChannelRef
from bot.core.planning import Held
from bot.store.postgres.connection import Session
from bot.store.postgres.history import PgHistory


class PgHeldAlerts:
    def __init__(self, session: Session, history: PgHistory) -> None:
        self._db = session
        self._history = history

    async def hold(self, channel: ChannelRef, events: Iterable[Event], now: datetime) -> None:
        events = list(events)
        if not events:
            return
        stamp = now.isoformat()
        docs = [{"channel": channel.key, "event": e.key, "held_at": stamp} for e in events]
        async with self._db.transaction():
            await self._history.remember(events, now)
            await self._db.write(
                "INSERT INTO held (doc) SELECT d FROM jsonb_array_elements(%s) WITH ORDINALITY "
                "AS a(d, n) ORDER BY n ON CONFLICT (channel, event) DO NOTHING",
                (Jsonb(docs),),
            )

    async def of(self, channel: ChannelRef) -> list[Held]:
        rows = await self._db.rows(
            "SELECT event, doc->>'held_at' FROM held WHERE channel = %s ORDER BY id",
            (channel.key,),
        )
        events = await self._history.by_keys(r[0] for r in rows)
        return [Held(events[key], datetime.fromisoformat(at)) for key, at in rows if key in events]

    async def release(self, channel: ChannelRef, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            await self._db.write(
                "DELETE FROM held WHERE channel = %s AND event = ANY(%s)", (channel.key, keys)
            )

    async def drop_channel(self, channel: ChannelRef) -> None:
        await self._db.write("DELETE FROM held WHERE channel = %s", (channel.key,))

    async def holding(self) -> dict[ChannelRef, datetime]:
        rows = await self._db.rows(
            "SELECT channel, min((doc->>'held_at')::timestamptz) FROM held GROUP BY channel "
            "ORDER BY channel"
        )
        return {ChannelRef.from_key(channel): oldest for channel, oldest in rows}

    async def count(self) -> int:
        return int(await self._db.value("SELECT count(*) FROM held"))
