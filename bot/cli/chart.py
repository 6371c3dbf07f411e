"""`rankbot chart KIND -o FILE.png`: the same picture the chat command attaches, to a file."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bot import app
from bot.cli.common import config_from_args, existing_database, positive_int
from bot.core.model import PERIODS
from bot.errors import UsageError
from bot.render.chart_attachments import chart_attachment
from bot.render.charts import (
    DEFAULT_WEEKS,
    KINDS,
    MAX_N,
    MAX_WEEKS,
    MIN_SNAPSHOTS,
    ChartError,
    render_chart,
)


def cmd_chart(args: argparse.Namespace) -> int:
    """`rankbot chart KIND -o FILE.png`: the same picture the chat command attaches."""
    config = config_from_args(args)
    db_path = existing_database(config)
    history = asyncio.run(app.read_stream(db_path, args.source, args.period, last=args.weeks))
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
    title = chart_attachment(args.kind, history, png, countries=config.countries, n=args.n).title
    print(f"wrote {out} ({len(png) // 1024} KiB): {title}")
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
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
