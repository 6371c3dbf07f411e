"""Bot tokens that stopped working: a problem of the token, not of each channel.

A revoked or reset token (Discord 401, Slack `invalid_auth` / `token_revoked` /
`account_inactive`) used to pause every channel one by one, each losing its alert and
needing its own `resume`. Now the sender answers `SendStatus.HELD` with the reason, and
delivery (`bot.delivery.workers`) holds the token's *scope*: every channel that posts with it
keeps its posts pending and untouched, one line goes to the log and one notice to
`[delivery] operator_channel` (when that channel does not use the same token), and the token
is checked again with backoff (`auth.test`, `GET /users/@me`: `TokenCheck`) until it works,
when the channels go on by themselves. Nothing is paused, nothing needs a `resume`.

Scopes: Discord has one bot for every channel; Slack has one token per workspace (one install
each under OAuth; the others go on). Webhooks carry their secret in the URL: a refused webhook
is a problem of that one channel (an access failure, paused as before).

`TokenHealth` is the state, in memory (a restart simply tries again): `held(platform,
workspace)` says why a scope is held, for `/readyz`, `status` and the admin command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.core.messages import ChannelRef

Scope = tuple[str, str]
"""(platform, workspace) of a token: `("slack", "T0123")`, `("discord", "")`."""

CHECK_FIRST_SECONDS = 30.0
"""The first check of a held token; each later one waits twice as long, up to the cap."""
CHECK_MAX_SECONDS = 1800.0


def token_scope(channel: ChannelRef) -> Scope | None:
    """Which token posts to `channel`; None when it posts with no bot token (webhooks)."""
    if channel.platform == "slack":
        return ("slack", channel.workspace)
    if channel.platform == "discord":
        return ("discord", "")
    return None


def describe(scope: Scope) -> str:
    platform, workspace = scope
    if platform == "slack":
        return f"the Slack bot token of workspace {workspace}"
    return "the Discord bot token"


@dataclass(frozen=True, slots=True)
class HeldToken:
    reason: str
    """What the platform said (`token_revoked`, `HTTP 401`)."""
    since: datetime


class TokenHealth:
    """Which tokens are refused right now (see the module docstring)."""

    def __init__(self) -> None:
        self._held: dict[Scope, HeldToken] = {}

    def held(self, platform: str, workspace: str = "") -> str | None:
        """Why the token posting to `platform` (and Slack `workspace`) is held, else None."""
        scope = token_scope(ChannelRef(platform, workspace, ""))
        found = self._held.get(scope) if scope is not None else None
        return found.reason if found is not None else None

    def held_channel(self, channel: ChannelRef) -> str | None:
        scope = token_scope(channel)
        found = self._held.get(scope) if scope is not None else None
        return found.reason if found is not None else None

    def hold(self, scope: Scope, reason: str, now: datetime) -> bool:
        """Hold `scope`; True when it was not held yet (then say so once)."""
        if scope in self._held:
            return False
        self._held[scope] = HeldToken(reason, now)
        return True

    def release(self, scope: Scope) -> HeldToken | None:
        return self._held.pop(scope, None)

    @property
    def all(self) -> Mapping[Scope, HeldToken]:
        """Every held token (read-only view)."""
        return dict(self._held)


@runtime_checkable
class TokenCheck(Protocol):
    """What a sender whose platform uses a bot token implements, to learn when a held token
    works again."""

    async def check_token(self, workspace: str) -> bool | None:
        """True: the token works; False: still refused; None: could not tell (network)."""
        ...
