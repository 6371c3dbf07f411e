"""The one contract every chat platform implements to deliver a post: `Sender` and its
`SendResult`.

Why a few outcomes and not an exception: delivery (`bot.delivery.workers`) must decide per
answer whether to record the post as sent, try again later, pause the channel, or hold every
channel of a refused token; a sender
classifies its platform's answer once (healthchecks' `permanent=`, Alertmanager's recoverable
flag), and delivery never needs to know the platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from bot.core.messages import ChannelRef, Message
from bot.store.protocols import Failure


class SendStatus(Enum):
    SENT = "sent"
    RETRY = "retry"
    """Temporary: rate limited, server error, timeout. Try again after `retry_after`."""
    PERMANENT = "permanent"
    """It will not work by trying again: the post fails for good (see `SendResult.failure`)."""
    HELD = "held"
    """The bot token was refused (revoked, reset): not this channel's fault. The post stays
    pending, untouched, and every channel of that token waits until it works again
    (`bot.delivery.tokens`)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    status: SendStatus
    retry_after: float | None = None
    reason: str | None = None
    platform_id: str | None = None
    """The platform's id of the posted message, when there is one (for threads, edits)."""
    failure: Failure = "access"
    """Why a PERMANENT answer failed: `access`, the channel cannot take posts (gone, bot
    removed, no permission: the channel is paused, its later posts wait), or `content`, the
    platform refused this message (invalid blocks, HTTP 400: only this post fails)."""


class Sender(Protocol):
    """What Slack, Discord, webhooks and the console implement.

    `idempotency_key` is stable across retries and restarts for the same planned post:
    senders whose platform can deduplicate (Discord's `nonce`) pass it on.
    """

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult: ...
