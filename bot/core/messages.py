"""The small, platform-free types that the core and every chat adapter exchange.

Adapters (Slack, Discord, webhooks, the console) only translate between these and their
platform: a slash command becomes a `CommandContext` plus a command line, a `Reply` becomes an
ephemeral message, a `Message` becomes Block Kit or embeds. Nothing here knows any platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from bot.core.events import Event


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where messages go: (platform, workspace or guild id, channel id).

    `platform` is `slack`, `discord`, `slack-webhook`, `discord-webhook`, `webhook` or
    `console`. For webhook channels `channel` is the name given in the config, never the URL
    (the URL is a secret and stays out of logs and the store).
    """

    platform: str
    workspace: str
    channel: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @classmethod
    def from_key(cls, key: str) -> ChannelRef:
        platform, workspace, channel = key.split(":", 2)
        return cls(platform, workspace, channel)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who typed a command; `can_manage` is decided by the adapter (admin checks)."""

    user_id: str
    name: str = ""
    can_manage: bool = False
    manage_rule: str = ""
    """How one gets the right to manage subscriptions here, shown in refusals."""


@dataclass(frozen=True, slots=True)
class CommandContext:
    channel: ChannelRef
    caller: Caller
    now: datetime
    """The current time, passed in: the core never reads a clock."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A platform-free answer: `text` always works; `view` + `data` let adapters do better.

    `view` names what `data` holds (`top`, `model`, `countries`, `subscription`, `status`,
    `help`, `error`, ...), so an adapter can pick a richer template for it.
    """

    text: str
    view: str = "text"
    data: Mapping[str, Any] = field(default_factory=dict)
    ephemeral: bool = True
    ok: bool = True
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message or reply (charts)."""

    filename: str
    content: bytes
    title: str = ""
    mime: str = "image/png"


@dataclass(frozen=True, slots=True)
class Message:
    """One planned post to one channel: a group of events, or a notice, never both empty.

    Each sender renders it in its own flavour and truncates to its platform's limits with
    "+N more"; `events` are ordered most important first.
    """

    events: tuple[Event, ...] = ()
    notice: str | None = None
    title: str | None = None
    attachments: tuple[Attachment, ...] = ()


class SendStatus(Enum):
    SENT = "sent"
    RETRY = "retry"
    """Temporary: rate limited, server error, timeout. Try again after `retry_after`."""
    PERMANENT = "permanent"
    """The channel cannot take posts (gone, bot removed, no permission): pause, don't retry."""


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    retry_after: float | None = None
    reason: str | None = None
    platform_id: str | None = None
    """The platform's id of the posted message, when there is one (for threads, edits)."""


class Sender(Protocol):
    """What Slack, Discord, webhooks and the console implement.

    `idempotency_key` is stable across retries and restarts for the same planned post:
    senders whose platform can deduplicate (Discord's `nonce`) pass it on.
    """

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult: ...
