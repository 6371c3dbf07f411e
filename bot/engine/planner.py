"""The planner: the one owner of "who gets which post, when, with which picture".

The poller (`bot.engine.poller`) calls it on every tick and enqueues what it returns; nothing
else plans. Each call loads subscriptions and held events from the store, lets the pure rules
of `bot.core.planning` decide (matching, grouping, holding for quiet hours and digests, mutes,
confirmations, source-health notices), applies what they decided, and returns `Planned` posts,
all in one batch so a crash keeps either all of its changes or none. It also decides which
alert carries a chart (`bot.render.chart_attachments.EVENT_CHARTS`) and draws it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.countries import CountryTable
from bot.core.events import Event
from bot.core.grouping import newest
from bot.core.messages import Attachment, ChannelRef
from bot.core.planning import (
    Planned,
    confirmation,
    health_notices,
    health_text,
    mute_ended,
    release,
    route,
)
from bot.core.source_health import Notice
from bot.core.subscription import Subscription
from bot.core.text import Text
from bot.i18n import DEFAULT, say
from bot.store.database import Store
from bot.store.held import HeldAlerts
from bot.store.source_health import read_health
from bot.store.subscriptions import Subscriptions

log = logging.getLogger("rankbot.planner")


class Planner:
    """Plans posts for the channels subscribed in `store`.

    `operator` is the channel that hears about source outages whatever it subscribed to
    (`[delivery] operator_channel`); `countries` is for the charts alerts carry.
    """

    def __init__(
        self, store: Store, countries: CountryTable, *, operator: ChannelRef | None = None
    ) -> None:
        self._store = store
        self._countries = countries
        self._operator = operator

    def after_ingest(
        self, events: Sequence[Event], now: datetime, *, note: Text | None = None
    ) -> list[Planned]:
        """One grouped post per channel that wants any of `events`, its chart attached and
        `note` under its headline (a catch-up after an outage); hold or count the rest."""
        if not events:
            return []
        subs = Subscriptions(self._store)
        held = HeldAlerts(self._store)
        planned: list[Planned] = []
        with self._store.batch():
            for sub in subs.all():
                routed = route(sub, events, now, note=note)
                if routed.post is not None:
                    planned.append(in_channel_language(routed.post, sub))
                if routed.hold:
                    held.hold(sub.channel, routed.hold, now)
                if routed.skipped:
                    subs.upsert(replace(sub, skipped=sub.skipped + routed.skipped))
        return self._with_charts(planned)

    def flush_due(self, now: datetime) -> list[Planned]:
        """Confirmations of new subscriptions, mute-ended notices, and held posts now due."""
        subs = Subscriptions(self._store)
        held = HeldAlerts(self._store)
        planned: list[Planned] = []
        with self._store.batch():
            live: set[str] = set()
            for sub in subs.all():
                live.add(sub.channel.key)
                updated = sub
                if not sub.confirmed and not sub.paused:
                    planned.append(in_channel_language(confirmation(sub, now), sub))
                    updated = replace(updated, confirmed=True)
                items, doc_ids = held.of(sub.channel)
                released = release(updated, items, now)
                if released.post is not None:
                    planned.append(in_channel_language(released.post, sub))
                if released.clear:
                    held.clear(doc_ids)
                updated = replace(updated, skipped=updated.skipped + released.skipped)
                notice = mute_ended(updated, now)
                if notice is not None:
                    planned.append(in_channel_language(notice, sub))
                if updated.mute_until is not None and not updated.muted(now):
                    updated = replace(updated, mute_until=None, skipped=0)
                if updated != sub:
                    subs.upsert(updated)
            held.keep_only(live)
        return planned

    def health_notices(
        self, source: str, notice: Notice, outage_hours: float, now: datetime
    ) -> list[Planned]:
        """A source's outage (or recovery) notice, worded from its health record, for the
        channels that subscribed to `source_health` and for the operator's channel."""
        health = read_health(self._store, source)
        text = health_text(source, notice, health.newest_day, health.last_error, outage_hours)
        subs = Subscriptions(self._store).all()
        by_channel = {sub.channel: sub for sub in subs}
        return [
            in_channel_language(post, by_channel.get(post.channel))
            for post in health_notices(subs, notice, text, now, self._operator)
        ]

    def _with_charts(self, planned: list[Planned]) -> list[Planned]:
        """Attach the chart of the most important charted event (a new #1: the trend; a
        country flip: the shares) of a post's NEWEST snapshot when the channel has charts on:
        a post that also holds older snapshots never shows an older picture. Drawn once per
        call and event, only for these rare kinds; a post whose chart cannot be drawn goes
        without."""
        from bot.render.chart_attachments import EVENT_CHARTS, alert_chart  # matplotlib: only here
        from bot.render.charts import DEFAULT_WEEKS

        charts: dict[tuple[str, str], Attachment | None] = {}
        subscriptions = Subscriptions(self._store)
        out: list[Planned] = []
        for post in planned:
            sub = subscriptions.get(post.channel)
            charted = [e for e in newest(post.message.events) if e.kind in EVENT_CHARTS]
            if sub is None or not sub.charts or not charted:
                out.append(post)
                continue
            event = charted[0]
            drawn = (event.key, post.message.lang)  # one picture per event and language
            if drawn not in charts:
                try:
                    # the event's snapshot was just ingested: the newest of its stream
                    stream = self._store.snapshots(event.source, event.period, last=DEFAULT_WEEKS)
                    charts[drawn] = alert_chart(
                        event, stream, self._countries, lang=post.message.lang
                    )
                except Exception:  # a picture must never cost the alert
                    log.exception("chart for %s failed; the alert goes without it", event.key)
                    charts[drawn] = None
            chart = charts[drawn]
            message = replace(post.message, attachments=(chart,)) if chart else post.message
            out.append(replace(post, message=message))
        return out


def in_channel_language(post: Planned, sub: Subscription | None) -> Planned:
    """`post` with its words said in the channel's language and time zone (the core plans
    message ids, the shell translates); the message keeps both for the sender, which renders
    the events in them too. A channel without a subscription (the operator's) reads English."""
    lang = sub.lang if sub is not None else DEFAULT
    tz = sub.tz if sub is not None and sub.tz != "UTC" else None
    message = replace(
        post.message,
        title=say(post.title, lang, tz) if post.title is not None else post.message.title,
        notice=say(post.notice, lang, tz) if post.notice is not None else post.message.notice,
        note=say(post.note, lang, tz) if post.note is not None else post.message.note,
        lang=lang,
        tz=tz,
    )
    return replace(post, message=message, title=None, notice=None, note=None)
