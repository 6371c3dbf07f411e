"""The planner: the one owner of "who gets which post, when, with which picture".

The poller (`bot.engine.poller`) calls it on every tick, inside its transaction, and enqueues
what it returns; nothing else plans. It lets the pure rules of `bot.core.planning` decide
(matching, grouping, holding for quiet hours and digests, mutes, confirmations, source-health
notices), applies what they decided to the store, and returns `Plan`s: the posts, and the
chart each charted post will carry (drawn later, off the loop: `bot.engine.alert_charts`).

Cost follows what happens, not how many channels there are: a tick without news looks only at
the subscriptions that need a look anyway (unconfirmed, muted) and the channels holding
alerts; a tick with news routes every subscription once through a `Router`, which selects and
groups once per distinct ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.events import Event
from bot.core.messages import ChannelRef, Message
from bot.core.planning import (
    Planned,
    Router,
    confirmation,
    health_notices,
    health_text,
    mute_ended,
    release,
)
from bot.core.source_health import Notice
from bot.core.subscription import Subscription
from bot.render.chart_attachments import EVENT_CHARTS
from bot.store.protocols import ChartSpec, Store
from bot.store.source_health import read_health


@dataclass(frozen=True, slots=True)
class Plan:
    """Posts to enqueue, and the chart (by post key) each charted one waits for."""

    posts: list[Planned] = field(default_factory=list)
    charts: dict[str, ChartSpec] = field(default_factory=dict)


class Planner:
    """Plans posts for the channels subscribed in `store`.

    `operator` is the channel that hears about source outages whatever it subscribed to
    (`[delivery] operator_channel`).
    """

    def __init__(self, store: Store, *, operator: ChannelRef | None = None) -> None:
        self._store = store
        self._operator = operator

    async def after_ingest(
        self, events: Sequence[Event], subscriptions: Sequence[Subscription], now: datetime
    ) -> Plan:
        """One grouped post per channel that wants any of `events` (with the chart of its
        most important charted event when the channel has charts on); hold or count the
        rest. `subscriptions` is the tick's one load of them."""
        if not events:
            return Plan()
        router = Router(events)
        plan = Plan()
        charted: dict[int, ChartSpec | None] = {}
        for sub in subscriptions:
            routed = router.route(sub, now)
            post = routed.post
            if post is not None:
                plan.posts.append(post)
                if sub.charts:
                    chart = charted.get(id(post.message), _NOT_YET)
                    if chart is _NOT_YET:
                        chart = charted[id(post.message)] = _chart_of(post.message)
                    if chart is not None:
                        plan.charts[post.key] = chart
            if routed.hold:
                await self._store.held.hold(sub.channel, routed.hold, now)
            if routed.skipped:
                await self._store.subscriptions.upsert(
                    replace(sub, skipped=sub.skipped + routed.skipped)
                )
        return plan

    async def flush_due(self, now: datetime) -> list[Planned]:
        """Confirmations of new subscriptions, mute-ended notices, and held posts now due."""
        store = self._store
        subs = {s.channel: s for s in await store.subscriptions.needing_attention()}
        holding = await store.held.channels()
        for channel in holding:
            if channel not in subs:
                sub = await store.subscriptions.get(channel)
                if sub is None:  # unsubscribed: what it held goes too
                    held = await store.held.of(channel)
                    await store.held.release(channel, [h.event.key for h in held])
                    continue
                subs[channel] = sub
        planned: list[Planned] = []
        for channel in sorted(subs, key=lambda c: c.key):
            sub = subs[channel]
            updated = sub
            if not sub.confirmed and not sub.paused:
                planned.append(confirmation(sub, now))
                updated = replace(updated, confirmed=True)
            items = await store.held.of(channel) if channel in holding else []
            released = release(updated, items, now)
            if released.post is not None:
                planned.append(released.post)
            if released.clear:
                await store.held.release(channel, [h.event.key for h in items])
            updated = replace(updated, skipped=updated.skipped + released.skipped)
            notice = mute_ended(updated, now)
            if notice is not None:
                planned.append(notice)
            if updated.mute_until is not None and not updated.muted(now):
                updated = replace(updated, mute_until=None, skipped=0)
            if updated != sub:
                await store.subscriptions.upsert(updated)
        return planned

    async def health_notices(
        self, source: str, notice: Notice, outage_hours: float, now: datetime
    ) -> list[Planned]:
        """A source's outage (or recovery) notice, worded from its health record, for the
        channels that subscribed to `source_health` and for the operator's channel."""
        health = await read_health(self._store.state, source)
        text = health_text(source, notice, health.newest_day, health.last_error, outage_hours)
        subs = await self._store.subscriptions.all()
        return health_notices(subs, notice, text, now, self._operator)


_NOT_YET = ChartSpec("", "", "", datetime.min.date())
"""Marks a message whose chart was not looked up yet (None means: it has none)."""


def _chart_of(message: Message) -> ChartSpec | None:
    """The chart of a post's most important charted event (a new #1: the trend; a country
    flip: the shares), drawn from that event's stream up to its date."""
    for event in message.events:
        kind = EVENT_CHARTS.get(event.kind)
        if kind is not None:
            return ChartSpec(kind, event.source, event.period, event.as_of)
    return None
