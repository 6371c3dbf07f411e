"""Installs in many workspaces (HTTP mode with OAuth): installations and OAuth states kept in
rankbot's own store (`bot.store.protocols.SlackInstallations`), and uninstalls pausing that
workspace's subscriptions.

Why rankbot's store and not slack_sdk's file store: the bot already keeps one database; a
second store in the home directory would be one more thing to back up and secure. The
database then holds bot tokens: it must be readable by rankbot only (docs/slack.md). These two
classes only translate slack_sdk's installation-store interface to the store's.

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

from bot.clock import Clock, utcnow
from bot.store.protocols import Store

log = logging.getLogger("rankbot.slack")


class StoreInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store over rankbot's; `bot` and `installation` documents."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._installs = store.slack

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        async with self._store.transaction():
            await self._installs.save("installation", vars(installation))
            await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        await self._installs.save("bot", vars(bot))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        team_id = None if is_enterprise_install else team_id  # org-wide: no workspace
        doc = await self._installs.find("bot", enterprise_id, team_id)
        return Bot(**doc) if doc is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        team_id = None if is_enterprise_install else team_id
        doc = await self._installs.find("installation", enterprise_id, team_id, user_id)
        return Installation(**doc) if doc is not None else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._installs.delete("bot", enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._installs.delete("installation", enterprise_id, team_id, user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self._store.transaction():
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
            await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class StoreStateStore(AsyncOAuthStateStore):
    """OAuth `state` values: issued when an install starts, consumed once by the redirect."""

    def __init__(
        self, store: Store, *, expiration_seconds: int = 600, clock: Callable[[], float] = time.time
    ) -> None:
        self._installs = store.slack
        self._expiration = expiration_seconds
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = self._clock()
        await self._installs.issue_state(state, now + self._expiration, now)
        return state

    async def async_consume(self, state: str) -> bool:
        return await self._installs.consume_state(state, self._clock())


async def pause_workspace(store: Store, team_id: str, reason: str, now: datetime) -> int:
    """Pause every Slack subscription of the workspace; returns how many were paused."""
    paused = 0
    async with store.transaction():
        for sub in await store.subscriptions.in_workspace("slack", team_id):
            if not sub.paused:
                await store.subscriptions.pause(sub.channel, reason, now)
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
        reason = "rankbot was uninstalled from this workspace"
        count = await pause_workspace(store, team, reason, clock())
        log.warning("slack workspace %s uninstalled rankbot: %d paused", team, count)

    async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if revocations is not None:
            await revocations.handle_tokens_revoked_events(event, context)
        if event.get("tokens", {}).get("bot"):
            team = context.team_id or ""
            reason = "rankbot's bot token was revoked"
            count = await pause_workspace(store, team, reason, clock())
            log.warning("slack workspace %s revoked the bot token: %d paused", team, count)

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
