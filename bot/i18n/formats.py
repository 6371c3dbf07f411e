"""Numbers, dates and country names in a language, from Babel's CLDR data.

Token figures are compact: `1.7T` / `997B` in English, `1.7万亿` / `9970亿` in Chinese
(Chinese counts in 万 = 10⁴ and 亿 = 10⁸, not in thousands). The figure is first rounded to
three significant digits exactly as rankbot always did (the scaled value formatted with
`%.Nf`, the larger unit tried first, so 999.96B is `1T`), then Babel's compact decimal
formatting picks the unit and pattern of the language. English output is unchanged by the
move to Babel; a test pins the rounding edges.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_interval, format_time
from babel.numbers import format_compact_decimal

from bot.core import grouping
from bot.core.model import WINDOW_DAYS
from bot.i18n.languages import DEFAULT, babel_locale

_ROUNDING_UNITS = (10**12, 10**9, 10**6, 10**3)
"""Where three significant digits are counted from: the thousands grouping. The unit shown
is the language's own (Babel); rounding first keeps every language equally precise."""


def _digits(x: float) -> int:
    return math.floor(math.log10(x)) + 1 if x > 0 else 1


def _three_significant(x: float) -> str:
    decimals = max(0, 3 - _digits(x))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def rounded_tokens(n: float) -> Decimal:
    """`n` (≥ 0) at three significant digits, as an exact decimal."""
    for size in _ROUNDING_UNITS:
        text = _three_significant(n / size)
        if float(text) >= 1:  # 999.96B rounds to 1T: the larger unit is tried first
            return Decimal(text) * size
    return Decimal(int(n))


@lru_cache(maxsize=8192)
def compact_tokens(value: int | float | None, lang: str = DEFAULT) -> str:
    """A token figure, compact in the reader's language; `–` when unknown.

    Cached: Babel's formatting costs about 25 µs a figure, ten times the old hand-made
    table, and a message is rendered several times while it is fitted into a platform's
    limits, with the same figures each time (`python benchmarks/i18n.py`)."""
    if value is None:
        return "–"
    n = float(value)
    sign = "-" if n < 0 else ""
    figure = format_compact_decimal(
        rounded_tokens(abs(n)), locale=babel_locale(lang), fraction_digits=3
    )
    return sign + figure


def country_name(code: str, lang: str = DEFAULT, english: str | None = None) -> str:
    """A territory's name in `lang` from CLDR (`CN` → `中国`); English keeps rankbot's own
    short names (`english`), so its output does not change."""
    if lang == DEFAULT and english is not None:
        return english
    names = babel_locale(lang).territories
    return str(names.get(code.upper(), english or code.upper()))


def _zone(tz: str | None) -> ZoneInfo | None:
    if not tz or tz == "UTC":
        return None
    return ZoneInfo(tz)


def day(value: str | date | None, lang: str = DEFAULT) -> str:
    """A data date (`as_of`): ISO in English as always, the locale's long form otherwise
    (`2026年2月16日`)."""
    if value is None or value == "":
        return ""
    moment = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if lang == DEFAULT:
        return moment.isoformat()
    return format_date(moment, "long", locale=babel_locale(lang))


def moment(value: str | datetime | None, lang: str = DEFAULT, tz: str | None = None) -> str:
    """A point in time in the channel's zone: `2026-05-11 02:00 UTC` in English (as always),
    `2026年5月11日 10:00 (Asia/Shanghai)` in Chinese."""
    if value is None or value == "":
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    zone = _zone(tz)
    local = when.astimezone(zone) if zone is not None else when.astimezone(UTC)
    label = tz if zone is not None else "UTC"
    if lang == DEFAULT:
        return f"{local:%Y-%m-%d %H:%M} {label}"
    locale = babel_locale(lang)
    shown_date = format_date(local.date(), "long", locale=locale)
    return f"{shown_date} {format_time(local, 'HH:mm', locale=locale)} ({label})"


def day_label(value: str | date, lang: str = DEFAULT) -> str:
    """A day as grouped posts name it: `11 Apr 2026` (unambiguous in every locale), the
    locale's long form otherwise (`2026年4月11日`)."""
    moment_ = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    if lang == DEFAULT:
        return grouping.day_label(moment_)
    return format_date(moment_, "long", locale=babel_locale(lang))


def dates(first: str | date, last: str | date, lang: str = DEFAULT) -> str:
    """A span of days: `19 Jan – 16 Feb 2026`, `2026年1月19日至2月16日` (one day when both are
    the same)."""
    a = date.fromisoformat(first[:10]) if isinstance(first, str) else first
    b = date.fromisoformat(last[:10]) if isinstance(last, str) else last
    if lang == DEFAULT:
        return grouping.date_span(a, b)
    if a == b:
        return day_label(b, lang)
    return str(format_interval(a, b, "yMMMd", locale=babel_locale(lang)))


def window(as_of: str | date, period: str, lang: str = DEFAULT) -> str:
    """What a snapshot covers: `7 days to 11 Apr 2026`; in Chinese `截至2026年4月11日的7天`."""
    day_ = date.fromisoformat(as_of[:10]) if isinstance(as_of, str) else as_of
    if lang == DEFAULT:
        return grouping.window_label(period, day_)
    days = WINDOW_DAYS.get(period, 1)
    if days == 1:
        return day_label(day_, lang)
    from bot.i18n.languages import translations

    template = translations(lang).ngettext("%(n)s day to %(day)s", "%(n)s days to %(day)s", days)
    return template % {"n": days, "day": day_label(day_, lang)}
