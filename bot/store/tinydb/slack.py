"""`TinySlackInstallations`: Slack installs (OAuth) and OAuth `state` values.

`slack_installations`: one document per saved install, `{kind, ...fields}` with `kind`
`installation` or `bot` (newest wins on lookup); `slack_oauth_states`: `{state, expires}`.
Both stay small (one install per workspace, a state lives ten minutes), so lookups scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.store.tinydb.table import Database, Writes

INSTALLATIONS = "slack_installations"
STATES = "slack_oauth_states"


class TinySlackInstallations:
    def __init__(self, store: Writes, db: Database) -> None:
        self._store = store
        self.installs = db.incremental(INSTALLATIONS)
        self.states = db.incremental(STATES)

    def _matching(
        self, kind: str, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for key, doc in self.installs.raw.items():
            if (doc.get("kind"), doc.get("enterprise_id"), doc.get("team_id")) != (
                kind,
                enterprise_id,
                team_id,
            ):
                continue
            if user_id is not None and doc.get("user_id") != user_id:
                continue
            out.append((int(key), doc))
        return out

    async def save(self, kind: str, doc: Mapping[str, Any]) -> None:
        async with self._store.write():
            self.installs.add({**doc, "kind": kind})

    async def find(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        return newest_installation(self._matching(kind, enterprise_id, team_id, user_id))

    async def delete(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        found = self._matching(kind, enterprise_id, team_id, user_id)
        if found:
            async with self._store.write():
                for doc_id, _ in found:
                    self.installs.delete(doc_id)

    async def issue_state(self, state: str, expires: float, now: float) -> None:
        async with self._store.write():
            for key, doc in list(self.states.raw.items()):
                if doc["expires"] < now:
                    self.states.delete(int(key))
            self.states.add({"state": state, "expires": expires})

    async def consume_state(self, state: str, now: float) -> bool:
        found = [
            int(key)
            for key, doc in self.states.raw.items()
            if doc["state"] == state and doc["expires"] >= now
        ]
        if found:
            async with self._store.write():
                for doc_id in found:
                    self.states.delete(doc_id)
        return bool(found)


def newest_installation(found: Iterable[tuple[int, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """The install a lookup returns among the matching `(id, document)`s, for every backend:
    the newest by `installed_at`, the latest stored on a tie; without the backend's `kind`."""
    newest = max(found, key=lambda f: (f[1].get("installed_at") or 0, f[0]), default=None)
    return {k: v for k, v in newest[1].items() if k != "kind"} if newest is not None else None
