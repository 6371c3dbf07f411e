"""Who gets what: the `subscriptions` table, one record per channel (`bot.core.subscription`).

Channels declared in the config (`[[channels]]`, webhooks that cannot type commands) become
records too, with the workspace `config`, and are kept in line with the file by
`Subscriptions.sync_declared`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from tinydb import Query

from bot.core.messages import ChannelRef
from bot.core.subscription import CONFIG_WORKSPACE, Subscription
from bot.store.database import Store


class Subscriptions:
    """The `subscriptions` table: one record per channel key."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._table = store.table("subscriptions")

    def get(self, channel: ChannelRef) -> Subscription | None:
        doc = self._table.get(Query().channel == channel.key)
        return Subscription.from_dict(doc) if isinstance(doc, Mapping) else None

    def upsert(self, sub: Subscription) -> Subscription:
        self._table.upsert(sub.to_dict(), Query().channel == sub.channel.key)
        return sub

    def remove(self, channel: ChannelRef) -> bool:
        return bool(self._table.remove(Query().channel == channel.key))

    def all(self) -> list[Subscription]:
        subs = [Subscription.from_dict(d) for d in self._table.all()]
        return sorted(subs, key=lambda s: s.channel.key)

    def pause(self, channel: ChannelRef, reason: str, now: datetime) -> None:
        """Stop planning posts for a channel that cannot take them; keep every setting."""
        sub = self.get(channel)
        if sub is not None:
            self.upsert(replace(sub, paused=True, pause_reason=reason, updated_at=now))

    def resume(self, channel: ChannelRef, now: datetime, by: str = "") -> Subscription | None:
        sub = self.get(channel)
        if sub is None:
            return None
        resumed = replace(sub, paused=False, pause_reason=None, updated_at=now)
        return self.upsert(replace(resumed, updated_by=by or sub.updated_by))

    def is_paused(self, channel: ChannelRef) -> bool:
        sub = self.get(channel)
        return sub is not None and sub.paused

    def top_ns(self) -> tuple[int, ...]:
        """Every top N some channel watches: detection must emit entries and exits for each."""
        return tuple(sorted({s.filters.top_n for s in self.all()}))

    def sync_declared(self, declared: Iterable[Subscription], now: datetime) -> None:
        """Make the config's `[[channels]]` the truth for workspace `config` records.

        Settings come from the file; the record's history (creation, confirmation, pause,
        mute) is kept, and channels removed from the file are removed here too.
        """
        wanted = {d.channel.key: d for d in declared}
        with self._store.batch():
            for sub in self.all():
                key = sub.channel.key
                if sub.channel.workspace == CONFIG_WORKSPACE and key not in wanted:
                    self.remove(sub.channel)
            for new in wanted.values():
                old = self.get(new.channel)
                if old is None:
                    self.upsert(replace(new, created_by="config", created_at=now))
                    continue
                merged = replace(
                    old,
                    kinds=new.kinds,
                    filters=new.filters,
                    periods=new.periods,
                    digest=new.digest,
                    quiet=new.quiet,
                    charts=new.charts,
                    lang=new.lang,
                )
                if merged != old:
                    self.upsert(replace(merged, updated_by="config", updated_at=now))
