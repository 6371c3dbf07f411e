"""The `[[channels]]` config section: webhook channels declared in the file, each with the
subscription it gets (they cannot type commands to subscribe themselves).

`url_env` names the environment variable holding the channel's URL: the URL is a secret and
never appears in the file, the store or a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config.file import Section
from bot.core.local_time import WEEKDAYS, Digest, QuietHours, ScheduleError, parse_hhmm, parse_tz
from bot.core.messages import ChannelRef
from bot.core.model import PERIODS
from bot.core.subscription import (
    CONFIG_WORKSPACE,
    DEFAULT_KINDS,
    DEFAULT_PERIODS,
    SUBSCRIBABLE_KINDS,
    WEBHOOK_PLATFORMS,
    Filters,
    Subscription,
)
from bot.errors import ConfigError
from bot.i18n import DEFAULT, languages, supported


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
    if tz is not None and not tz.strip():
        raise ConfigError(
            f'{where} timezone: expected an IANA time zone like "Europe/Berlin", got ""'
        )
    mode = table.text("digest", "off", choices=("off", "daily", "weekly"))
    at = table.text("digest_at", "09:00")
    day = table.text("digest_day", "mon", choices=WEEKDAYS)
    quiet = table.text("quiet", None)
    charts = table.flag("charts", True)
    lang_tag = table.text("lang", DEFAULT) or DEFAULT
    lang = supported(lang_tag)
    if lang is None:
        raise ConfigError(
            f'{where} lang: rankbot does not speak "{lang_tag}"; use one of '
            f"{', '.join(languages())}"
        )
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
        lang=lang,
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
