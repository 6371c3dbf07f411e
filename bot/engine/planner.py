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
from bot.core.grouping import newest
from bot.core.messages import ChannelRef, Message
from bot.core.planning import (
    Planned,
    Releaser,
    Router,
    confirmation,
    health_notices,
    health_text,
    holds_back,
    mute_ended,
)
from bot.core.source_health import Notice
from bot.core.subscription import Subscription
from bot.core.text import Text
from bot.i18n import DEFAULT, say
from bot.net.slices import Slices
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
        self,
        events: Sequence[Event],
        subscriptions: Sequence[Subscription],
        now: datetime,
        *,
        note: Text | None = None,
    ) -> Plan:
        """One grouped post per channel that wants any of `events`, in the channel's language,
        `note` under its headline (a catch-up after an outage), with the chart of its newest
        snapshot's most important charted event when the channel has charts on; hold or count
        the rest. `subscriptions` is the tick's one load of them."""
        if not events:
            return Plan()
        router = Router(events, note=note)
        plan = Plan()
        said: dict[tuple[int, str, str | None], Message] = {}
        charted: dict[tuple[int, str], ChartSpec | None] = {}
        slices = Slices()  # 10,000 channels take longer than the loop may wait
        for sub in subscriptions:
            if slices.due():
                await slices.pause()
            routed = router.route(sub, now)
            post = routed.post
            if post is not None:
                post = in_channel_language(post, sub, said)
                plan.posts.append(post)
                if sub.charts:
                    drawn = (id(post.message), post.message.lang)
                    chart = charted.get(drawn, _NOT_YET)
                    if chart is _NOT_YET:
                        chart = charted[drawn] = _chart_of(post.message)
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
        holding = await store.held.holding()
        # a channel that holds back (digest not due, quiet hours) is looked at no further:
        # its events are read only when they may go out (a minute's tick between polls
        # otherwise read every digest channel's events, one query each on PostgreSQL)
        slices = Slices()
        for channel, oldest in holding.items():
            if slices.due():
                await slices.pause()
            if channel in subs:
                continue
            sub = await store.subscriptions.get(channel)
            if sub is None:  # unsubscribed: what it held goes too
                held = await store.held.of(channel)
                await store.held.release(channel, [h.event.key for h in held])
                continue
            if holds_back(sub, oldest, now):
                continue
            subs[channel] = sub
        planned: list[Planned] = []
        releaser = Releaser()  # holds the shared messages, whose ids `said` is keyed by
        said: dict[tuple[int, str, str | None], Message] = {}
        for channel in sorted(subs, key=lambda c: c.key):
            if slices.due():
                await slices.pause()
            sub = subs[channel]
            updated = sub
            if not sub.confirmed and not sub.paused:
                planned.append(in_channel_language(confirmation(sub, now), sub))
                updated = replace(updated, confirmed=True)
            items = await store.held.of(channel) if channel in holding else []
            released = releaser.release(updated, items, now)
            if released.post is not None:
                planned.append(in_channel_language(released.post, sub, said))
            if released.clear:
                await store.held.release(channel, [h.event.key for h in items])
            if released.skipped:
                updated = replace(updated, skipped=updated.skipped + released.skipped)
            notice = mute_ended(updated, now)
            if notice is not None:
                planned.append(in_channel_language(notice, sub))
            if updated.mute_until is not None and not updated.muted(now):
                updated = replace(updated, mute_until=None, skipped=0)
            if updated is not sub:  # each change above made a new record
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
        by_channel = {sub.channel: sub for sub in subs}
        return [
            in_channel_language(post, by_channel.get(post.channel))
            for post in health_notices(subs, notice, text, now, self._operator)
        ]


_NOT_YET = ChartSpec("", "", "", datetime.min.date())
"""Marks a message whose chart was not looked up yet (None means: it has none)."""


def _chart_of(message: Message) -> ChartSpec | None:
    """The chart of the most important charted event (a new #1: the trend; a country flip:
    the shares) of a post's NEWEST snapshot, drawn from that event's stream up to its date in
    the post's language: a post that also holds older snapshots never shows an older
    picture."""
    for event in newest(message.events):
        kind = EVENT_CHARTS.get(event.kind)
        if kind is not None:
            return ChartSpec(kind, event.source, event.period, event.as_of, message.lang)
    return None


def in_channel_language(
    post: Planned,
    sub: Subscription | None,
    said: dict[tuple[int, str, str | None], Message] | None = None,
) -> Planned:
    """`post` with its words said in the channel's language and time zone (the core plans
    message ids, the shell translates); the message keeps both for the sender, which renders
    the events in them too. A channel without a subscription (the operator's) reads English.
    `said` shares one translated message among the posts of one shared message (the Router's
    fan-out), so a post to 10,000 channels is translated, rendered and stored once per
    language."""
    lang = sub.lang if sub is not None else DEFAULT
    tz = sub.tz if sub is not None and sub.tz != "UTC" else None
    shared = post.message
    if (
        post.title is None
        and post.notice is None
        and post.note is None
        and shared.lang == lang
        and shared.tz == tz
    ):
        return post  # nothing to say, already in the channel's language: as it is
    ident = (id(shared), lang, tz)
    message = said.get(ident) if said is not None else None
    if message is None:
        message = replace(
            shared,
            title=say(post.title, lang, tz) if post.title is not None else shared.title,
            notice=say(post.notice, lang, tz) if post.notice is not None else shared.notice,
            note=say(post.note, lang, tz) if post.note is not None else shared.note,
            lang=lang,
            tz=tz,
        )
        if said is not None:
            said[ident] = message
    return Planned(post.channel, message, post.key)  # not `replace`: once per channel
