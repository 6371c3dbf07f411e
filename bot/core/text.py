"""Words the bot says, as message ids with their values: translated by the shell, never here.

The core decides *what* to say (a confirmation, a parse error, a settings line) but not in
which language: that depends on who reads it (a channel's `lang`, a caller's locale), which
only the shell knows. So the core returns `Text` values, an English message id plus named
values, and `bot.i18n` renders them with the reader's gettext catalogue. `T` and `TN` are the
keywords `pybabel extract` looks for (see `bot/locale/babel.cfg`), so every message written
here lands in the catalogues, and a test fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Union


@dataclass(frozen=True, slots=True)
class Dates:
    """A span of days (`19 Jan – 16 Feb 2026`), said in the reader's format."""

    first: date
    last: date


Value = Union[str, int, float, datetime, Dates, "Text", None]
"""A `datetime` is shown in the reader's format and the channel's time zone, `Dates` in the
reader's format."""


@dataclass(frozen=True, slots=True)
class Text:
    """`msgid % params`, translated first; `plural` and `n` for messages that count."""

    msgid: str
    params: Mapping[str, Value] = field(default_factory=dict)
    plural: str | None = None
    n: int | None = None

    def english(self) -> str:
        """The text in the source language, without any catalogue (logs, tests)."""
        template = self.msgid if self.plural is None or self.n == 1 else self.plural
        values = {k: _english(v) for k, v in self.params.items()}
        return template % values if values or self.n is not None else template


def _english(value: Value) -> object:
    if isinstance(value, Text):
        return value.english()
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, Dates):
        from bot.core.grouping import date_span  # the English form, defined with the sections

        return date_span(value.first, value.last)
    return value


def T(msgid: str, **params: Value) -> Text:
    """A message to translate; `%(name)s` placeholders take `params`."""
    return Text(msgid, params)


def TN(singular: str, plural: str, n: int, **params: Value) -> Text:
    """A message whose wording depends on the count `n` (available as `%(n)s`)."""
    return Text(singular, {"n": n, **params}, plural, n)


def joined(parts: list[Text | str], sep: str = " ") -> Text:
    """Several texts as one (each is translated on its own)."""
    values: dict[str, Value] = {f"p{i}": part for i, part in enumerate(parts)}
    return Text(sep.join(f"%(p{i})s" for i in range(len(parts))), values, None, None)
