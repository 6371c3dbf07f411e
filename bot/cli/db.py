"""`rankbot db compact`: rewrite the database's files to their smallest form.

The store compacts by itself when its journal outgrows the base (and when it is opened with a
large journal); this command does it now, for example after pruning, before a backup, or to
see the figures. It needs the write lock: stop `rankbot run` first.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot import app
from bot.cli import admin
from bot.cli.common import config_from_args, existing_database


def cmd_compact(args: argparse.Namespace) -> int:
    path = existing_database(config_from_args(args))

    async def compact() -> str:
        async with app.open_database(path) as store:
            done = await store.compact()
        return (
            f"compacted {store.location}: {done.before / 1e6:.1f} MB → {done.after / 1e6:.1f} MB "
            f"(schema {store.schema_version})"
        )

    print(asyncio.run(compact()))
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `db` (with `db compact`) to the `rankbot` parser."""
    db = sub.add_parser(
        "db",
        help="database maintenance (compact, backup)",
        description="Maintenance of rankbot's database.",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    compact = actions.add_parser(
        "compact",
        parents=[common],
        help="rewrite the database files to their smallest form",
        description="Rewrite the base file from the current state and empty the journal "
        "(rankbot also does this by itself when the journal outgrows the base). Stop "
        "`rankbot run` first: it needs the write lock.",
    )
    compact.set_defaults(handler=cmd_compact)
    backup = actions.add_parser(
        "backup",
        parents=[common],
        help="write a verified copy of the database",
        description="Copy the database to PATH and check the copy reads. With a bot running "
        "and [ops] listen set, the running bot writes it; else it is copied directly.",
    )
    backup.add_argument("path", metavar="PATH", help="the new file (its journal goes beside it)")
    backup.set_defaults(handler=admin.cmd_backup)
