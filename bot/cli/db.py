"""`rankbot db …`: database maintenance.

- `compact`: rewrite a TinyDB database's files to their smallest form (the store also does it
  by itself when its journal outgrows the base); on PostgreSQL, `VACUUM`.
- `upgrade`: apply the PostgreSQL schema migrations the database lacks. The bot never
  migrates by itself (it refuses an unmigrated database, saying so), so several processes
  starting at once never race to; `upgrade` itself is safe to run from several at once.
- `status`: which database, its backend and schema version, and what it holds.
- `migrate --from A --to B`: move everything between a TinyDB file and a PostgreSQL database,
  either way (`bot.store.moving`), checking the counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from bot import app
from bot.cli import admin
from bot.cli.common import config_from_args, database_path, existing_database
from bot.config.database import URL_ENV, DatabaseUrl, Location, parse_url
from bot.errors import UsageError


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


def _postgres(config_location: Location, what: str) -> DatabaseUrl:
    if not isinstance(config_location, DatabaseUrl):
        raise UsageError(
            f"`rankbot db {what}` is for a PostgreSQL database: set {URL_ENV} or [store] url "
            "(a TinyDB file upgrades itself when it is opened)"
        )
    return config_location


def cmd_upgrade(args: argparse.Namespace) -> int:
    from bot.store.postgres import migrate_schema

    where = _postgres(database_path(config_from_args(args)), "upgrade")
    before, after = asyncio.run(migrate_schema(where.url))
    if before == after:
        print(f"{where.shown}: schema version {after}, nothing to do")
    else:
        print(f"{where.shown}: schema version {before} → {after}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    where = database_path(config_from_args(args))
    print(asyncio.run(_status(where)))
    return 0


async def _status(where: Location) -> str:
    if isinstance(where, DatabaseUrl):
        from bot.store.postgres.schema import LATEST
        from bot.store.postgres.store import connect, schema_version

        conn = await connect(where.url)
        try:
            version = await schema_version(conn)
        finally:
            await conn.close()
        line = f"{where.shown}: PostgreSQL, schema version {version} of {LATEST}"
        if version < LATEST:
            return line + " (run `rankbot db upgrade`)"
    else:
        if not where.exists():
            return f"{where}: no database yet"
        line = f"{where}: TinyDB file"
    async with app.open_database(where, readonly=True) as store:
        snapshots = await store.history.snapshot_count()
        subscriptions = await store.subscriptions.count()
        pending = await store.outbox.count()
        events = len(await store.history.events())
    return (
        f"{line}; store schema {store.schema_version}: {snapshots} snapshot(s), "
        f"{events} event(s), {subscriptions} subscription(s), {pending} pending post(s)"
    )


def _location(text: str, flag: str) -> Location:
    if text.startswith(("postgresql://", "postgres://")):
        return parse_url(text, flag, pool_size=None, from_file=False)
    if text == "env":
        url = os.environ.get(URL_ENV)
        if not url:
            raise UsageError(f"{flag} env: {URL_ENV} is not set")
        return parse_url(url, URL_ENV, pool_size=None, from_file=False)
    return Path(text).expanduser()


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.store import moving
    from bot.store.postgres import PgStore

    config_from_args(args)  # logging as for every command
    source, target = _location(args.source, "--from"), _location(args.target, "--to")

    async def move() -> str:
        if isinstance(source, Path) and isinstance(target, DatabaseUrl):
            async with await PgStore.open(target.url, pool_size=1) as pg:
                moved = await moving.tiny_to_postgres(source, pg)
        elif isinstance(source, DatabaseUrl) and isinstance(target, Path):
            async with await PgStore.open(source.url, pool_size=1, readonly=False) as pg:
                moved = await moving.postgres_to_tiny(pg, target)
        else:
            raise UsageError(
                "--from and --to: one is a TinyDB file and the other a PostgreSQL URL "
                "(postgresql://user@host/db, or `env` for $RANKBOT_DATABASE_URL)"
            )
        tables = ", ".join(f"{t} {n}" for t, n in moved.counts.items() if n)
        return (
            f"moved {moved.total} document(s) from {source} to {target}, counts checked "
            f"({tables or 'empty'})"
        )

    print(asyncio.run(move()))
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `db` (compact, upgrade, status, migrate) to the `rankbot` parser."""
    db = sub.add_parser(
        "db",
        help="database maintenance (compact, backup, upgrade, status, migrate)",
        description="Maintenance of rankbot's database.",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    compact = actions.add_parser(
        "compact",
        parents=[common],
        help="rewrite the database files to their smallest form",
        description="Rewrite the base file from the current state and empty the journal "
        "(rankbot also does this by itself when the journal outgrows the base). Stop "
        "`rankbot run` first: it needs the write lock. On PostgreSQL: VACUUM.",
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
    upgrade = actions.add_parser(
        "upgrade",
        parents=[common],
        help="apply PostgreSQL schema migrations",
        description=f"Bring the PostgreSQL database ({URL_ENV} or [store] url) to this "
        "rankbot's schema version. Safe to run from several processes at once.",
    )
    upgrade.set_defaults(handler=cmd_upgrade)
    status = actions.add_parser(
        "status",
        parents=[common],
        help="show the database, its schema version and what it holds",
        description="Show which database rankbot uses, its backend and schema version.",
    )
    status.set_defaults(handler=cmd_status)
    migrate = actions.add_parser(
        "migrate",
        parents=[common],
        help="move everything between a TinyDB file and a PostgreSQL database",
        description="Copy every table (history, raw days, state, subscriptions, held alerts, "
        "outbox and blobs, Slack installations) from one database to a new, empty one and "
        "check the counts. A PostgreSQL URL takes its password from the environment "
        "(PGPASSWORD, ~/.pgpass), or write `env` for $RANKBOT_DATABASE_URL. Stop rankbot first.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="PATH|URL")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL|PATH")
    migrate.set_defaults(handler=cmd_migrate)
