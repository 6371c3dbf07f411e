"""`rankbot replay FILE`: a history through store → detect → render, printed per snapshot."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import app
from bot.cli.common import add_lang_option, config_from_args, positive_int
from bot.config.file import Config
from bot.core.events import DetectParams
from bot.core.history_format import read_history
from bot.core.model import Snapshot
from bot.core.text import T
from bot.engine.ingest import ingest
from bot.errors import UsageError
from bot.i18n import say
from bot.render.template_check import check_overrides
from bot.render.templates import Renderer
from bot.sources.replay import load_history


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
    check_overrides(config.templates_dir)  # a preview of broken overrides says which, at once
    renderer = Renderer(config.templates_dir)
    params = _detect_params(args, config)
    with tempfile.TemporaryDirectory(prefix="rankbot-") as tmp:
        db_path = Path(args.db) if args.db else Path(tmp) / "replay.db.json"
        asyncio.run(_replay(db_path, snapshots, args, params, config, renderer))
    return 0


async def _replay(
    db_path: Path,
    snapshots: list[Snapshot],
    args: argparse.Namespace,
    params: DetectParams,
    config: Config,
    renderer: Renderer,
) -> None:
    async with app.open_database(db_path) as store:
        for index, snapshot in enumerate(snapshots):
            ingested = await ingest(store, snapshot, params=params, countries=config.countries)
            events = ingested.events
            if args.json:
                for event in events:
                    print(json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True))
                continue
            if index:
                print()
            print(f"── {snapshot.source} · {snapshot.period} · {snapshot.as_of.isoformat()} ──")
            print(
                renderer.group(events, lang=args.lang)
                if events
                else say(T("(no alerts)"), args.lang)
            )


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `replay` to the `rankbot` parser."""
    replay = sub.add_parser(
        "replay",
        parents=[common],
        help="run a JSON Lines history through store → detect → render",
        description="Read snapshots from a JSON Lines file (one per line, see "
        "docs/history-format.md) and print the alerts each would cause. Without --db a "
        "temporary store is used.",
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
    add_lang_option(replay)
    replay.set_defaults(handler=cmd_replay)
