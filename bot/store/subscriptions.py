"""Who gets what: one subscription record per channel, stored in the `subscriptions` table.

Why one record per channel (keyed by `ChannelRef.key`) and not one per request: overlapping
requests then merge into the same record, so an event can never be posted twice to a channel
because two subscriptions both wanted it (integrations/slack#801). Channels declared in the
config (`[[channels]]`, webhooks that cannot type commands) become records too, with the
workspace `config`, and are kept in line with the file by `Subscriptions.sync_declared`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tinydb import Query

from bot.config.file import ConfigError, Section
from bot.core.events import KINDS
from bot.core.local_time import WEEKDAYS, Digest, QuietHours, ScheduleError, parse_hhmm, parse_tz
from bot.core.messages import ChannelRef
from bot.core.model import PERIODS
from bot.store.database import Store

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

    @property
    def mode(self) -> str:
        return "immediate" if self.digest is None else f"digest {self.digest}"

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
        )


def summary(sub: Subscription, now: datetime) -> list[str]:
    """The complete settings as short lines: echoed after every change and in confirmations."""
    f = sub.filters
    lines = [
        "alerts: " + ", ".join(sub.kinds),
        "periods: " + ", ".join(sub.periods),
        f"top N: {f.top_n}",
    ]
    for label, values in (
        ("models", f.models),
        ("not models", f.exclude_models),
        ("authors", f.authors),
        ("not authors", f.exclude_authors),
        ("countries", f.countries),
        ("not countries", f.exclude_countries),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    if f.min_move is not None:
        lines.append(f"min rank move: {f.min_move}")
    if f.min_change_pct is not None:
        lines.append(f"min surge/drop: {f.min_change_pct:g}%")
    lines.append(f"delivery: {sub.mode}")
    lines.append(f"quiet hours: {sub.quiet or 'off'}")
    if sub.muted(now) and sub.mute_until is not None:
        lines.append(f"muted until: {sub.mute_until:%Y-%m-%d %H:%M} UTC")
    lines.append(f"charts: {'on' if sub.charts else 'off'}")
    return lines


class Subscriptions:
    """The `subscriptions` table: one record per channel key."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._table = store.table("subscriptions")

    def get(self, channel: ChannelRef) -> Subscription | None:
        doc = self._table.get(Query().channel == channel.key)
        return Subscription.from_dict(doc) if doc is not None else None  # type: ignore[arg-type]

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
                )
                if merged != old:
                    self.upsert(replace(merged, updated_by="config", updated_at=now))


# --- the [[channels]] config section ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeclaredChannel:
    """A webhook channel from the config; `url_env` names the variable holding its URL."""

    name: str
    platform: str
    url_env: str
    subscription: Subscription


def parse_channels(section: Section, base: Path) -> tuple[DeclaredChannel, ...]:
    """Read the `[[channels]]` tables (handed over as `{"items": [...]}`; `base` is unused)."""
    items = section.tables("items")
    section.done()
    out: list[DeclaredChannel] = []
    for i, item in enumerate(items, start=1):
        declared = _parse_channel(Section(item.data, f"[[channels]] #{i}"))
        if any(d.name == declared.name for d in out):
            raise ConfigError(f"[[channels]] #{i} name: {declared.name!r} is declared twice")
        out.append(declared)
    return tuple(out)


def _parse_channel(table: Section) -> DeclaredChannel:
    where = table.where
    name = table.text("name", None)
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(
            f"{where} name: expected a name of letters, digits, - _ or ., got {name!r}"
        )
    platform = table.text("platform", None, choices=WEBHOOK_PLATFORMS)
    if platform is None:
        raise ConfigError(f"{where} platform: required, one of {', '.join(WEBHOOK_PLATFORMS)}")
    url_env = table.text("url_env", None)
    if not url_env or not url_env.replace("_", "").isalnum() or url_env.startswith("http"):
        raise ConfigError(
            f"{where} url_env: expected the NAME of an environment variable holding the URL "
            f'(like "RANKBOT_WEBHOOK_OPS"), never the URL itself'
        )
    kinds = table.strings("kinds", DEFAULT_KINDS)
    _check_choices(where, "kinds", kinds, SUBSCRIBABLE_KINDS)
    periods = table.strings("periods", DEFAULT_PERIODS)
    _check_choices(where, "periods", periods, PERIODS)
    filters = Filters(
        top_n=table.integer("top_n", 10, lo=1, hi=50),
        models=table.strings("models"),
        exclude_models=table.strings("exclude_models"),
        authors=table.strings("authors"),
        exclude_authors=table.strings("exclude_authors"),
        countries=tuple(c.upper() for c in table.strings("countries")),
        exclude_countries=tuple(c.upper() for c in table.strings("exclude_countries")),
        min_move=_optional_int(table, "min_move"),
        min_change_pct=_optional_number(table, "min_change_pct"),
    )
    tz = table.text("timezone", "UTC")
    mode = table.text("digest", "off", choices=("off", "daily", "weekly"))
    at = table.text("digest_at", "09:00")
    day = table.text("digest_day", "mon", choices=WEEKDAYS)
    quiet = table.text("quiet", None)
    charts = table.flag("charts", True)
    table.done()
    try:
        zone = parse_tz(tz or "UTC")
        digest = None
        if mode != "off":
            digest = Digest(
                mode or "daily", parse_hhmm(at or ""), zone, WEEKDAYS.index(day or "mon")
            )
        quiet_hours = QuietHours.parse(quiet, zone) if quiet else None
    except ScheduleError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    sub = Subscription(
        channel=ChannelRef(platform, CONFIG_WORKSPACE, name),
        kinds=kinds,
        filters=filters,
        periods=periods,
        digest=digest,
        quiet=quiet_hours,
        charts=charts,
    )
    return DeclaredChannel(name=name, platform=platform, url_env=url_env, subscription=sub)


def _check_choices(where: str, key: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    for value in values:
        if value not in allowed:
            raise ConfigError(f"{where} {key}: {value!r} is not one of {', '.join(allowed)}")


def _optional_int(table: Section, key: str) -> int | None:
    value = table.integer(key, -1, lo=1)
    return None if value == -1 else value


def _optional_number(table: Section, key: str) -> float | None:
    value = table.number(key, -1.0, lo=0)
    return None if value == -1.0 else value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
