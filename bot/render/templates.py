"""Turning events and views into text with Jinja2 templates, for every flavour of channel.

Templates are looked up first in the operator's override directory, then in the shipped
`templates/` tree, one sub-directory per flavour (`text`, `slack`, `discord`). All of them run
in Jinja2's sandbox, because an override directory is code written by someone else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

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


FILTERS: Mapping[str, Any] = {
    "tokens": human_tokens,
    "pct": percent,
    "signed_pct": signed_percent,
    "arrow": rank_arrow,
    "flag": flag,
    "country": country_label,
    "country_name": country_name,
    "cadence": cadence,
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
        if extra_filters:
            self.env.filters.update(extra_filters)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context).strip()

    def event(self, event: Event, flavour: str = "text") -> str:
        return self.render(f"{flavour}/{event.kind}.j2", e=_view(event), with_attribution=True)

    def group(self, events: Sequence[Event], flavour: str = "text", *, more: int = 0) -> str:
        """One message for several events of a snapshot; `more` counts events left out."""
        views = [_view(e) for e in events]
        attributions = sorted({e.attribution for e in events if e.attribution})
        return self.render(
            f"{flavour}/grouped.j2", events=views, more=more, attributions=attributions
        )


def _view(event: Event) -> dict[str, Any]:
    """What a template sees of an event: its flat dict, with `as_of` as text."""
    return event.to_dict()
