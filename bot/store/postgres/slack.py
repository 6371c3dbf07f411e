"""`PgSlackInstallations`: Slack installs (OAuth) and OAuth `state` values on PostgreSQL, with
the TinyDB backend's documents (`{kind, ...fields}` and `{state, expires}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg.types.json import Jsonb

from bot.store.postgres.connection import Session
from bot.store.tinydb.slack import newest_installation

_MATCH = (
    "kind = %s AND team_id IS NOT DISTINCT FROM %s "
    "AND doc->>'enterprise_id' IS NOT DISTINCT FROM %s "
    "AND (%s::text IS NULL OR doc->>'user_id' = %s)"
)


class PgSlackInstallations:
    def __init__(self, session: Session) -> None:
        self._db = session

    async def save(self, kind: str, doc: Mapping[str, Any]) -> None:
        await self._db.write(
            "INSERT INTO slack_installations (doc) VALUES (%s)", (Jsonb({**doc, "kind": kind}),)
        )

    async def find(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        rows = await self._db.rows(
            f"SELECT id, doc FROM slack_installations WHERE {_MATCH}",
            (kind, team_id, enterprise_id, user_id, user_id),
        )
        return newest_installation(rows)

    async def delete(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        await self._db.write(
            f"DELETE FROM slack_installations WHERE {_MATCH}",
            (kind, team_id, enterprise_id, user_id, user_id),
        )

    async def issue_state(self, state: str, expires: float, now: float) -> None:
        async with self._db.transaction():
            await self._db.write(
                "DELETE FROM slack_oauth_states WHERE (doc->>'expires')::float8 < %s", (now,)
            )
            await self._db.write(
                "INSERT INTO slack_oauth_states (doc) VALUES (%s)",
                (Jsonb({"state": state, "expires": expires}),),
            )

    async def consume_state(self, state: str, now: float) -> bool:
        rows = await self._db.write(
            "DELETE FROM slack_oauth_states WHERE state = %s AND (doc->>'expires')::float8 >= %s "
            "RETURNING id",
            (state, now),
        )
        return bool(rows)
