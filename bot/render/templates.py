"""Turning events and views into text with Jinja2 templates, for every flavour of channel.

Templates are looked up first in the operator's override directory, then in the shipped
`templates/` tree, one sub-directory per flavour (`text`, `slack`, `discord`). All of them run
in Jinja2's sandbox, because an override directory is code written by someone else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from bot.core import grouping
from bot.core.countries import country_name, flag
from bot.core.events import Event

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""`bot/`: the templates sit in `bot/templates` (wheel) or beside the package (checkout)."""


@cache
def shipped_templates_dir() -> Path:
    """`bot/templates` inside an installed wheel, the repository's `templates/` otherwise."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("rankbot's templates directory is missing from this installation")


def human_tokens(value: int | float | None) -> str:
    """`1.7T`, `997B`, `84.3M`: three significant digits, trailing zeros dropped."""
    if value is None:
        return "–"
    n = float(value)
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        text = _three_significant(n / size)
        if float(text) >= 1:  # 999.96B rounds to 1T: the larger unit is tried first
            return f"{sign}{text}{unit}"
    return f"{sign}{int(n)}"


def _digits(x: float) -> int:
    return math.floor(math.log10(x)) + 1 if x > 0 else 1


def _three_significant(x: float) -> str:
    decimals = max(0, 3 - _digits(x))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.345 → `34.5%`."""
    if value is None:
        return "–"
    return f"{value * 100:.{digits}f}%"


def signed_percent(value: float | None, digits: int = 0) -> str:
    """A change already in percent: 52.0 → `+52%`."""
    if value is None:
        return "–"
    return f"{value:+.{digits}f}%"


def rank_arrow(move: int | None) -> str:
    """▲3 for three places up, ▼2 for two down, `new` for no earlier rank, `=` for none."""
    if move is None:
        return "new"
    if move > 0:
        return f"▲{move}"
    if move < 0:
        return f"▼{-move}"
    return "="


def cadence(period: str) -> str:
    return {"day": "daily", "week": "weekly", "month": "monthly"}.get(period, period)


def country_label(code: str | None) -> str:
    if not code:
        return "🌐 Unknown"
    return f"{flag(code)} {country_name(code)}"


def _date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def window(as_of: str | date, period: str) -> str:
    """What a snapshot covers: `11 Apr 2026`, `7 days to 11 Apr 2026`, `30 days to …`."""
    return grouping.window_label(period, _date(as_of))


def day(value: str | date) -> str:
    """A date as `11 Apr 2026`."""
    return grouping.day_label(_date(value))


def dates(first: str | date, last: str | date) -> str:
    """A span of dates: `19 Jan – 16 Feb 2026` (one date when both are the same)."""
    return grouping.date_span(_date(first), _date(last))


_AS_OF = re.compile(
    r"(as of )(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)"
)


def cite(attribution: str | None) -> str:
    """An attribution line with its `meta.as_of` readable: `as of 2026-05-11T02:00:00Z` reads
    `as of 2026-05-11 02:00 UTC`. Formatted here, at render time: the stored attribution (and
    the snapshot's content hash) keep the source's own text."""

    def readable(match: re.Match[str]) -> str:
        moment = datetime.fromisoformat(match[2])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return f"{match[1]}{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"

    return _AS_OF.sub(readable, attribution) if attribution else ""


FILTERS: Mapping[str, Any] = {
    "tokens": human_tokens,
    "pct": percent,
    "signed_pct": signed_percent,
    "arrow": rank_arrow,
    "flag": flag,
    "country": country_label,
    "country_name": country_name,
    "cadence": cadence,
    "window": window,
    "day": day,
    "dates": dates,
    "cite": cite,
}


class Renderer:
    """Renders events and views; `extra_filters` lets a flavour add its own (e.g. escaping)."""

    def __init__(
        self,
        override_dir: Path | None = None,
        *,
        extra_filters: Mapping[str, Any] | None = None,
    ) -> None:
        loaders = []
        if override_dir is not None:
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(FileSystemLoader(str(shipped_templates_dir())))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.env.filters.update(FILTERS)
        self.env.globals["under_heading"] = False
        """An event template leaves out its window when a grouped post's headline or section
        heading already names it (`grouped.j2` sets this to true around its events)."""
        if extra_filters:
            self.env.filters.update(extra_filters)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context).strip()

    def event(self, event: Event, flavour: str = "text") -> str:
        return self.render(f"{flavour}/{event.kind}.j2", e=_view(event), with_attribution=True)

    def group(
        self,
        events: Sequence[Event],
        flavour: str = "text",
        *,
        shown: int | None = None,
        note: str | None = None,
    ) -> str:
        """One post for a group of events, in sections (`bot.core.grouping`): only the first
        `shown` are rendered and the rest counted ("…and N more"), while the headline and the
        one citation line describe them all."""
        return self.render(f"{flavour}/grouped.j2", **group_context(events, shown, note))


def group_context(
    events: Sequence[Event], shown: int | None = None, note: str | None = None
) -> dict[str, Any]:
    """What a `grouped.j2` template sees: `sections` (each with `period`, `as_of` and its
    `events`) of the first `shown` events, `events` (the same, flat), `more` (left out),
    `span` (the whole post: `events`, `snapshots`, `first`, `last`, `period` when it is one
    snapshot), `citation` (the newest snapshot's attribution line) and `note`."""
    ordered = grouping.ordered(events)
    visible = ordered if shown is None else ordered[:shown]
    whole = grouping.span(ordered)
    return {
        "sections": [
            {
                "source": s.source,
                "period": s.period,
                "as_of": s.as_of.isoformat(),
                "events": [_view(e) for e in s.events],
            }
            for s in grouping.sections(visible)
        ],
        "events": [_view(e) for e in visible],
        "more": len(ordered) - len(visible),
        "span": {
            "events": whole.events,
            "snapshots": whole.snapshots,
            "first": whole.first.isoformat(),
            "last": whole.last.isoformat(),
            "period": whole.period,
        },
        "citation": grouping.citation(ordered) or "",
        "note": note or "",
    }


def _view(event: Event) -> dict[str, Any]:
    """What a template sees of an event: its flat dict, with `as_of` as text."""
    return event.to_dict()
