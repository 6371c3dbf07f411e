"""Checking the operator's template overrides (`[templates] dir`) before the bot starts.

An override is code someone else wrote: a syntax error, a filter that does not exist, a
loop that prints a gigabyte. Found at send time, it used to fail the post again at every
retry and block the channel behind it. Now `rankbot run` and `rankbot poll` check every
override first: each file compiles, and each alert template renders a sample event of every
kind (and a grouped post of all of them) in the sandbox, within `MAX_OUTPUT_CHARS`. A bad
one stops the start with one line naming the file. What still fails later falls back to the
built-in template (`Renderer.render`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, Event, baseline, detect
from bot.core.model import Snapshot
from bot.errors import ConfigError
from bot.render.templates import (
    MAX_OUTPUT_CHARS,
    Renderer,
    bounded_render,
    group_context,
    language_context,
)

FLAVOURS = ("text", "slack", "discord")
B = 10**9


def _identity(value: Any, *args: Any, **kwargs: Any) -> str:
    return str(value)


CHECK_FILTERS = {"md": _identity, "code": _identity}
"""The flavours' own filters (escaping), by name: what they return does not matter here."""


def sample_events() -> list[Event]:
    """One poll that produces an event of every kind (`bot.core.events.KINDS`)."""
    before = {"google/g": 900 * B, "openai/o": 800 * B, "stealth/s": 50 * B}
    before.update({f"openai/x{i}": (60 - i) * B for i in range(10)})
    after = {"google/g": 800 * B, "minimax/m": 1500 * B, "openai/o": 100 * B, "stealth/s": 50 * B}
    after.update({f"openai/x{i}": (60 - i) * B for i in range(10)})
    after.update({"openai/x9": 120 * B, "deepseek/d": 900 * B})

    def snap(day: date, figures: dict[str, int]) -> Snapshot:
        entries = [{"model": m, "tokens": t} for m, t in figures.items()]
        return Snapshot.create(
            source="openrouter",
            period="week",
            as_of=day.isoformat(),
            entries=entries,
            attribution="Source: OpenRouter (openrouter.ai/rankings).",
        )

    first, second = snap(date(2026, 1, 5), before), snap(date(2026, 1, 12), after)
    params, countries = DetectParams(rank_move=1), shipped_table()
    events, _ = detect(
        baseline(first, params, countries),
        first,
        second,
        params=params,
        countries=countries,
        known_models=set(before),
    )
    return list(events)


def check_overrides(override_dir: Path | None) -> None:
    """Raise `ConfigError` naming the first override that does not compile or render."""
    if override_dir is None:
        return
    renderer = Renderer(override_dir, extra_filters=CHECK_FILTERS)
    files = sorted(p for p in override_dir.rglob("*.j2") if p.is_file())
    for path in files:
        name = path.relative_to(override_dir).as_posix()
        with _refused(path):
            renderer.env.get_template(name)
    events = sample_events()
    overridden = {p.relative_to(override_dir).as_posix() for p in files}
    for flavour in FLAVOURS:
        for name, context in _samples(flavour, events):
            if name in overridden:
                with _refused(override_dir / name):
                    bounded_render(
                        renderer.env.get_template(name), {**language_context("en"), **context}
                    )


def _samples(flavour: str, events: list[Event]) -> Iterator[tuple[str, dict[str, Any]]]:
    for event in events:
        context = {"e": event.to_dict(), "with_attribution": True}
        yield f"{flavour}/{event.kind}.j2", context
    yield f"{flavour}/grouped.j2", group_context(events)


@contextlib.contextmanager
def _refused(path: Path) -> Iterator[None]:
    """Turn what a template raises into the one line that names its file."""
    try:
        yield
    except Exception as exc:
        syntax = isinstance(exc, TemplateSyntaxError)
        line = f" line {exc.lineno}" if isinstance(exc, TemplateSyntaxError) else ""
        what = " ".join(str(exc).split())[:300] or type(exc).__name__
        if not isinstance(exc, TemplateError):
            what = f"{type(exc).__name__}: {what}"
        raise ConfigError(
            f"template override {path}{line} does not {'compile' if syntax else 'render'} "
            f"({what}); fix it, or remove it to use the built-in one (at most "
            f"{MAX_OUTPUT_CHARS:,} characters of output)"
        ) from None
