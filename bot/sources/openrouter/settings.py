"""The `[source]` config section: which source, where, how often, and per-period confirmation.

Only the live OpenRouter source exists, so `kind` is checked rather than dispatched on. The
per-period `confirm` lives here (not in `[detect]`) because how jumpy a stream is depends on
the source: a daily figure is final once published (1), while the trailing week and month
move every day and need 2 consecutive days before a change is news.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

from bot.config.file import Section
from bot.core.model import PERIODS
from bot.errors import ConfigError

DEFAULT_CONFIRM: Mapping[str, int] = {"day": 1, "week": 2, "month": 2}


@dataclass(frozen=True, slots=True)
class SourceSettings:
    kind: str = "openrouter"
    base_url: str = "https://openrouter.ai"
    periods: tuple[str, ...] = ("day", "week")
    every_hours: int = 3
    after_utc: time = time(2, 10)
    """A new day is published around 02:00 UTC: one extra poll shortly after."""
    contact: str | None = None
    """Named in the User-Agent so OpenRouter can reach the operator (an email or URL)."""
    timeout: float = 30.0
    outage_hours: float = 24.0
    backfill_since: date = date(2025, 1, 1)
    announce_within_days: int = 3
    """After a gap, snapshots older than this many days before the poll go in silently."""
    confirm: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CONFIRM))

    def confirm_for(self, period: str) -> int:
        """Consecutive snapshots a change of `period` must hold (the poller's DetectParams)."""
        return self.confirm.get(period, 1)


def parse(section: Section, base: Path) -> SourceSettings:
    """Read `[source]`, `[source.schedule]` and `[source.confirm]` (`base` is unused)."""
    d = SourceSettings()
    kind = section.text("kind", d.kind, choices=("openrouter",))
    base_url = section.text("base_url", d.base_url) or d.base_url
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f'[source] base_url: expected an http(s) URL, got "{base_url}"')
    periods = section.strings("periods", d.periods)
    for period in periods:
        if period not in PERIODS:
            raise ConfigError(
                f"[source] periods: expected a list of {', '.join(PERIODS)}, got {period!r}"
            )
    schedule = section.table("schedule")
    every_hours = schedule.integer("every_hours", d.every_hours, lo=1, hi=24)
    after_text = schedule.text("after_utc", "02:10") or "02:10"
    try:
        after_utc = time.fromisoformat(after_text)
    except ValueError:
        raise ConfigError(
            f'[source.schedule] after_utc: expected a time like "02:10", got "{after_text}"'
        ) from None
    schedule.done()
    since_text = section.text("backfill_since", d.backfill_since.isoformat()) or ""
    try:
        since = date.fromisoformat(since_text)
    except ValueError:
        raise ConfigError(
            f'[source] backfill_since: expected a date like "2025-01-01", got "{since_text}"'
        ) from None
    confirm_section = section.table("confirm")
    confirm: dict[str, int] = {
        period: confirm_section.integer(period, DEFAULT_CONFIRM[period], lo=1, hi=10)
        for period in PERIODS
    }
    confirm_section.done()
    settings = SourceSettings(
        kind=kind or d.kind,
        base_url=base_url.rstrip("/"),
        periods=tuple(dict.fromkeys(periods)),
        every_hours=every_hours,
        after_utc=after_utc,
        contact=section.text("contact", None),
        timeout=section.number("timeout", d.timeout, lo=1),
        outage_hours=section.number("outage_hours", d.outage_hours, lo=1),
        backfill_since=max(since, date(2025, 1, 1)),
        announce_within_days=section.integer(
            "announce_within_days", d.announce_within_days, lo=1, hi=366
        ),
        confirm=confirm,
    )
    section.done()
    return settings
