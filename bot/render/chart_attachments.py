"""Charts as files: the `Attachment` a chart reply or an alert carries, and which alerts get one.

Building on `bot.render.charts` (the drawing): a PNG becomes an attachment named after what it
shows and the date of its data, and `EVENT_CHARTS` is the rule of which alert kinds carry a
picture (`bot.engine.planner` applies it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.countries import CountryTable
from bot.core.events import Event
from bot.core.messages import Attachment
from bot.core.model import Snapshot
from bot.core.text import T
from bot.i18n import DEFAULT, say
from bot.i18n.formats import day
from bot.render.charts import (
    DEFAULT_N,
    DEFAULT_WEEKS,
    ChartKind,
    NotEnoughHistory,
    chart_alt,
    chart_title,
    render_chart,
)

EVENT_CHARTS: Mapping[str, ChartKind] = {"new_leader": "trend", "country_flip": "countries"}
"""The picture an alert of each kind carries: the new leader's climb, the countries' shares."""


def alert_chart(
    event: Event, stream: Sequence[Snapshot], countries: CountryTable, lang: str = DEFAULT
) -> Attachment | None:
    """The chart an alert carries, from the history up to the event's date (a late retry
    shows what the alert is about, not newer weeks); None for kinds without a chart or while
    the history is too short to show a change. `stream` is the event's stream as stored.
    Drawn in the calling thread: the planner does this inside the poll's atomic write, for the
    rare alerts that carry a chart."""
    kind = EVENT_CHARTS.get(event.kind)
    if kind is None:
        return None
    history = [s for s in stream if s.as_of <= event.as_of]
    try:
        png = render_chart(kind, history, countries=countries, lang=lang)
    except NotEnoughHistory:
        return None
    return chart_attachment(kind, history[-DEFAULT_WEEKS:], png, countries=countries, lang=lang)


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
