"""`rankbot top [N]`: the latest stored ranking, as text or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from bot import app
from bot.cli.common import add_lang_option, config_from_args, existing_database, positive_int
from bot.core.leaderboard import top_view
from bot.core.model import PERIODS
from bot.errors import UsageError
from bot.render.templates import Renderer


def cmd_top(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    db_path = existing_database(config)
    history = asyncio.run(app.read_stream(db_path, args.source, args.period, last=2))
    if not history:
        raise UsageError(f"no {args.period} snapshots of {args.source} stored in {db_path}")
    current = history[-1]
    previous = history[-2] if len(history) > 1 else None
    view = top_view(current, previous, args.n, config.countries)
    if args.json:
        print(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(Renderer(config.templates_dir).render("text/top.j2", lang=args.lang, view=view))
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `top` to the `rankbot` parser."""
    top = sub.add_parser(
        "top",
        parents=[common],
        help="print the current top N from the store",
        description="Print the latest stored ranking: tokens, share, change against the "
        "previous snapshot, and the developer's country.",
    )
    top.add_argument(
        "n", nargs="?", type=positive_int(50), default=10, help="how many (default 10)"
    )
    top.add_argument("--period", choices=PERIODS, default="week", help="default: week")
    top.add_argument("--source", default="openrouter", help="default: openrouter")
    top.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_lang_option(top)
    top.set_defaults(handler=cmd_top)
