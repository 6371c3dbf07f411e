"""The `rankbot` command line: argument parsing and printing only; the work is elsewhere."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from bot.cli.common import config_from_args, positive_int
from bot.cli.demo import run_demo
from bot.cli.discord import add_commands as add_discord_commands
from bot.cli.openrouter import add_commands as add_openrouter_commands
from bot.commands.chart import add_chart_command
from bot.config.file import Config
from bot.core.events import DetectParams
from bot.core.history_format import load_history, read_history
from bot.core.leaderboard import top_view
from bot.core.model import PERIODS
from bot.engine.ingest import ingest
from bot.engine.poller import add_commands as add_runner_commands
from bot.errors import ConfigError, HistoryError, StoreBusy, StoreCorrupt, UsageError
from bot.platforms.slack.manifest import add_manifest_command
from bot.render.templates import Renderer
from bot.store.database import Store

Handler = Callable[[argparse.Namespace], int]


def _detect_params(args: argparse.Namespace, config: Config) -> DetectParams:
    params = config.detect
    if getattr(args, "confirm", None) is not None:
        params = replace(params, confirm=args.confirm)
    if getattr(args, "top_n", None) is not None:
        params = replace(params, top_n=args.top_n)
    return params


def cmd_replay(args: argparse.Namespace) -> int:
    """Run a history through store → detect → render, into `--db` or a throwaway store."""
    config = config_from_args(args)
    if args.file == "-":
        snapshots = list(read_history(sys.stdin, name="<stdin>"))
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"history file not found: {path}")
        snapshots = load_history(path)
    renderer = Renderer(config.templates_dir)
    params = _detect_params(args, config)
    with tempfile.TemporaryDirectory(prefix="rankbot-") as tmp:
        db_path = Path(args.db) if args.db else Path(tmp) / "replay.db.json"
        with Store.open(db_path) as store:
            for index, snapshot in enumerate(snapshots):
                events = ingest(store, snapshot, params=params, countries=config.countries).events
                if args.json:
                    for event in events:
                        print(json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True))
                    continue
                if index:
                    print()
                print(f"── {snapshot.source} · {snapshot.period} · {snapshot.as_of.isoformat()} ──")
                print(renderer.group(events) if events else "(no alerts)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    charts = None if args.no_charts else Path(args.charts_dir)
    asyncio.run(run_demo(config_from_args(args), sys.stdout, charts))
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not config.db_path.exists():
        raise UsageError(
            f"no database at {config.db_path} yet: run `rankbot replay FILE --db "
            f"{config.db_path}` or the poller first"
        )
    with Store.open(config.db_path, readonly=True) as store:
        history = store.snapshots(args.source, args.period, last=2)
    if not history:
        raise UsageError(f"no {args.period} snapshots of {args.source} stored in {config.db_path}")
    current = history[-1]
    previous = history[-2] if len(history) > 1 else None
    view = top_view(current, previous, args.n, config.countries)
    if args.json:
        print(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(Renderer(config.templates_dir).render("text/top.j2", view=view))
    return 0


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else "" for line in text.splitlines())


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", help="config file (TOML); default: $RANKBOT_CONFIG or none"
    )
    common.add_argument("--db", metavar="PATH", help="database file (overrides the config)")

    parser = argparse.ArgumentParser(
        prog="rankbot",
        description="Watches the public LLM token-usage rankings and posts alerts to chat.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="replay the early-2026 story into a console channel (no tokens, no network)",
        description="Replay the bundled early-2026 weekly history and show the alerts a "
        "channel would receive, then what `/top 5` answers.",
    )
    demo.add_argument(
        "--charts-dir",
        metavar="DIR",
        default="rankbot-demo",
        help="where the demo writes its charts (default: ./rankbot-demo)",
    )
    demo.add_argument("--no-charts", action="store_true", help="write no chart files")
    demo.set_defaults(handler=cmd_demo)

    replay = sub.add_parser(
        "replay",
        parents=[common],
        help="run a JSON Lines history through store → detect → render",
        description="Read snapshots from a JSON Lines file (one per line, see README) and "
        "print the alerts each would cause. Without --db a temporary store is used.",
    )
    replay.add_argument("file", help="history file (JSON Lines), or - for standard input")
    replay.add_argument("--json", action="store_true", help="print one JSON object per event")
    replay.add_argument(
        "--confirm",
        type=positive_int(10),
        metavar="K",
        help="consecutive snapshots a change must hold before it is announced (default 1)",
    )
    replay.add_argument(
        "--top-n",
        type=positive_int(50),
        metavar="N",
        help="N for top-N entries and exits (default 10)",
    )
    replay.set_defaults(handler=cmd_replay)

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
    top.set_defaults(handler=cmd_top)

    # each part of the bot adds its own subcommands
    add_runner_commands(sub, common)
    add_openrouter_commands(sub, common)
    add_chart_command(sub, common)
    add_manifest_command(sub, common)
    add_discord_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ConfigError, HistoryError, StoreBusy, StoreCorrupt, UsageError) as exc:
        print(f"rankbot: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
