"""Installs in many workspaces (HTTP mode with OAuth): installations and OAuth states kept in
rankbot's own TinyDB file, and uninstalls pausing that workspace's subscriptions.

Why TinyDB and not slack_sdk's file store: the bot already keeps one database file written
atomically; a second store in the home directory would be one more thing to back up and
secure. The file then holds bot tokens: it must be readable by rankbot only (README).

When a workspace uninstalls the app or revokes its token, posting there cannot work any more:
its subscriptions are paused with the reason (their settings are kept, so reinstalling and
`/rankbot resume` brings them back), and the now useless tokens are deleted.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from tinydb import Query

from bot.clock import Clock, utcnow
from bot.store.database import Store
from bot.store.subscriptions import Subscriptions

log = logging.getLogger("rankbot.slack")

INSTALLATIONS = "slack_installations"
STATES = "slack_oauth_states"

_q = Query()


class TinyDBInstallationStore(AsyncInstallationStore):
    """One document per install (`kind` = `installation` or `bot`), newest last."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._table = store.table(INSTALLATIONS)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        with self._store.batch():
            self._table.insert({"kind": "installation", **vars(installation)})
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        self._table.insert({"kind": "bot", **vars(bot)})

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        doc = self._latest("bot", enterprise_id, team_id, is_enterprise_install)
        return Bot(**doc) if doc is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        doc = self._latest("installation", enterprise_id, team_id, is_enterprise_install, user_id)
        return Installation(**doc) if doc is not None else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._table.remove(self._where("bot", enterprise_id, team_id))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        cond = self._where("installation", enterprise_id, team_id)
        if user_id is not None:
            cond &= _q.user_id == user_id
        self._table.remove(cond)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        with self._store.batch():
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
            await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    def _where(self, kind: str, enterprise_id: str | None, team_id: str | None) -> Any:
        cond = (_q.kind == kind) & (_q.enterprise_id == enterprise_id)
        return cond & (_q.team_id == team_id)

    def _latest(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        if is_enterprise_install:
            team_id = None  # an org-wide install is stored without a workspace
        docs = self._table.search(self._where(kind, enterprise_id, team_id))
        if user_id is not None:
            docs = [d for d in docs if d.get("user_id") == user_id]
        if not docs:
            return None
        newest = max(docs, key=lambda d: d.get("installed_at") or 0)
        doc = dict(newest)
        doc.pop("kind")
        return doc


class TinyDBStateStore(AsyncOAuthStateStore):
    """OAuth `state` values: issued when an install starts, consumed once by the redirect."""

    def __init__(
        self, store: Store, *, expiration_seconds: int = 600, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = store.table(STATES)
        self._expiration = expiration_seconds
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = self._clock()
        self._table.remove(_q.expires < now)
        self._table.insert({"state": state, "expires": now + self._expiration})
        return state

    async def async_consume(self, state: str) -> bool:
        removed = self._table.remove((_q.state == state) & (_q.expires >= self._clock()))
        return bool(removed)


def pause_workspace(store: Store, team_id: str, reason: str, now: datetime) -> int:
    """Pause every Slack subscription of the workspace; returns how many were paused."""
    subscriptions = Subscriptions(store)
    paused = 0
    with store.batch():
        for sub in subscriptions.all():
            channel = sub.channel
            if channel.platform == "slack" and channel.workspace == team_id and not sub.paused:
                subscriptions.pause(channel, reason, now)
                paused += 1
    return paused


def add_uninstall_listeners(
    app: AsyncApp,
    store: Store,
    installations: AsyncInstallationStore | None,
    *,
    clock: Clock = utcnow,
) -> None:
    """`app_uninstalled` and `tokens_revoked`: pause the workspace, drop its dead tokens."""
    revocations = AsyncTokenRevocationListeners(installations) if installations else None

    async def app_uninstalled(context: AsyncBoltContext) -> None:
        if revocations is not None:
            await revocations.handle_app_uninstalled_events(context)
        team = context.team_id or ""
        count = pause_workspace(store, team, "rankbot was uninstalled from this workspace", clock())
        log.warning("slack workspace %s uninstalled rankbot: %d paused", team, count)

    async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if revocations is not None:
            await revocations.handle_tokens_revoked_events(event, context)
        if event.get("tokens", {}).get("bot"):
            team = context.team_id or ""
            count = pause_workspace(store, team, "rankbot's bot token was revoked", clock())
            log.warning("slack workspace %s revoked the bot token: %d paused", team, count)

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
