"""The planner's shell: reads subscriptions and held events from the store, writes them back.

The poller calls `after_ingest` with the events of each stored snapshot and `flush_due` on
every tick, and enqueues the `Planned` posts both return in the outbox. All decisions are made
by the pure functions of `bot.planner`; this module only loads, applies and saves, each call
in one batch so a crash keeps either all of its changes or none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tinydb import Query

from bot.core.events import Event
from bot.core.messages import ChannelRef
from bot.core.planning import (
    Held,
    Planned,
    confirmation,
    health_notices,
    mute_ended,
    release,
    route,
)
from bot.store.database import Store
from bot.store.subscriptions import Subscriptions

HELD_TABLE = "held"
"""Events held back per channel (quiet hours, digests): {channel, event, held_at}."""


def after_ingest(store: Store, events: list[Event], now: datetime) -> list[Planned]:
    """One grouped post per channel that wants any of `events`; hold or count the rest."""
    if not events:
        return []
    subs = Subscriptions(store)
    held = store.table(HELD_TABLE)
    planned: list[Planned] = []
    with store.batch():
        for sub in subs.all():
            routed = route(sub, events, now)
            if routed.post is not None:
                planned.append(routed.post)
            if routed.hold:
                already = {
                    d["event"]["key"] for d in held.search(Query().channel == sub.channel.key)
                }
                held.insert_multiple(
                    {"channel": sub.channel.key, "event": e.to_dict(), "held_at": now.isoformat()}
                    for e in routed.hold
                    if e.key not in already
                )
            if routed.skipped:
                subs.upsert(replace(sub, skipped=sub.skipped + routed.skipped))
    return planned


def flush_due(store: Store, now: datetime) -> list[Planned]:
    """Confirmations of new subscriptions, mute-ended notices, and held posts now due."""
    subs = Subscriptions(store)
    held = store.table(HELD_TABLE)
    planned: list[Planned] = []
    with store.batch():
        live: set[str] = set()
        for sub in subs.all():
            live.add(sub.channel.key)
            updated = sub
            if not sub.confirmed and not sub.paused:
                planned.append(confirmation(sub, now))
                updated = replace(updated, confirmed=True)
            docs = held.search(Query().channel == sub.channel.key)
            items = [
                Held(Event.from_dict(d["event"]), datetime.fromisoformat(d["held_at"]))
                for d in docs
            ]
            released = release(updated, items, now)
            if released.post is not None:
                planned.append(released.post)
            if released.clear:
                held.remove(doc_ids=[d.doc_id for d in docs])
            updated = replace(updated, skipped=updated.skipped + released.skipped)
            notice = mute_ended(updated, now)
            if notice is not None:
                planned.append(notice)
            if updated.mute_until is not None and not updated.muted(now):
                updated = replace(updated, mute_until=None, skipped=0)
            if updated != sub:
                subs.upsert(updated)
        held.remove(Query().channel.test(lambda key: key not in live))
    return planned


def health(
    store: Store, notice: str, text: str, now: datetime, operator: ChannelRef | None
) -> list[Planned]:
    """The source-health notice for the channels that asked for it, and the operator's."""
    return health_notices(Subscriptions(store).all(), notice, text, now, operator)
