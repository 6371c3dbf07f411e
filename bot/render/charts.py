"""Charts of the stored history, drawn to PNG: plain snapshots in, image bytes out.

This is core code: no store, no clock, no global matplotlib state. Each call builds its own
`matplotlib.figure.Figure` (never pyplot, so no backend or current-figure state) and can run
in a worker process while the bot's event loop keeps answering (`bot.render.chart_pool`). The
same input gives a byte-identical PNG (fixed size and dpi, no Software stamp), which is what
makes the pictures testable and lets a sender deduplicate uploads.

Three kinds:

- `trend`: tokens per period of the latest top N models, one line each;
- `countries`: each developer country's share of the tokens whose country is known, as a
  100 % stacked area, with the points where the leading country changed marked; the
  volume without a known country (cloaked or unmapped authors) is left out, and its size
  is said beside the legend;
- `ranks`: a bump chart of the latest top N's ranks, rank 1 on top.

Colours come from Paul Tol's colour-blind-safe "muted" palette, chosen per model from a hash of
its id so a model keeps its colour from chart to chart; within one chart a clash moves the
lower-ranked model to the next free colour (then to a dashed line once all nine are taken).
"""

from __future__ import annotations

import hashlib
import math
import textwrap
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, cast

from bot.core.countries import CountryBalance, CountryTable, balance
from bot.core.model import Entry, Snapshot
from bot.core.text import TN, T, Text
from bot.errors import UsageError
from bot.i18n import DEFAULT, babel_locale, say
from bot.render.chart_fonts import font_families, renders
from bot.render.png import encode_rgba
from bot.render.templates import cadence, country_name, human_tokens, period_word

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ChartKind = Literal["trend", "countries", "ranks"]
KINDS: tuple[ChartKind, ...] = ("trend", "countries", "ranks")

WIDTH_PX, HEIGHT_PX = 1200, 675
"""16:9, shown uncropped by Slack and Discord previews and sharp when opened full size."""
_DPI = 150
"""8 × 4.5 inches at 150 dpi: point sizes stay legible after the chat preview scales down."""

DEFAULT_N: Mapping[ChartKind, int] = {"trend": 5, "countries": 5, "ranks": 10}
"""Lines (or countries) drawn when the caller gives no N: more than that becomes spaghetti."""
DEFAULT_WEEKS = 12
MIN_SNAPSHOTS = 2
"""A chart of one reading shows no change; below this `NotEnoughHistory` is raised."""
MAX_N = 20
MAX_WEEKS = 104
MAX_COUNTRIES = 8
"""Countries beyond this are summed into "Other" so each area keeps a distinct colour."""

PALETTE: tuple[str, ...] = (
    "#332288",  # indigo
    "#CC6677",  # rose
    "#117733",  # green
    "#1F78A8",  # cyan, darkened
    "#882255",  # wine
    "#2E7D6F",  # teal, darkened
    "#7A7A29",  # olive, darkened
    "#AA4499",  # purple
    "#B06A1F",  # sand, darkened towards ochre (apart from the olive)
)
"""Paul Tol's "muted" qualitative scheme (distinguishable with the common colour-vision
deficiencies), with its four pale members (cyan, teal, olive, sand) darkened in the same hue
so that every line and area has at least 3:1 contrast with the white background (WCAG's
non-text contrast); `tests/render/test_charts.py` checks the ratio of each."""
_LINESTYLES = ("-", "--", ":")
_MARKERS = ("o", "s", "^")
_COUNTRY_COLOURS: Mapping[str, str] = {"US": "#332288", "CN": "#CC6677"}
"""The two countries that lead the rankings get fixed, strongly contrasting colours."""
_OTHER_COLOUR = "#767676"
"""The grey of "Other": the lightest grey with 4.5:1 on white."""

_INK, _MUTED, _GRID = "#222222", "#666666", "#E6E6E6"
# Figure-fraction layout: the axes sit left, legends and direct labels use the right strip.
_AXES_RECT = (0.085, 0.15, 0.6, 0.66)
_WIDE_LABELS_RECT = (0.12, 0.15, 0.565, 0.66)
_LABEL_CHAR = 0.012
"""Rough width of one 7.5 pt character as a fraction of the axes width, to keep flip labels
from overlapping without a draw pass."""
_LEGEND_X = 1.03


_RENDER_LOCK = threading.Lock()

AxisDates = Any
"""Dates on a matplotlib axis. matplotlib converts `date`s itself (that is how an axis gets
date units and date ticks), but its type stubs admit only numbers and arrays, so to the type
checker these lists are `Any`."""


class ChartError(UsageError, ValueError):
    """A chart that cannot be drawn from this input; `text` says why, in any language (the
    exception's own message is its English, for the CLI and logs)."""

    def __init__(self, text: Text | str) -> None:
        self.text = text
        super().__init__(text.english() if isinstance(text, Text) else text)


class NotEnoughHistory(ChartError):
    """Fewer stored snapshots than a chart needs to show a change."""


@dataclass(frozen=True, slots=True)
class Style:
    """How one series is drawn (see `style_for`)."""

    color: str
    linestyle: str
    marker: str


def default_n(kind: str) -> int:
    """The N drawn when the caller gives none (5 for a kind this module does not draw)."""
    return next((n for k, n in DEFAULT_N.items() if k == kind), 5)


def chart_title(kind: ChartKind, n: int, period: str, lang: str = DEFAULT) -> str:
    """The headline of a chart, also used as the text of the message that carries it."""
    every = cadence(period, lang)
    if kind == "trend":
        text = T("%(cadence)s tokens of the top %(n)s models", cadence=every.capitalize(), n=n)
    elif kind == "countries":
        text = T("Share of %(cadence)s tokens by developer country", cadence=every)
    else:
        text = T("%(cadence)s rank of the top %(n)s models", cadence=every.capitalize(), n=n)
    return say(text, lang)


def render_chart(
    kind: str,
    snapshots: Sequence[Snapshot],
    *,
    n: int | None = None,
    weeks: int = DEFAULT_WEEKS,
    countries: CountryTable,
    lang: str = DEFAULT,
) -> bytes:
    """A PNG of `kind` over the last `weeks` snapshots of one stream (oldest first or not),
    its words in `lang`.

    `weeks` counts snapshots, so for daily data it means days. Raises `ChartError` for
    arguments out of range and `NotEnoughHistory` when fewer than two snapshots are given.
    """
    chart = _check_kind(kind)
    count = DEFAULT_N[chart] if n is None else n
    if not 1 <= count <= MAX_N:
        raise ChartError(f"N must be from 1 to {MAX_N}, got {count}")
    if not MIN_SNAPSHOTS <= weeks <= MAX_WEEKS:
        raise ChartError(f"weeks must be from {MIN_SNAPSHOTS} to {MAX_WEEKS}, got {weeks}")
    window = _window(chart, snapshots, weeks)

    # Imported here, not at the top: matplotlib takes most of a second to import, and every
    # `rankbot` command line imports this module through the parser.
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # matplotlib does not promise thread safety (its font caches are shared), so renders
    # from several worker threads take turns; they hold the GIL most of the time anyway.
    # The font list is set for this render only: DejaVu Sans first (Latin text looks as it
    # always did), then a CJK font when one is installed, for names in other scripts.
    words = [chart_title(chart, count, window[-1].period, lang)]
    words += [e.name for s in window[-1:] for e in s.top(max(count, MAX_COUNTRIES))]
    with _RENDER_LOCK, rc_context({"font.family": font_families(*words)}):
        fig = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI, facecolor="white")
        # Chinese tick labels (`1.75万亿`) are wider than `1.75T`: the axes move right a
        # little so the axis label stays on the picture
        ax = fig.add_axes(_AXES_RECT if lang == DEFAULT else _WIDE_LABELS_RECT)
        _style_axes(ax)
        if chart == "trend":
            shown, subtitle = _trend(ax, window, count, lang)
        elif chart == "countries":
            shown, subtitle = _countries(ax, window, count, countries, lang)
        else:
            shown, subtitle = _ranks(ax, window, count, lang)
        _date_axis(ax, [s.as_of for s in window], fill=chart == "countries", lang=lang)
        _frame(fig, chart_title(chart, shown, window[-1].period, lang), subtitle, window)
        # drawn by Agg, encoded by `bot.render.png` (a third of Pillow's cost, see there)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # type: ignore[no-untyped-call]  # matplotlib leaves it unannotated
        width, height = canvas.get_width_height()
        pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]  # likewise
        return encode_rgba(pixels, width, height, dpi=_DPI)


def style_for(keys: Sequence[str], preferred: Mapping[str, str] | None = None) -> dict[str, Style]:
    """Styles for `keys` in priority order: each key starts at the colour its hash picks
    (or its `preferred` colour), and a key that clashes with an earlier one takes the next
    free colour, then the same colours dashed, then dotted."""
    fixed = dict(preferred or {})
    used: set[tuple[str, int]] = {(c, 0) for c in fixed.values()}
    styles: dict[str, Style] = {}
    for key in keys:
        if key in fixed:
            styles[key] = Style(fixed[key], _LINESTYLES[0], _MARKERS[0])
            continue
        start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
        for slot in range(len(PALETTE) * len(_LINESTYLES)):
            variant, offset = divmod(slot, len(PALETTE))
            color = PALETTE[(start + offset) % len(PALETTE)]
            if (color, variant) not in used:
                break
        else:  # more keys than styles: repeat, as a last resort
            color, variant = PALETTE[start % len(PALETTE)], 0
        used.add((color, variant))
        styles[key] = Style(color, _LINESTYLES[variant], _MARKERS[variant])
    return styles


# --- input checks ---------------------------------------------------------------------------


def _check_kind(kind: str) -> ChartKind:
    for known in KINDS:
        if kind == known:
            return known
    raise ChartError(f"unknown chart kind {kind!r}: choose {', '.join(KINDS)}")


def _window(kind: ChartKind, snapshots: Sequence[Snapshot], weeks: int) -> list[Snapshot]:
    streams = {(s.source, s.period) for s in snapshots}
    if len(streams) > 1:
        shown = ", ".join(f"{src} {per}" for src, per in sorted(streams))
        raise ChartError(f"a chart draws one stream, got snapshots of {shown}")
    ordered = sorted(snapshots, key=lambda s: s.as_of)[-weeks:]
    if len(ordered) < MIN_SNAPSHOTS:
        if not ordered:
            held: Text = T("none are stored yet")
        else:
            only = ordered[0]
            held = T(
                "only 1 is stored (%(stream)s, %(date)s)",
                stream=" ".join((only.source, only.period)),
                date=only.as_of.isoformat(),
            )
        raise NotEnoughHistory(
            T(
                "not enough history for a %(kind)s chart: it needs at least %(min)s "
                "snapshots and %(held)s. Charts fill in as the poller stores new readings; "
                "`rankbot replay FILE --db PATH` loads a saved history.",
                kind=kind,
                min=MIN_SNAPSHOTS,
                held=held,
            )
        )
    return ordered


# --- the three kinds ------------------------------------------------------------------------


def _trend(ax: Axes, window: list[Snapshot], n: int, lang: str) -> tuple[int, str]:
    latest = window[-1]
    top = latest.top(n)
    styles = style_for([e.model for e in top])
    dates: AxisDates = [s.as_of for s in window]
    marker_size = 3.5 if len(window) <= 26 else 0.0
    highest = 0.0
    rows: list[_KeyRow] = []
    for entry in top:
        style = styles[entry.model]
        values = [_tokens(s, entry.model) for s in window]
        highest = max([highest, *(v for v in values if not math.isnan(v))])
        figure = ("≥" if entry.lower_bound else "") + human_tokens(entry.tokens, lang)
        new = say(T(" (new)"), lang) if all(math.isnan(v) for v in values[:-1]) else ""
        ax.plot(
            dates,
            values,
            color=style.color,
            linestyle=style.linestyle,
            marker=style.marker,
            markersize=marker_size,
            linewidth=1.8,
        )
        label = f"{entry.rank}. {_short(_name(entry))}  {figure}{new}"
        rows.append(_KeyRow(label, style.color, style.linestyle, style.marker, marker_size))
        # the latest figure always gets a dot, even where the line has no markers
        ax.plot(dates[-1:], values[-1:], color=style.color, marker=style.marker, markersize=4.5)
    ax.set_ylim(0, highest * 1.08 if highest else 1)  # headroom: the top line never hugs the edge
    ax.yaxis.set_major_formatter(lambda value, _pos: human_tokens(value, lang))
    ylabel = T("tokens per %(period)s", period=period_word(latest.period, lang))
    ax.set_ylabel(say(ylabel, lang), fontsize=8.5, color=_MUTED)
    legend = T("Rank and tokens, %(date)s", date=_day(latest.as_of, lang))
    _key(ax, rows, title=say(legend, lang))
    return len(top), _span(window, lang)


def _countries(
    ax: Axes, window: list[Snapshot], n: int, table: CountryTable, lang: str
) -> tuple[int, str]:
    balances = [balance(s.entries, table) for s in window]
    if not any(b.known_total for b in balances):
        raise ChartError(
            T(
                "no tokens with a known developer country in these snapshots: "
                "add the authors to [countries] in the config"
            )
        )
    weight: dict[str, float] = {}
    for bal in balances:
        for code, share in bal.shares.items():
            weight[code] = weight.get(code, 0.0) + share
    ranked = sorted(weight, key=lambda c: (-weight[c], c))
    limit = min(n, MAX_COUNTRIES)
    shown = ranked[:limit]
    rows = {code: [b.shares.get(code, 0.0) for b in balances] for code in shown}
    if len(shown) < len(ranked):
        rest = ranked[limit:]
        rows["Other"] = [sum(b.shares.get(code, 0.0) for code in rest) for b in balances]
    styles = style_for(list(rows), {**_COUNTRY_COLOURS, "Other": _OTHER_COLOUR})
    dates: AxisDates = [s.as_of for s in window]
    labels = [f"{_country(code, lang)}  {rows[code][-1] * 100:.1f}%" for code in rows]
    ax.stackplot(
        dates,
        *rows.values(),
        colors=[styles[code].color for code in rows],
        edgecolor="white",
        linewidth=0.6,
    )
    ax.axhline(0.5, color="white", linewidth=0.8, linestyle=(0, (4, 3)), alpha=0.9)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda value, _pos: f"{value * 100:.0f}%")
    ylabel = say(T("share of tokens with a known country"), lang)
    ax.set_ylabel(ylabel, fontsize=8.5, color=_MUTED)
    ax.grid(False)
    _mark_flips(ax, dates, balances, lang)
    # reversed: the key lists the areas in the order they are stacked, top to bottom
    legend = T("Share, %(date)s", date=_day(window[-1].as_of, lang))
    keys = [
        _KeyRow(label, styles[code].color, area=True)
        for code, label in zip(rows, labels, strict=True)
    ]
    _key(ax, keys[::-1], title=say(legend, lang))
    # below the legend, in the strip right of the data (the legend has at most 8 rows)
    ax.text(
        _LEGEND_X,
        0.0,
        _unknown_note(window, balances, lang),
        transform=ax.transAxes,
        fontsize=7.5,
        color=_MUTED,
        va="bottom",
        linespacing=1.35,
    )
    return len(rows), _span(window, lang)


def _ranks(ax: Axes, window: list[Snapshot], n: int, lang: str) -> tuple[int, str]:
    latest = window[-1]
    top = latest.top(n)
    styles = style_for([e.model for e in top])
    dates: AxisDates = [s.as_of for s in window]
    deepest = len(top)
    for entry in reversed(top):  # the leader is drawn last, on top of the others
        style = styles[entry.model]
        ranks = [_rank(s, entry.model) for s in window]
        deepest = max([deepest, *(int(r) for r in ranks if not math.isnan(r))])
        ax.plot(
            dates,
            ranks,
            color=style.color,
            linestyle=style.linestyle,
            marker=style.marker,
            markersize=5 if len(window) <= 26 else 2.5,
            linewidth=2.2,
            solid_capstyle="round",
        )
        new = say(T(" (new)"), lang) if all(math.isnan(r) for r in ranks[:-1]) else ""
        ax.annotate(
            f"{entry.rank}. {_short(_name(entry))}{new}",
            xy=(dates[-1], entry.rank),
            xytext=(9, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=_ink_of(style.color),
            fontweight="bold" if entry.rank == 1 else "normal",
            annotation_clip=False,
        )
    if deepest > len(top):
        ax.axhspan(len(top) + 0.5, deepest + 0.5, color="#F4F4F4", zorder=0, linewidth=0)
        # named in the label strip, where no line can run under it
        ax.annotate(
            say(T("(shaded: outside\nthe top %(n)s)", n=len(top)), lang),
            xy=(1.0, len(top) + 1),
            xycoords=ax.get_yaxis_transform(),
            xytext=(9, 0),
            textcoords="offset points",
            va="top",
            fontsize=7.5,
            color=_MUTED,
            annotation_clip=False,
        )
    ax.set_ylim(deepest + 0.5, 0.5)
    step = 1 if deepest <= 20 else 5
    ticks = [1, *range(step, deepest + 1, step)] if step > 1 else list(range(1, deepest + 1))
    ax.set_yticks(ticks, [f"#{t}" for t in ticks])
    ax.set_ylabel(say(T("rank"), lang), fontsize=8.5, color=_MUTED)
    ax.grid(axis="x", visible=False)
    subtitle = T("%(span)s · current rank at right", span=_span(window, lang))
    return len(top), say(subtitle, lang)


# --- helpers --------------------------------------------------------------------------------


def _tokens(snapshot: Snapshot, model: str) -> float:
    entry = snapshot.get(model)
    return float(entry.tokens) if entry is not None else math.nan


def _rank(snapshot: Snapshot, model: str) -> float:
    entry = snapshot.get(model)
    return float(entry.rank) if entry is not None else math.nan


def _ink_of(color: str) -> str:
    """The colour for text naming a series: pale palette colours are darkened so the label
    stays readable on white."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    if 0.2126 * r + 0.7152 * g + 0.0722 * b < 150:
        return color
    return "#{:02X}{:02X}{:02X}".format(*(int(c * 0.62) for c in (r, g, b)))


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def _name(entry: Entry) -> str:
    """The model's name as the source spells it, or its id when no installed font has the
    name's glyphs: an id is better than a row of empty boxes."""
    return entry.name if renders(entry.name) else entry.model


def _country(code: str, lang: str) -> str:
    # names, not emoji flags: matplotlib's bundled fonts have no flag glyphs
    return say(T("Other"), lang) if code == "Other" else country_name(code, lang)


def _day(moment: date, lang: str) -> str:
    if lang == DEFAULT:
        return moment.isoformat()
    from babel.dates import format_date

    return format_date(moment, "long", locale=babel_locale(lang))


_PERIOD_COUNT: Mapping[str, Callable[[int], Text]] = {
    "day": lambda n: TN("%(n)s day", "%(n)s days", n),
    "week": lambda n: TN("%(n)s week", "%(n)s weeks", n),
    "month": lambda n: TN("%(n)s month", "%(n)s months", n),
}


def _periods(period: str, n: int) -> Text:
    count = _PERIOD_COUNT.get(period)
    return count(n) if count is not None else T("%(n)s %(period)s", n=n, period=period)


def _span(window: list[Snapshot], lang: str) -> str:
    first, last = window[0], window[-1]
    span = T(
        "%(source)s · %(count)s, %(first)s to %(last)s",
        source=last.source,
        count=_periods(first.period, len(window)),
        first=_day(first.as_of, lang),
        last=_day(last.as_of, lang),
    )
    return say(span, lang)


def _wrap(text: str, width: int = 36) -> str:
    """Lines of about `width` Latin characters. Text in a script written without spaces
    (Chinese) is broken between any two characters, each wide one counting twice."""
    if text.isascii():
        return textwrap.fill(text, width)
    lines, line, used = [], "", 0
    for ch in text:
        size = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + size > width and line.strip():
            lines.append(line.rstrip())
            line, used = "", 0
        if line or not ch.isspace():
            line, used = line + ch, used + size
    return "\n".join([*lines, line.rstrip()])


def _unknown_note(window: list[Snapshot], balances: list[CountryBalance], lang: str) -> str:
    """Where the unattributed volume went: it is excluded from the shares, never hidden."""
    missing = [
        (bal.unknown, bal.unknown / (bal.unknown + bal.known_total), snap.as_of)
        for snap, bal in zip(window, balances, strict=True)
        if bal.unknown
    ]
    if not missing:
        return _wrap(say(T("Every listed model has a known developer country here."), lang))
    tokens, share, when = max(missing, key=lambda m: (m[0], m[2]))
    where: Text | str = ""
    if len(missing) > 1:
        where = T(
            "in %(k)s of %(count)s, ", k=len(missing), count=_periods(window[0].period, len(window))
        )
    note = T(
        "Left out of the shares: models with an %(unknown)s country (cloaked or unmapped "
        "authors), %(where)sat most %(tokens)s (%(share)s of the listed tokens) on %(date)s.",
        unknown=T("unknown"),
        where=where,
        tokens=human_tokens(tokens, lang),
        share=format(share, ".1%"),
        date=_day(when, lang),
    )
    return _wrap(say(note, lang))


def _mark_flips(ax: Axes, dates: AxisDates, balances: list[CountryBalance], lang: str) -> None:
    """A dashed line where the leading country changed, labelled with who overtook whom."""
    flips: list[tuple[int, str, str]] = []
    for i in range(1, len(balances)):
        new, old = balances[i].leader, balances[i - 1].leader
        if new and old and new != old:
            flips.append((i, new, old))
    to_x: Callable[[date], float] = ax.convert_xunits  # untyped in matplotlib
    taken: list[tuple[float, float]] = []  # label extents, in axes fractions
    for number, (i, new, old) in enumerate(reversed(flips)):
        ax.axvline(dates[i], color=_INK, linewidth=1.0, linestyle=(0, (3, 2)))
        # the latest flip says who overtook whom; earlier ones only who led, where room allows
        if number == 0:
            flip = T(
                "%(new)s overtakes\n%(old)s",
                new=country_name(new, lang),
                old=country_name(old, lang),
            )
        else:
            flip = T("%(code)s leads", code=new)
        text = say(flip, lang)
        at = i / (len(dates) - 1)
        width = max(len(line) for line in text.splitlines()) * _LABEL_CHAR
        ha = ("right" if at > 0.5 else "left") if number == 0 else "center"
        start = {"right": at - width, "left": at, "center": at - width / 2}[ha]
        if any(start < end + 0.02 and begin < start + width + 0.02 for begin, end in taken):
            continue
        taken.append((start, start + width))
        ax.annotate(
            text,
            xy=(to_x(dates[i]), 1.0),
            xycoords=ax.get_xaxis_transform(),
            xytext=(0, 3),
            textcoords="offset points",
            ha=ha,
            va="bottom",
            fontsize=7.5,
            color=_INK,
            linespacing=1.1,
            annotation_clip=False,
        )


def _style_axes(ax: Axes) -> None:
    """Quiet axes: no box, light grid behind the data, muted tick labels."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(labelsize=8, colors=_MUTED, length=3)
    ax.grid(True, color=_GRID, linewidth=0.7)
    ax.set_axisbelow(True)


def _date_axis(ax: Axes, dates: AxisDates, *, fill: bool, lang: str = DEFAULT) -> None:
    """At most eight date ticks, counted back from the latest so it is always labelled;
    the year is shown on the first tick and wherever it changes. Areas (`fill`) run edge to
    edge; lines get a little room at both ends."""
    step = math.ceil(len(dates) / 8)
    ticks = dates[::-1][::step][::-1]
    labels, year = [], None
    for day in ticks:
        text = day.strftime("%b %d") if lang == DEFAULT else _month_day(day, lang)
        if day.year != year:
            text += f"\n{day.year}"
            year = day.year
        labels.append(text)
    ax.set_xticks(ticks, labels)
    to_x: Callable[[date], float] = ax.convert_xunits  # untyped in matplotlib
    first, last = to_x(dates[0]), to_x(dates[-1])
    pad = 0 if fill else (last - first) * 0.015  # else the axes edge cuts end markers in half
    ax.set_xlim(first - pad, last + pad)


def _month_day(day: date, lang: str) -> str:
    from babel.dates import format_skeleton

    return format_skeleton("MMMd", day, locale=babel_locale(lang))


@dataclass(frozen=True, slots=True)
class _KeyRow:
    """One row of a chart's key: its label and how its series is drawn."""

    label: str
    color: str
    linestyle: str = "-"
    marker: str = ""
    markersize: float = 0.0
    area: bool = False
    """A filled area (a swatch), not a line."""


# The key's layout in points from its corner (the top left of the strip right of the axes),
# as matplotlib's Legend laid it out with the sizes below (8 pt labels, 7.5 pt title).
_KEY_PAD = 3.2
_KEY_HANDLE = 17.6
_KEY_TEXT_X = 27.2
_KEY_FIRST_ROW = 18.7
_KEY_ROW_PITCH = 12.64
_KEY_HANDLE_RISE = 0.4
"""A handle sits this much above the middle of its label's box (the label's descent)."""


def _key(ax: Axes, rows: Sequence[_KeyRow], *, title: str) -> None:
    """The legend in the strip right of the axes, never over the data, drawn as plain text
    and line artists at fixed offsets from its corner. Not matplotlib's `Legend`: it packs
    nested boxes and measures every label several times over, a fifth of a chart's whole
    drawing (13-15 ms of ~70), for a layout that never changes here. The offsets are the
    Legend's: the same pixels as before (compared over every kind, N, length and language)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Affine2D, Affine2DBase, ScaledTranslation

    # points from the key's corner, to pixels (axes coordinates are an affine transform,
    # which matplotlib's stubs do not say)
    corner = ScaledTranslation(_LEGEND_X, 1.0, cast(Affine2DBase, ax.transAxes))
    at = Affine2D().scale(1 / 72) + ax.figure.dpi_scale_trans + corner
    ax.text(_KEY_PAD, -_KEY_PAD, title, transform=at, fontsize=7.5, color=_MUTED, va="top")
    for i, row in enumerate(rows):
        y = -_KEY_FIRST_ROW - i * _KEY_ROW_PITCH
        ax.text(_KEY_TEXT_X, y, row.label, transform=at, fontsize=8, va="center")
        y += _KEY_HANDLE_RISE
        if row.area:
            swatch = Rectangle((_KEY_PAD, y - 2.8), _KEY_HANDLE, 5.6, linewidth=0.6)
            swatch.set(facecolor=row.color, edgecolor="white", transform=at, clip_on=False)
            ax.add_artist(swatch)
            continue
        line = Line2D([_KEY_PAD, _KEY_PAD + _KEY_HANDLE], [y, y], linewidth=1.8)
        line.set(color=row.color, linestyle=row.linestyle, transform=at, clip_on=False)
        ax.add_artist(line)
        if row.marker and row.markersize:  # one marker, in the middle
            dot = Line2D([_KEY_PAD + _KEY_HANDLE / 2], [y], linestyle="", marker=row.marker)
            dot.set(color=row.color, markersize=row.markersize, transform=at, clip_on=False)
            ax.add_artist(dot)


def _frame(fig: Figure, title: str, subtitle: str, window: list[Snapshot]) -> None:
    """Title and subtitle above the axes; the source attribution and date in the footer."""
    left = _AXES_RECT[0]
    fig.text(left, 0.935, title, fontsize=13, fontweight="bold", color=_INK, va="baseline")
    fig.text(left, 0.895, subtitle, fontsize=8.5, color=_MUTED, va="top", linespacing=1.4)
    latest = window[-1]
    attribution = latest.attribution or (
        f"Source: {latest.source}, as of {latest.as_of.isoformat()}."
    )
    fig.text(left, 0.03, attribution, fontsize=7, color=_MUTED, va="baseline")
    fig.text(0.985, 0.03, "rankbot", fontsize=7, color=_MUTED, va="baseline", ha="right")


def chart_alt(
    kind: ChartKind,
    snapshots: Sequence[Snapshot],
    *,
    n: int | None = None,
    countries: CountryTable,
    lang: str = DEFAULT,
) -> str:
    """What the chart shows, as a sentence for people who cannot see it (Slack `alt_txt`,
    Discord's attachment description): the kind, the window, and its news: the leader and
    its tokens, or the countries' shares."""
    window = sorted(snapshots, key=lambda s: s.as_of)
    latest = window[-1]
    shown = min(DEFAULT_N[kind] if n is None else n, len(latest.entries))
    title = chart_title(kind, shown, latest.period, lang)
    span = _periods(latest.period, len(window))
    date_text = _day(latest.as_of, lang)
    leader = latest.top(1)[0] if latest.entries else None
    if kind == "countries":
        bal = balance(latest.entries, countries)
        ranked = sorted(bal.shares.items(), key=lambda kv: -kv[1])[: min(shown, MAX_COUNTRIES)]
        shares = ", ".join(
            f"{country_name(code, lang)} {share * 100:.1f}%" for code, share in ranked
        )
        text = T(
            "Stacked area chart: %(title)s, %(span)s to %(date)s. Shares of the tokens with a "
            "known country: %(shares)s.",
            title=title,
            span=span,
            date=date_text,
            shares=shares,
        )
    elif leader is None:
        text = T("Chart: %(title)s, %(span)s to %(date)s.", title=title, span=span, date=date_text)
    elif kind == "trend":
        text = T(
            "Line chart: %(title)s, %(span)s to %(date)s. %(leader)s leads with %(tokens)s tokens.",
            title=title,
            span=span,
            date=date_text,
            leader=leader.name,
            tokens=("≥" if leader.lower_bound else "") + human_tokens(leader.tokens, lang),
        )
    else:
        text = T(
            "Bump chart: %(title)s, %(span)s to %(date)s. %(leader)s is #1.",
            title=title,
            span=span,
            date=date_text,
            leader=leader.name,
        )
    return say(text, lang)
