"""Languages: which ones rankbot speaks, their gettext catalogues, and `Text` in a language.

Why a package of its own, below `bot.render`: catalogues are files (I/O), so they stay out of
the pure core, and both the templates (`bot.render`) and the shell's Python code (commands,
planner, CLI) need them.

Adding a language is a catalogue, not code: `pybabel init -D rankbot -i bot/locale/rankbot.pot
-d bot/locale -l ja` creates `bot/locale/ja/LC_MESSAGES/rankbot.po`; once translated, `ja` is
accepted by `subscribe lang=ja`, chosen for Discord and Slack users whose client is Japanese,
and used for numbers, dates and country names through Babel's CLDR data (docs/i18n.md).

The `.po` files are the only form kept: they are compiled in memory when first used (Babel's
`write_mo`), so no compiled `.mo` can be stale or missing from a checkout or a wheel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.core.text import Dates, Text, Value
from bot.i18n.formats import dates, moment
from bot.i18n.languages import (
    DEFAULT,
    babel_locale,
    gettext_for,
    lang_or_default,
    languages,
    supported,
    translations,
)

__all__ = [
    "DEFAULT",
    "babel_locale",
    "gettext_for",
    "lang_or_default",
    "languages",
    "say",
    "supported",
    "translations",
]


def say(text: Text | str | None, lang: str = DEFAULT, tz: str | None = None) -> str:
    """`text` in `lang`: the translated message with its values (themselves translated;
    times in the zone `tz`, UTC by default)."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    catalogue = translations(lang)
    if text.plural is not None:
        template = catalogue.ngettext(text.msgid, text.plural, text.n or 0)
    else:
        template = catalogue.gettext(text.msgid)
    values = _values(text.params, lang, tz)
    return template % values if values or text.n is not None else template


def _values(params: Mapping[str, Value], lang: str, tz: str | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, Text):
            out[key] = say(value, lang, tz)
        elif isinstance(value, datetime):
            out[key] = moment(value, lang, tz)
        elif isinstance(value, Dates):
            out[key] = dates(value.first, value.last, lang)
        else:
            out[key] = value
    return out
