"""The `chart` command (chat and CLI): read the history from the store, draw it, reply.

`chart [trend|countries|ranks] [N] [weeks]` answers with a `Reply` carrying the PNG as an
`Attachment`; every mistake gets a reply that shows a correct example, never a traceback.
The reply is not ephemeral: Slack cannot attach files to ephemeral messages, and a chart
someone asked for in a channel is usually meant for the channel.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from bot.cli.common import config_from_args, positive_int
from bot.config.file import Config
from bot.core.countries import CountryTable
from bot.core.events import Event
from bot.core.messages import Attachment, Reply
from bot.core.model import PERIODS, Snapshot
from bot.errors import UsageError
from bot.render.charts import (
    DEFAULT_N,
    DEFAULT_WEEKS,
    KINDS,
    MAX_N,
    MAX_WEEKS,
    MIN_SNAPSHOTS,
    ChartError,
    ChartKind,
    NotEnoughHistory,
    chart_title,
    render_chart,
    render_chart_async,
)
from bot.store.database import Store

USAGE = (
    "chart [trend|countries|ranks] [N] [weeks]: `trend` = tokens of the top N (default 5), "
    "`countries` = share by developer country (N countries, default 5), `ranks` = rank of "
    f"the top N (default 10), over the last `weeks` snapshots (default {DEFAULT_WEEKS})"
)
EXAMPLE = "chart trend 5 12"

EVENT_CHARTS: Mapping[str, ChartKind] = {"new_leader": "trend", "country_flip": "countries"}
"""The picture an alert of each kind carries: the new leader's climb, the countries' shares."""


@dataclass(frozen=True, slots=True)
class ChartRequest:
    """A parsed `chart` command: `n` None means the kind's default."""

    kind: ChartKind
    n: int | None = None
    weeks: int = DEFAULT_WEEKS


def parse_chart_args(args: Sequence[str]) -> ChartRequest:
    """Read `[kind] [N] [weeks]`; raise `ChartError` with a message that shows an example."""
    words = list(args)
    kind = "trend"
    if words and not words[0].lstrip("-").isdigit():
        kind = words.pop(0).lower()
        if kind not in KINDS:
            raise ChartError(f"unknown chart {kind!r}: choose {', '.join(KINDS)}, e.g. `{EXAMPLE}`")
    if len(words) > 2:
        raise ChartError(f"too many arguments: {' '.join(words[2:])!r}. Usage: {USAGE}")
    chart = cast(ChartKind, kind)
    example = f"chart {chart} {DEFAULT_N[chart]} {DEFAULT_WEEKS}"
    n = _number(words[0], "N", 1, MAX_N, example) if words else None
    weeks = DEFAULT_WEEKS
    if len(words) > 1:
        weeks = _number(words[1], "weeks", MIN_SNAPSHOTS, MAX_WEEKS, example)
    return ChartRequest(kind=chart, n=n, weeks=weeks)


def chart_reply(
    args: list[str],
    store: Store,
    config: Config,
    *,
    source: str = "openrouter",
    period: str = "week",
) -> Reply:
    """Answer `chart …` in the calling thread; code on an event loop uses `chart_reply_async`."""
    try:
        request = parse_chart_args(args)
        history = store.snapshots(source, period, last=request.weeks)
        png = render_chart(
            request.kind, history, n=request.n, weeks=request.weeks, countries=config.countries
        )
    except ChartError as exc:
        return _error(exc)
    return _reply(request, history, png)


async def chart_reply_async(
    args: list[str],
    store: Store,
    config: Config,
    *,
    source: str = "openrouter",
    period: str = "week",
) -> Reply:
    """Answer `chart …` with the drawing in a worker thread, so the event loop stays free;
    the store read is a quick in-memory query and stays on the loop."""
    try:
        request = parse_chart_args(args)
        history = store.snapshots(source, period, last=request.weeks)
        png = await render_chart_async(
            request.kind, history, n=request.n, weeks=request.weeks, countries=config.countries
        )
    except ChartError as exc:
        return _error(exc)
    return _reply(request, history, png)


def alert_attachment(event: Event, store: Store, countries: CountryTable) -> Attachment | None:
    """The chart an alert carries, from the history up to the event's date (a late retry
    shows what the alert is about, not newer weeks); None for kinds without a chart or while
    the history is too short to show a change. Drawn in the calling thread: the poller does
    this inside its atomic write, for the rare alerts that carry a chart."""
    kind = EVENT_CHARTS.get(event.kind)
    if kind is None:
        return None
    history = [s for s in store.snapshots(event.source, event.period) if s.as_of <= event.as_of]
    try:
        png = render_chart(kind, history, countries=countries)
    except NotEnoughHistory:
        return None
    return chart_attachment(kind, history[-DEFAULT_WEEKS:], png)


def chart_attachment(
    kind: ChartKind, history: Sequence[Snapshot], png: bytes, *, n: int | None = None
) -> Attachment:
    """The PNG as a file named after what it shows and the date of its data."""
    latest = max(history, key=lambda s: s.as_of)
    shown = min(DEFAULT_N[kind] if n is None else n, len(latest.entries))
    return Attachment(
        filename=f"rankbot-{kind}-{latest.source}-{latest.period}-{latest.as_of.isoformat()}.png",
        content=png,
        title=f"{chart_title(kind, shown, latest.period)}, as of {latest.as_of.isoformat()}",
    )


def _reply(request: ChartRequest, history: list[Snapshot], png: bytes) -> Reply:
    attachment = chart_attachment(request.kind, history, png, n=request.n)
    latest = history[-1]
    lines = [attachment.title]
    if latest.attribution:
        lines.append(latest.attribution)
    data: dict[str, Any] = {
        "kind": request.kind,
        "n": request.n,
        "weeks": request.weeks,
        "snapshots": len(history),
        "source": latest.source,
        "period": latest.period,
        "as_of": latest.as_of.isoformat(),
    }
    return Reply(
        text="\n".join(lines),
        view="chart",
        data=data,
        ephemeral=False,
        attachments=(attachment,),
    )


def _error(exc: ChartError) -> Reply:
    text = str(exc)
    return Reply(
        text=text[:1].upper() + text[1:],
        view="error",
        data={"usage": USAGE, "example": EXAMPLE},
        ok=False,
    )


def _number(word: str, what: str, lo: int, hi: int, example: str) -> int:
    try:
        value = int(word)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ChartError(
            f"{what} must be a whole number from {lo} to {hi}, got {word!r}, e.g. `{example}`"
        )
    return value


# --- command line ---------------------------------------------------------------------------


def cmd_chart(args: argparse.Namespace) -> int:
    """`rankbot chart KIND -o FILE.png`: the same picture the chat command attaches."""
    config = config_from_args(args)
    if not config.db_path.exists():
        raise UsageError(
            f"no database at {config.db_path} yet: run `rankbot replay FILE --db "
            f"{config.db_path}` or the poller first"
        )
    with Store.open(config.db_path, readonly=True) as store:
        history = store.snapshots(args.source, args.period, last=args.weeks)
    try:
        png = render_chart(
            args.kind, history, n=args.n, weeks=args.weeks, countries=config.countries
        )
    except ChartError as exc:
        raise UsageError(str(exc)) from exc
    out = Path(args.output)
    try:
        out.write_bytes(png)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from exc
    title = chart_attachment(args.kind, history, png, n=args.n).title
    print(f"wrote {out} ({len(png) // 1024} KiB): {title}")
    return 0


def add_chart_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `chart` to the `rankbot` parser (called from `bot.cli.build_parser`)."""
    chart = sub.add_parser(
        "chart",
        parents=[common],
        help="draw a chart of the stored history to a PNG file",
        description="Draw the weekly tokens of the top N (trend), the share by developer "
        "country (countries) or the ranks of the top N (ranks) from the stored snapshots.",
    )
    chart.add_argument("kind", choices=KINDS, help="which chart")
    chart.add_argument(
        "-n",
        type=positive_int(MAX_N),
        metavar="N",
        help="models (countries for `countries`) to draw; default 5, 10 for ranks",
    )
    chart.add_argument(
        "--weeks",
        type=positive_int(MAX_WEEKS),
        default=DEFAULT_WEEKS,
        metavar="K",
        help=f"the last K snapshots (default {DEFAULT_WEEKS}, at least {MIN_SNAPSHOTS})",
    )
    chart.add_argument("-o", "--output", required=True, metavar="FILE.png", help="where to write")
    chart.add_argument("--period", choices=PERIODS, default="week", help="default: week")
    chart.add_argument("--source", default="openrouter", help="default: openrouter")
    chart.set_defaults(handler=cmd_chart)
