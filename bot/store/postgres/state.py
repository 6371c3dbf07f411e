"""The `state` table (a key → JSON value map) and the `raw_days` table (each source's raw data
per day) on PostgreSQL, for `bot.store.protocols.StateValues` and `SourceDays`. Documents as
in the TinyDB backend: `{key, value}` and `{source, day, doc}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from bot.store.postgres.connection import Session


class PgStateValues:
    def __init__(self, session: Session) -> None:
        self._db = session

    async def get(self, key: str) -> Any:
        return await self._db.value("SELECT doc->'value' FROM state WHERE key = %s", (key,))

    async def set(self, key: str, value: Any) -> None:
        await self._db.write(
            "INSERT INTO state (doc) VALUES (%s) ON CONFLICT (key) DO UPDATE SET doc = "
            "EXCLUDED.doc",
            (Jsonb({"key": key, "value": value}),),
        )


class PgSourceDays:
    def __init__(self, session: Session) -> None:
        self._db = session

    async def load(self, source: str, since: str | None = None) -> dict[str, Mapping[str, Any]]:
        rows = await self._db.rows(
            "SELECT day, doc->'doc' FROM raw_days WHERE source = %s AND day >= %s ORDER BY day",
            (source, since or ""),
        )
        return {day: doc for day, doc in rows}

    async def newest(self, source: str) -> str | None:
        day = await self._db.value("SELECT max(day) FROM raw_days WHERE source = %s", (source,))
        return day if isinstance(day, str) else None

    async def put(self, source: str, day: str, doc: Mapping[str, Any]) -> None:
        await self._db.write(
            "INSERT INTO raw_days (doc) VALUES (%s) ON CONFLICT (source, day) DO UPDATE SET doc = "
            "EXCLUDED.doc",
            (Jsonb({"source": source, "day": day, "doc": dict(doc)}),),
        )
