"""Charts as files: the `Attachment` a chart reply or an alert carries, and which alerts get one.

Building on `bot.render.charts` (the drawing): a PNG becomes an attachment named after what it
shows and the date of its data, and `EVENT_CHARTS` is the rule of which alert kinds carry a
picture (`bot.engine.planner` applies it, `bot.engine.alert_charts` draws it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.countries import CountryTable
from bot.core.messages import Attachment
from bot.core.model import Snapshot
from bot.core.text import T
from bot.i18n import DEFAULT, say
from bot.i18n.formats import day
from bot.render.charts import (
    DEFAULT_N,
    ChartKind,
    chart_alt,
    chart_title,
)

EVENT_CHARTS: Mapping[str, ChartKind] = {"new_leader": "trend", "country_flip": "countries"}
"""The picture an alert of each kind carries: the new leader's climb, the countries' shares."""


def chart_attachment(
    kind: ChartKind,
    history: Sequence[Snapshot],
    png: bytes,
    *,
    countries: CountryTable,
    n: int | None = None,
    lang: str = DEFAULT,
) -> Attachment:
    """The PNG as a file named after what it shows and the date of its data, with its title
    and a sentence saying what it shows, in `lang`."""
    latest = max(history, key=lambda s: s.as_of)
    shown = min(DEFAULT_N[kind] if n is None else n, len(latest.entries))
    title = T(
        "%(title)s, as of %(date)s",
        title=chart_title(kind, shown, latest.period, lang),
        date=day(latest.as_of, lang),
    )
    return Attachment(
        filename=f"rankbot-{kind}-{latest.source}-{latest.period}-{latest.as_of.isoformat()}.png",
        content=png,
        title=say(title, lang),
        alt=chart_alt(kind, history, n=n, countries=countries, lang=lang),
    )
