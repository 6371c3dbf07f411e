"""The small, platform-free message types that the core and every chat adapter exchange.

Adapters (Slack, Discord, webhooks, the console) only translate between these and their
platform: a slash command becomes a `CommandContext` plus a command line, a `Reply` becomes an
ephemeral message, a `Message` becomes Block Kit or embeds. Nothing here knows any platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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
    key: str = field(init=False, repr=False, compare=False)
    """`platform:workspace:channel`, how stores and logs name the channel: made once, since a
    post asks for it several times (its own key, the outbox, delivery)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.platform}:{self.workspace}:{self.channel}")

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
    lang: str | None = None
    """The caller's language when the platform tells it (Discord `interaction.locale`,
    Slack `users.info` locale); replies then use it, else the channel's, else English."""
    syntax: Syntax | None = None
    """How commands are typed on the caller's platform, for help and examples (None: the
    words after `/rankbot`, as Slack and the console take them)."""


class Syntax(Protocol):
    """A platform's way of writing commands: Discord takes options (`/top n:5`), not words."""

    def usage(self, command: str) -> str | None:
        """The usage line of `command` on this platform, or None for the core's."""

    def example(self, line: str) -> str:
        """The command line `line` (core words, e.g. `mute 2h`) as typed here."""


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
    lang: str = "en"
    """The language `text` is in; adapters render their richer views in it too."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message or reply (charts)."""

    filename: str
    content: bytes
    title: str = ""
    mime: str = "image/png"
    alt: str = ""
    """What the picture shows, as a sentence, for people who cannot see it (Slack
    `alt_txt`, Discord's attachment description); the title when empty."""


@dataclass(frozen=True, slots=True)
class Message:
    """One planned post to one channel: a group of events, or a notice, never both empty.

    Each sender renders it in its own flavour and truncates to its platform's limits with
    "+N more"; `events` come in `bot.core.grouping` order (newest snapshot first, by
    importance inside it), so a cut drops the oldest snapshot's least important events.
    `note` is one line about the post as a whole, shown under its headline (rankbot caught
    up after an outage); it is not part of the post's key.
    """

    events: tuple[Event, ...] = ()
    notice: str | None = None
    title: str | None = None
    attachments: tuple[Attachment, ...] = ()
    note: str | None = None
    lang: str = "en"
    """The channel's language when the post was planned (notice, title and note are already
    in it; the events are rendered in it by each sender)."""
    tz: str | None = None
    """The channel's time zone for the times a post shows (None: UTC)."""
