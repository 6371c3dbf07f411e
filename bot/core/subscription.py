"""What a channel subscribes to: the `Subscription` value, its `Filters`, and its summary.

Pure values: the repository that stores them is `bot.store.subscriptions`, the `[[channels]]`
config section that declares some of them is `bot.config.channels`. Why one record per
channel (keyed by `ChannelRef.key`) and not one per request: overlapping requests then merge
into the same record, so an event can never be posted twice to a channel because two
subscriptions both wanted it (integrations/slack#801).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from bot.core.events import KINDS
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import ChannelRef
from bot.core.text import T, Text

DEFAULT_KINDS: tuple[str, ...] = (
    "new_leader",
    "country_flip",
    "top_entry",
    "top_exit",
    "milestone",
)
NOTICE_KINDS: tuple[str, ...] = ("source_health",)
"""Kinds a channel may subscribe to that are not ranking events: `source_health` is the one
notice after a sustained source outage and the one on recovery."""
SUBSCRIBABLE_KINDS: tuple[str, ...] = (*KINDS, *NOTICE_KINDS)
DEFAULT_PERIODS: tuple[str, ...] = ("week",)
WEBHOOK_PLATFORMS: tuple[str, ...] = ("slack-webhook", "discord-webhook", "webhook")
CONFIG_WORKSPACE = "config"


@dataclass(frozen=True, slots=True)
class Filters:
    """Every filter must pass (AND). Empty include lists mean "any"; globs match model ids."""

    top_n: int = 10
    models: tuple[str, ...] = ()
    exclude_models: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    exclude_countries: tuple[str, ...] = ()
    min_move: int | None = None
    """Places a `rank_change` must move (on top of detection's own threshold)."""
    min_change_pct: float | None = None
    """Percent a `surge` / `drop` must reach (on top of detection's own threshold)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_n": self.top_n,
            "models": list(self.models),
            "exclude_models": list(self.exclude_models),
            "authors": list(self.authors),
            "exclude_authors": list(self.exclude_authors),
            "countries": list(self.countries),
            "exclude_countries": list(self.exclude_countries),
            "min_move": self.min_move,
            "min_change_pct": self.min_change_pct,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Filters:
        lists = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
        return cls(
            top_n=int(data.get("top_n", 10)),
            min_move=data.get("min_move"),
            min_change_pct=data.get("min_change_pct"),
            **lists,
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one channel receives, how and when; `to_dict` is the stored form."""

    channel: ChannelRef
    kinds: tuple[str, ...] = DEFAULT_KINDS
    filters: Filters = field(default_factory=Filters)
    periods: tuple[str, ...] = DEFAULT_PERIODS
    digest: Digest | None = None
    """None means immediate delivery."""
    quiet: QuietHours | None = None
    mute_until: datetime | None = None
    skipped: int = 0
    """Alerts dropped during the current mute, announced when it ends."""
    charts: bool = True
    created_by: str = ""
    created_at: datetime | None = None
    updated_by: str = ""
    updated_at: datetime | None = None
    paused: bool = False
    pause_reason: str | None = None
    confirmed: bool = False
    """Whether the one "watching from now on" notice has been planned."""
    lang: str = "en"
    """The language of the channel's alerts (`subscribe lang=zh-CN`, `[[channels]] lang`)."""

    @property
    def mode(self) -> str:
        return "immediate" if self.digest is None else f"digest {self.digest}"

    @property
    def tz(self) -> str:
        """The channel's time zone: its digest's, else its quiet hours', else UTC."""
        if self.digest is not None:
            return self.digest.tz
        return self.quiet.tz if self.quiet is not None else "UTC"

    def muted(self, now: datetime) -> bool:
        return self.mute_until is not None and now < self.mute_until

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel.key,
            "kinds": list(self.kinds),
            "filters": self.filters.to_dict(),
            "periods": list(self.periods),
            "digest": self.digest.to_dict() if self.digest else None,
            "quiet": self.quiet.to_dict() if self.quiet else None,
            "mute_until": _iso(self.mute_until),
            "skipped": self.skipped,
            "charts": self.charts,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "updated_by": self.updated_by,
            "updated_at": _iso(self.updated_at),
            "paused": self.paused,
            "pause_reason": self.pause_reason,
            "confirmed": self.confirmed,
            "lang": self.lang,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subscription:
        return cls(
            channel=ChannelRef.from_key(data["channel"]),
            kinds=tuple(data["kinds"]),
            filters=Filters.from_dict(data.get("filters", {})),
            periods=tuple(data.get("periods", DEFAULT_PERIODS)),
            digest=Digest.from_dict(data["digest"]) if data.get("digest") else None,
            quiet=QuietHours.from_dict(data["quiet"]) if data.get("quiet") else None,
            mute_until=_dt(data.get("mute_until")),
            skipped=int(data.get("skipped", 0)),
            charts=bool(data.get("charts", True)),
            created_by=data.get("created_by", ""),
            created_at=_dt(data.get("created_at")),
            updated_by=data.get("updated_by", ""),
            updated_at=_dt(data.get("updated_at")),
            paused=bool(data.get("paused", False)),
            pause_reason=data.get("pause_reason"),
            confirmed=bool(data.get("confirmed", False)),
            lang=str(data.get("lang") or "en"),
        )


def interned(sub: Subscription, shared: dict[object, object]) -> Subscription:
    """`sub` with equal settings as one shared object (kept in `shared`, one per store):
    10,000 channels ask a few dozen different things, and the planner works out each
    distinct ask once (`bot.core.planning.Router`, which recognises shared objects)."""
    kinds = cast(tuple[str, ...], shared.setdefault(sub.kinds, sub.kinds))
    periods = cast(tuple[str, ...], shared.setdefault(sub.periods, sub.periods))
    filters = cast(Filters, shared.setdefault(sub.filters, sub.filters))
    if kinds is sub.kinds and periods is sub.periods and filters is sub.filters:
        return sub
    return replace(sub, kinds=kinds, periods=periods, filters=filters)


def paused_record(sub: Subscription, reason: str, now: datetime) -> Subscription:
    """`sub` with its deliveries paused for `reason` (what a platform said), for every
    backend's `pause`."""
    return replace(sub, paused=True, pause_reason=reason, updated_at=now)


def resumed_record(sub: Subscription, now: datetime, by: str = "") -> Subscription:
    """`sub` delivering again, `by` (who resumed it, when given) its last editor, for every
    backend's `resume`."""
    return replace(
        sub, paused=False, pause_reason=None, updated_at=now, updated_by=by or sub.updated_by
    )


def declared_record(
    old: Subscription | None, declared: Subscription, now: datetime
) -> Subscription | None:
    """What a channel declared in the config file (`[[channels]]`) makes of its stored
    record: a new record, the old one with the declared settings (the file is their truth;
    what chat changed meanwhile, a mute or a pause, is kept), or None when nothing changes.
    Every store backend syncs declared channels with it."""
    if old is None:
        return replace(declared, created_by="config", created_at=now)
    merged = replace(
        old,
        kinds=declared.kinds,
        filters=declared.filters,
        periods=declared.periods,
        digest=declared.digest,
        quiet=declared.quiet,
        charts=declared.charts,
        lang=declared.lang,
    )
    return replace(merged, updated_by="config", updated_at=now) if merged != old else None


def summary(sub: Subscription, now: datetime) -> list[Text]:
    """The complete settings as short lines: echoed after every change and in confirmations.
    Kinds, globs, codes and zones stay as typed: they are what one types to change them."""
    f = sub.filters
    lines = [
        T("alerts: %(kinds)s", kinds=", ".join(sub.kinds)),
        T("periods: %(periods)s", periods=", ".join(sub.periods)),
        T("top N: %(n)s", n=f.top_n),
    ]
    for label, values in (
        (T("models: %(list)s"), f.models),
        (T("not models: %(list)s"), f.exclude_models),
        (T("authors: %(list)s"), f.authors),
        (T("not authors: %(list)s"), f.exclude_authors),
        (T("countries: %(list)s"), f.countries),
        (T("not countries: %(list)s"), f.exclude_countries),
    ):
        if values:
            lines.append(Text(label.msgid, {"list": ", ".join(values)}))
    if f.min_move is not None:
        lines.append(T("min rank move: %(n)s", n=f.min_move))
    if f.min_change_pct is not None:
        lines.append(T("min surge/drop: %(pct)s%%", pct=format(f.min_change_pct, "g")))
    if sub.digest is None:
        lines.append(T("delivery: immediate"))
    else:
        lines.append(T("delivery: digest %(digest)s", digest=str(sub.digest)))
    if sub.quiet is None:
        lines.append(T("quiet hours: off"))
    else:
        lines.append(T("quiet hours: %(range)s", range=str(sub.quiet)))
    if sub.muted(now) and sub.mute_until is not None:
        lines.append(T("muted until: %(until)s", until=sub.mute_until))
    lines.append(T("charts: on") if sub.charts else T("charts: off"))
    if sub.lang != "en":
        lines.append(T("language: %(lang)s", lang=sub.lang))
    return lines


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
