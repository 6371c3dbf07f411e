"""Parsing command lines: pure, and every mistake becomes a `ParseError` with an example.

Why separate from `bot.commands.execute`: parsing is where untrusted text arrives, so it is
kept small, pure and exhaustively tested (a hypothesis test feeds it arbitrary lines). A
`ParseError` says what was wrong and carries a correct example, which the reply shows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from bot.core.local_time import (
    WEEKDAYS,
    Digest,
    QuietHours,
    ScheduleError,
    parse_duration,
    parse_hhmm,
    parse_tz,
)
from bot.core.model import PERIODS
from bot.core.subscription import SUBSCRIBABLE_KINDS
from bot.core.text import T, Text
from bot.errors import UsageError
from bot.i18n import languages, supported


class ParseError(UsageError):
    """A chat command line that cannot work: `problem` and a correct `example`, for the reply."""

    def __init__(self, problem: Text, example: str) -> None:
        super().__init__(problem.english())
        self.problem = problem
        self.example = example


@dataclass(frozen=True, slots=True)
class Usage:
    usage: str
    example: str
    summary: Text
    details: tuple[Text, ...] = ()
    manage: bool = False
    """Whether the command changes the channel's subscription (needs the manage right)."""


USAGE: dict[str, Usage] = {
    "top": Usage(
        "top [N] [week|day|month]",
        "top 5 week",
        T("the top N models by tokens, with changes since the previous snapshot"),
        (T("N: 1 to 25, default 10"), T("period: week (default), day or month")),
    ),
    "model": Usage(
        "model <query>",
        "model minimax m2.5",
        T("one model: rank, tokens, change, first seen and its last 8 snapshots"),
        (T("query: a model id or name, or part of one; close spellings are suggested"),),
    ),
    "countries": Usage(
        "countries",
        "countries",
        T("token totals and shares per country, unattributed volume, who leads since when"),
    ),
    "subscribe": Usage(
        "subscribe [kinds…] [filters…]",
        "subscribe new_leader top_entry top=5 exclude-author=openai",
        T("start or extend this channel's alerts (kinds are added; filters given replace theirs)"),
        (
            T(
                "kinds: %(kinds)s or all; default for a new channel: "
                "new_leader, country_flip, top_entry, top_exit, milestone",
                kinds=", ".join(SUBSCRIBABLE_KINDS),
            ),
            T(
                "source_health: one notice when the rankings source has been down for a day, "
                "one when it recovers"
            ),
            T("top=N: top N for entries, exits and rank moves, 1 to 50 (default 10)"),
            T("model= / exclude-model=: model id globs, comma-separated (openai/*, *-preview*)"),
            T("author= / exclude-author=: author slugs or globs (default: any)"),
            T("country= / exclude-country=: ISO codes like US, CN (default: any)"),
            T("min-move=N: places a rank_change must move (default: detection's 3)"),
            T("min-change=P: percent a surge or drop must reach (default: detection's 50)"),
            T("period=week,day,month: which rankings (default week)"),
            T("charts=on|off: attach charts (default on)"),
            T(
                "lang=%(langs)s: the language of this channel's alerts (default en)",
                langs="|".join(languages()),
            ),
            T("reset: back to the defaults before applying the rest"),
            T("an empty value (model=) clears that list; all filters must pass (AND)"),
        ),
        manage=True,
    ),
    "unsubscribe": Usage(
        "unsubscribe [kinds…|all]",
        "unsubscribe surge drop",
        T("stop some kinds of alerts, or all of them (the default) and forget the settings"),
        manage=True,
    ),
    "subscriptions": Usage(
        "subscriptions", "subscriptions", T("this channel's settings, who created them and when")
    ),
    "mute": Usage(
        "mute <duration>",
        "mute 2h",
        T(
            "drop alerts for a while (30m, 2h, 1h30m, 3d, 1w; at most 90 days); the channel is "
            "told how many were skipped when it ends"
        ),
        manage=True,
    ),
    "unmute": Usage("unmute", "unmute", T("end a mute now"), manage=True),
    "digest": Usage(
        "digest daily|weekly|off [day] [HH:MM] [tz]",
        "digest daily 09:00 Europe/Berlin",
        T("gather alerts into one message a day or a week instead of posting them at once"),
        (
            T("HH:MM: local time, default 09:00"),
            T("day: weekly digests only, mon to sun, default mon"),
            T("tz: IANA time zone, default the one set before, else UTC"),
            T("off: back to immediate delivery (the default)"),
        ),
        manage=True,
    ),
    "quiet": Usage(
        "quiet <HH:MM-HH:MM> [tz] | off",
        "quiet 22:00-07:00 Europe/Berlin",
        T("hold alerts during these local hours and post them grouped when they end"),
        (
            T("the range may cross midnight"),
            T("tz: IANA time zone, default UTC"),
            T("default: off"),
        ),
        manage=True,
    ),
    "status": Usage(
        "status",
        "status",
        T("last successful poll, source health, next poll, pause state and pending deliveries"),
    ),
    "resume": Usage("resume", "resume", T("resume deliveries to a paused channel"), manage=True),
    "test": Usage(
        "test",
        "test",
        T("post one sample alert here, marked as a test, to see how alerts look"),
        manage=True,
    ),
    "chart": Usage(
        "chart [trend|countries|ranks] [N] [weeks]",
        "chart trend 5 12",
        T("a picture of the history, posted in the channel"),
        (
            T("trend: tokens of the top N (default 5) over the last `weeks` snapshots"),
            T("countries: share of the known total for N countries (default 5)"),
            T("ranks: rank of the top N (default 10)"),
            T("weeks: 2 to 104, default 12"),
        ),
    ),
    "help": Usage("help [command]", "help subscribe", T("the commands, or one in detail")),
}

_ALIASES = {"subs": "subscriptions", "subscription": "subscriptions", "sub": "subscribe"}

_LIST_KEYS = {
    "model": "models",
    "exclude-model": "exclude_models",
    "author": "authors",
    "exclude-author": "exclude_authors",
    "country": "countries",
    "exclude-country": "exclude_countries",
}

_SINGULAR = {
    "models": "model",
    "exclude-models": "exclude-model",
    "authors": "author",
    "exclude-authors": "exclude-author",
    "countries": "country",
    "exclude-countries": "exclude-country",
    "periods": "period",
    "charts": "chart",
}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...]


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_TYPOGRAPHIC = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2018": None,
        "\u2019": None,
        "\u201c": None,
        "\u201d": None,
        "\u201e": None,
        "\u201a": None,
        "`": None,
    }
)


def clean(line: str) -> str:
    """What a person meant to type: chat clients insert zero-width characters and
    no-break spaces, turn quotes into smart quotes, and a command copied from a reply may
    bring its code-span backticks along. None of them can be part of a command."""
    return line.translate(_INVISIBLE).translate(_TYPOGRAPHIC)


def split(line: str) -> Command:
    """`top 5 week` → Command("top", ("5", "week")); an empty line asks for help."""
    words = clean(line).strip().lstrip("/").split()
    if words and words[0].lower() == "rankbot":
        words = words[1:]
    if not words:
        return Command("help", ())
    name = _ALIASES.get(words[0].lower(), words[0].lower())
    if name not in USAGE:
        near = difflib.get_close_matches(name, list(USAGE), n=1)
        hint = T(" Did you mean `%(near)s`?", near=near[0]) if near else ""
        raise ParseError(
            T(
                "Unknown command `%(word)s`.%(hint)s Commands: %(commands)s.",
                word=_clip(words[0]),
                hint=hint,
                commands=", ".join(USAGE),
            ),
            USAGE[near[0]].example if near else "help",
        )
    return Command(name, tuple(words[1:]))


def fail(command: str, problem: Text) -> ParseError:
    return ParseError(problem, USAGE[command].example)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(text: str, command: str, what: str, lo: int, hi: int | None) -> int:
    ok = text.isascii() and text.isdigit() and len(text) <= 6
    value = int(text) if ok else None
    if value is None or value < lo or (hi is not None and value > hi):
        if hi is None:
            problem = T(
                "%(what)s must be a whole number of at least %(lo)s, got `%(got)s`.",
                what=what,
                lo=lo,
                got=_clip(text),
            )
        else:
            problem = T(
                "%(what)s must be a whole number from %(lo)s to %(hi)s, got `%(got)s`.",
                what=what,
                lo=lo,
                hi=hi,
                got=_clip(text),
            )
        raise fail(command, problem)
    return value


def parse_top(args: tuple[str, ...]) -> tuple[int, str]:
    n, period = 10, "week"
    seen_n = seen_period = False
    for arg in args:
        low = arg.lower()
        if low in PERIODS and not seen_period:
            period, seen_period = low, True
        elif not seen_n and (low.isdigit() or low.lstrip("-").isdigit()):
            n, seen_n = _int(low, "top", "N", 1, 25), True
        else:
            raise fail(
                "top", T("`%(arg)s` is neither N (1 to 25) nor week, day or month.", arg=_clip(arg))
            )
    return n, period


def parse_kind(word: str, command: str) -> tuple[str, ...]:
    kind = word.lower().replace("-", "_")
    if kind == "all":
        return SUBSCRIBABLE_KINDS
    if kind not in SUBSCRIBABLE_KINDS:
        near = difflib.get_close_matches(kind, SUBSCRIBABLE_KINDS, n=1)
        hint = T(" Did you mean `%(near)s`?", near=near[0]) if near else ""
        kinds = ", ".join(SUBSCRIBABLE_KINDS)
        raise fail(
            command,
            T(
                "Unknown alert kind `%(word)s`.%(hint)s Kinds: %(kinds)s.",
                word=_clip(word),
                hint=hint,
                kinds=kinds,
            ),
        )
    return (kind,)


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    kinds: tuple[str, ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)
    """Changes to `Filters` fields."""
    periods: tuple[str, ...] | None = None
    charts: bool | None = None
    reset: bool = False
    lang: str | None = None


def parse_subscribe(args: tuple[str, ...]) -> SubscribeRequest:
    kinds: list[str] = []
    filters: dict[str, Any] = {}
    periods: tuple[str, ...] | None = None
    charts: bool | None = None
    lang: str | None = None
    reset = False
    for arg in args:
        key, sep, value = arg.partition("=")
        key = key.lower().replace("_", "-")
        key = _SINGULAR.get(key, key)
        if not sep:
            if arg.lower() == "reset":
                reset = True
            else:
                kinds.extend(k for k in parse_kind(arg, "subscribe") if k not in kinds)
        elif key in _LIST_KEYS:
            values = [v.strip() for v in value.split(",") if v.strip()]
            if "countr" in key:
                values = [_country(v) for v in values]
            previous = filters.get(_LIST_KEYS[key], ())
            filters[_LIST_KEYS[key]] = (*previous, *values) if values else ()
        elif key == "top":
            filters["top_n"] = _int(value, "subscribe", "top", 1, 50)
        elif key == "min-move":
            filters["min_move"] = _int(value, "subscribe", "min-move", 1, 50)
        elif key == "min-change":
            filters["min_change_pct"] = _percent(value)
        elif key == "period":
            periods = _periods(value)
        elif key == "chart":
            charts = _on_off(value)
        elif key in ("lang", "language"):
            lang = _lang(value)
        else:
            raise fail(
                "subscribe",
                T(
                    "Unknown filter `%(arg)s`. Filters: %(filters)s.",
                    arg=_clip(arg),
                    filters="top=, model=, exclude-model=, author=, exclude-author=, country=, "
                    "exclude-country=, min-move=, min-change=, period=, charts=, lang=",
                ),
            )
    return SubscribeRequest(tuple(kinds), filters, periods, charts, reset, lang)


def _lang(text: str) -> str:
    found = supported(text)
    if found is None:
        raise fail(
            "subscribe",
            T(
                "`%(text)s` is not a language rankbot speaks: %(langs)s.",
                text=_clip(text),
                langs=", ".join(languages()),
            ),
        )
    return found


def _country(text: str) -> str:
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    if text.lower() == "unknown":
        return "unknown"
    raise fail(
        "subscribe",
        T("`%(text)s` is not a two-letter country code like US or CN.", text=_clip(text)),
    )


def _percent(text: str) -> float:
    raw = text.strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 10_000 or value != value:
        raise fail(
            "subscribe",
            T("min-change must be a percentage above 0 like 50, got `%(text)s`.", text=_clip(text)),
        )
    return value


def _periods(text: str) -> tuple[str, ...]:
    chosen = [p.strip().lower() for p in text.split(",") if p.strip()]
    if not chosen or any(p not in PERIODS for p in chosen):
        raise fail(
            "subscribe",
            T(
                "period must be week, day or month (comma-separated), got `%(text)s`.",
                text=_clip(text),
            ),
        )
    return tuple(p for p in PERIODS if p in chosen)


def _on_off(text: str) -> bool:
    low = text.lower()
    if low in ("on", "yes", "true"):
        return True
    if low in ("off", "no", "false"):
        return False
    raise fail("subscribe", T("charts must be on or off, got `%(text)s`.", text=_clip(text)))


def parse_unsubscribe(args: tuple[str, ...]) -> tuple[str, ...] | None:
    """The kinds to stop, or None for everything."""
    if not args or any(a.lower() == "all" for a in args):
        return None
    kinds: list[str] = []
    for arg in args:
        kinds.extend(k for k in parse_kind(arg, "unsubscribe") if k not in kinds)
    return tuple(kinds)


def parse_mute(args: tuple[str, ...]) -> timedelta:
    if len(args) != 1:
        raise fail("mute", T("Say for how long, as one duration like 30m, 2h, 1h30m, 3d or 1w."))
    try:
        return parse_duration(args[0])
    except ValueError as exc:
        raise fail("mute", _schedule_problem(exc)) from exc


def parse_digest(args: tuple[str, ...], default_tz: str) -> Digest | None:
    """A digest setting, or None for `off` (immediate delivery)."""
    if not args:
        raise fail("digest", T("Say daily, weekly or off."))
    mode = args[0].lower()
    if mode == "off" and len(args) == 1:
        return None
    if mode not in ("daily", "weekly"):
        raise fail("digest", T("`%(arg)s` is not daily, weekly or off.", arg=_clip(args[0])))
    at, tz, day = time(9, 0), default_tz, 0
    for arg in args[1:]:
        low = arg.lower()[:3]
        try:
            if ":" in arg:
                at = parse_hhmm(arg)
            elif mode == "weekly" and low in WEEKDAYS and arg.isalpha():
                day = WEEKDAYS.index(low)
            else:
                tz = parse_tz(arg)
        except ValueError as exc:
            raise fail("digest", _schedule_problem(exc)) from exc
    return Digest(mode, at, tz, day)


def parse_quiet(args: tuple[str, ...], default_tz: str) -> QuietHours | None:
    """Quiet hours, or None for `off`."""
    if len(args) == 1 and args[0].lower() == "off":
        return None
    if not 1 <= len(args) <= 2:
        raise fail(
            "quiet", T("Give one local range like 22:00-07:00, optionally a time zone, or off.")
        )
    try:
        return QuietHours.parse(args[0], args[1] if len(args) == 2 else default_tz)
    except ValueError as exc:
        raise fail("quiet", _schedule_problem(exc)) from exc


def _schedule_problem(exc: ValueError) -> Text:
    """A duration, time or zone the core's schedule parser refused, with its reason."""
    reason = exc.text if isinstance(exc, ScheduleError) else str(exc)
    return T("%(reason)s.", reason=reason)
