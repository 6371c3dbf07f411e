"""Resuming a channel: the one place that decides what becomes of the posts a paused channel
missed. The chat `resume` command, the Slack Resume button and `rankbot channels resume` all
call `resume_channel`, so they cannot disagree.

The outbox's state machine (`bot.store.protocols.PostState`):

    pending ──▶ sent
       │
       ├──▶ failed (access) ──resume, failed within resend_within_days──▶ pending
       │          └──────────resume, failed earlier──────────────────────▶ dropped
       ├──▶ failed (content)   (kept and reported; never resent: the platform refused it)
       └──▶ dropped

Why access failures come back: "not in channel", "missing permission", "webhook 404" say
nothing about the post; once someone fixed the channel and typed `resume` the alert is still
worth sending, unless it is older than `[delivery] resend_within_days` (a week-old "new #1"
is noise): those are dropped and the reply says how many. A content failure is the
platform refusing that very message: sending it again cannot work, so it stays failed and
is reported (`status`, the admin command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.messages import ChannelRef
from bot.core.subscription import Subscription
from bot.store.protocols import CONTENT, FAILED, Store

RESEND_WITHIN_DAYS = 7.0
"""Default of `[delivery] resend_within_days`."""


@dataclass(frozen=True, slots=True)
class ResumeResult:
    """What `resume_channel` did."""

    subscription: Subscription | None
    """The channel's subscription after the resume (None: the channel has none)."""
    was_paused: bool
    requeued: int = 0
    """Posts that failed for lack of access and go out again now."""
    dropped: int = 0
    """Posts that failed for lack of access longer ago than `resend_within_days`."""
    refused: int = 0
    """Posts the platform refused for their content: kept as failed, never resent."""

    @property
    def changed(self) -> bool:
        return self.was_paused or bool(self.requeued or self.dropped)


async def resume_channel(
    store: Store,
    channel: ChannelRef,
    now: datetime,
    *,
    by: str = "",
    resend_within_days: float = RESEND_WITHIN_DAYS,
) -> ResumeResult:
    """Un-pause `channel` and put its missed posts back in line, in one transaction.

    Posts that failed for lack of access after `now - resend_within_days` go back to pending
    (in their original order, before the channel's later posts); older ones are dropped.
    Content failures stay failed and are counted in `refused`. Calling it on a channel that
    is not paused is harmless: it still resends what a pause left behind. The caller wakes
    delivery afterwards (`Delivery.kick`).
    """
    async with store.transaction():
        sub = await store.subscriptions.get(channel)
        was_paused = sub is not None and sub.paused
        if was_paused:
            sub = await store.subscriptions.resume(channel, now, by=by) or sub
        requeued = await store.outbox.requeue(channel, now - timedelta(days=resend_within_days))
        dropped = await store.outbox.drop(requeued.older, now) if requeued.older else 0
        refused = sum(
            1 for item in await store.outbox.items(channel, FAILED) if item.failure == CONTENT
        )
    return ResumeResult(sub, was_paused, len(requeued.requeued), dropped, refused)
