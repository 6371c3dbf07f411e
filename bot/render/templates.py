"""Turning events and views into text with Jinja2 templates, for every flavour of channel.

Templates are looked up first in the operator's override directory, then in the shipped
`templates/` tree, one sub-directory per flavour (`text`, `slack`, `discord`). All of them run
in Jinja2's sandbox, because an override directory is code written by someone else.

Every render is in one language (`lang`, English by default): Jinja2's i18n extension gives
the templates `{% trans %}` and `_()`, whose `gettext` comes from that language's catalogue
(`language_context`), and the filters (`tokens`, `country`, `date`, `when`, …) format in it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol, cast

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateRuntimeError,
    TemplateSyntaxError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from bot.core import grouping
from bot.core.countries import UNKNOWN, flag
from bot.core.countries import country_name as core_country_name
from bot.core.events import Event
from bot.core.text import T
from bot.errors import UsageError
from bot.i18n import DEFAULT, gettext_for, languages, say
from bot.i18n.formats import compact_tokens, dates, day_label, moment, window
from bot.i18n.formats import country_name as localized_country
from bot.i18n.formats import day as iso_day

log = logging.getLogger("rankbot.render")

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
"""`bot/`: the templates sit in `bot/templates` (wheel) or beside the package (checkout)."""


@cache
def shipped_templates_dir() -> Path:
    """`bot/templates` inside an installed wheel, the repository's `templates/` otherwise."""
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("rankbot's templates directory is missing from this installation")


def human_tokens(value: int | float | None, lang: str = DEFAULT) -> str:
    """`1.7T`, `997B`, `84.3M` (`1.7万亿`, `9970亿` in Chinese): three significant digits."""
    return compact_tokens(value, lang)


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


def rank_arrow(move: int | None, lang: str = DEFAULT) -> str:
    """▲3 for three places up, ▼2 for two down, `new` for no earlier rank, `=` for none."""
    if move is None:
        return say(T("new"), lang)
    if move > 0:
        return f"▲{move}"
    if move < 0:
        return f"▼{-move}"
    return "="


CADENCES = {"day": T("daily"), "week": T("weekly"), "month": T("monthly")}
PERIOD_WORDS = {"day": T("day"), "week": T("week"), "month": T("month")}


def period_word(period: str, lang: str = DEFAULT) -> str:
    known = PERIOD_WORDS.get(period)
    return say(known, lang) if known is not None else period


def cadence(period: str, lang: str = DEFAULT) -> str:
    known = CADENCES.get(period)
    return say(known, lang) if known is not None else period


def country_name(code: str, lang: str = DEFAULT) -> str:
    if code == UNKNOWN:
        return say(T("Unknown"), lang)
    return localized_country(code, lang, english=core_country_name(code))


def country_label(code: str | None, lang: str = DEFAULT) -> str:
    if not code:
        return "🌐 " + say(T("Unknown"), lang)
    return f"{flag(code)} {country_name(code, lang)}"


def _in_lang(function: Callable[..., str]) -> Callable[..., str]:
    """A filter that reads the render's language (`lang` in the context)."""

    @pass_context
    def filtered(context: Context, value: Any, *args: Any) -> str:
        return function(value, *args, lang=context.get("lang", DEFAULT))

    return filtered


@pass_context
def _moment(context: Context, value: Any) -> str:
    return moment(value, context.get("lang", DEFAULT), context.get("tz"))


@pass_context
def _aside(context: Context, e: Mapping[str, Any], style: str = "(") -> str:
    """The window an event names, unless a heading above it already does (a grouped post
    sets `under_heading`): ` (7 days to 16 Feb 2026)`, or with `style` "," the form that
    goes inside parentheses, `, 7 days to 16 Feb 2026`; in the render's language."""
    if context.get("under_heading"):
        return ""
    lang = context.get("lang", DEFAULT)
    shown = window(e["as_of"], e["period"], lang=lang)
    aside = T(", %(window)s", window=shown) if style == "," else T(" (%(window)s)", window=shown)
    return say(aside, lang)


def _verbatim(value: object) -> str:
    """Data shown as it is (plain text); chat flavours replace it with their escaping."""
    return str(value)


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
    "tokens": _in_lang(human_tokens),
    "pct": percent,
    "signed_pct": signed_percent,
    "arrow": _in_lang(rank_arrow),
    "flag": flag,
    "country": _in_lang(country_label),
    "country_name": _in_lang(country_name),
    "cadence": _in_lang(cadence),
    "period_word": _in_lang(period_word),
    "date": _in_lang(iso_day),
    "when": _moment,
    "md": _verbatim,
    "window": _in_lang(window),
    "day": _in_lang(day_label),
    "dates": _in_lang(dates),
    "cite": cite,
    "aside": _aside,
}


class _WithGettext(Protocol):
    """What `jinja2.ext.i18n` adds to an environment (mypy cannot see it)."""

    def install_gettext_callables(
        self, gettext: Callable[..., str], ngettext: Callable[..., str], *, newstyle: bool
    ) -> None: ...


MAX_OUTPUT_CHARS = 200_000
"""No template renders more than this (the longest real post is a few thousand characters):
a hostile override that loops cannot fill the memory."""


class TemplateTooLong(UsageError, TemplateRuntimeError):
    """A template rendered more than `MAX_OUTPUT_CHARS` (a Jinja2 error too, so what catches
    a template's failures catches this one)."""


class Renderer:
    """Renders events and views; `extra_filters` lets a flavour add its own (e.g. escaping).

    A template from the override directory that fails when rendered (an error the start-up
    check could not foresee, `bot.render.template_check`) is replaced by the built-in one of
    the same name, with a warning: a broken override must not block a channel's posts."""

    def __init__(
        self,
        override_dir: Path | None = None,
        *,
        extra_filters: Mapping[str, Any] | None = None,
    ) -> None:
        self.override_dir = override_dir
        self._extra_filters = extra_filters
        loaders = []
        if override_dir is not None:
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(FileSystemLoader(str(shipped_templates_dir())))
        self.env = self._environment(ChoiceLoader(loaders))
        self._builtin: SandboxedEnvironment | None = None

    def _environment(self, loader: BaseLoader) -> SandboxedEnvironment:
        env = SandboxedEnvironment(
            loader=loader,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
            extensions=["jinja2.ext.i18n"],
        )
        # New style: `{% trans %}` hands its values to the callables, which apply them after
        # translating; each render passes its language's callables in the context.
        cast(_WithGettext, env).install_gettext_callables(*gettext_for(DEFAULT), newstyle=True)
        env.filters.update(FILTERS)
        env.globals["under_heading"] = False
        """An event template leaves out its window when a grouped post's headline or section
        heading already names it (`grouped.j2` sets this to true around its events)."""
        if self._extra_filters:
            env.filters.update(self._extra_filters)
        return env

    def render(
        self, name: str, *, lang: str = DEFAULT, tz: str | None = None, **context: Any
    ) -> str:
        """Template `name` in language `lang` (times in zone `tz`)."""
        values = {**language_context(lang, tz), **context}
        try:
            return bounded_render(self.env.get_template(name), values)
        except Exception as exc:
            if self.override_dir is None or not _raised_in(exc, self.override_dir):
                raise
            builtin = self._builtin_env()
            try:
                template = builtin.get_template(name)
            except TemplateNotFound:
                raise exc from None
            log.warning(
                "template override %s does not render (%s): the built-in one is used",
                name,
                _reason(exc),
            )
            return bounded_render(template, values)

    def warm(self, flavour: str) -> Renderer:
        """Compile `flavour`'s templates (`text`, `slack`, `discord`) and load the number
        formats of every language, now (start-up), not at the first alert: a process's first
        fan-out compiled them on the event loop, its worst stall of the 5,000-webhook fan-out
        (115 ms; `benchmarks/loop_lag.py`). An override that does not compile is left to
        `render`, which falls back to the built-in template when it is asked for."""
        for name in self.env.list_templates():
            if name.startswith(f"{flavour}/"):
                try:
                    self.env.get_template(name)
                except TemplateError:
                    continue
        for lang in languages():
            compact_tokens(1, lang)
        return self

    def _builtin_env(self) -> SandboxedEnvironment:
        if self._builtin is None:
            self._builtin = self._environment(FileSystemLoader(str(shipped_templates_dir())))
        return self._builtin

    def event(self, event: Event, flavour: str = "text", *, lang: str = DEFAULT) -> str:
        return self.render(
            f"{flavour}/{event.kind}.j2", lang=lang, e=_view(event), with_attribution=True
        )

    def group(
        self,
        events: Sequence[Event],
        flavour: str = "text",
        *,
        shown: int | None = None,
        note: str | None = None,
        lang: str = DEFAULT,
    ) -> str:
        """One post for a group of events, in sections (`bot.core.grouping`): only the first
        `shown` are rendered and the rest counted ("…and N more"), while the headline and the
        one citation line describe them all; in `lang`."""
        return self.render(f"{flavour}/grouped.j2", lang=lang, **group_context(events, shown, note))


def bounded_render(template: Template, context: Mapping[str, Any]) -> str:
    """`template.render(context)`, stopped with `TemplateTooLong` beyond `MAX_OUTPUT_CHARS`."""
    parts: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateTooLong(f"renders more than {MAX_OUTPUT_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts).strip()


def _raised_in(exc: BaseException, directory: Path) -> bool:
    """Whether `exc` comes from a template file under `directory` (Jinja2 puts template
    files in tracebacks, and syntax errors carry their file)."""
    prefix = str(directory)
    if isinstance(exc, TemplateSyntaxError):
        return (exc.filename or "").startswith(prefix)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(prefix):
            return True
        tb = tb.tb_next
    return isinstance(exc, TemplateTooLong)


def _reason(exc: BaseException) -> str:
    where = f" line {exc.lineno}" if isinstance(exc, TemplateSyntaxError) else ""
    return f"{type(exc).__name__}{where}: {' '.join(str(exc).split())[:200]}"


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


def language_context(lang: str, tz: str | None = None) -> dict[str, Any]:
    """What a template's context needs to speak `lang`: the catalogue's `gettext` and
    `ngettext` (which `{% trans %}` and `_()` call, ahead of the English ones installed on
    the environment), and `lang` / `tz` for the filters."""
    gettext, ngettext = gettext_for(lang)
    return {"lang": lang, "tz": tz, "gettext": gettext, "_": gettext, "ngettext": ngettext}


def _view(event: Event) -> dict[str, Any]:
    """What a template sees of an event: its flat dict, with `as_of` as text."""
    return event.to_dict()
