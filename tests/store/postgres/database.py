"""Databases on the tests' throwaway PostgreSQL server (`tests.fakes.postgres`): created and
migrated once per session, emptied before each test that asks for one."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.core.subscription import Subscription
from bot.store.postgres import migrate_schema, schema
from bot.store.protocols import Store
from tests.fakes.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

_migrated: dict[tuple[int, str], str] = {}


def migrated_database(server: PostgresServer, name: str) -> str:
    """The URL of database `name`, created and migrated on first use."""
    key = (server.port, name)
    if key not in _migrated:
        url = server.create_database(name)
        asyncio.run(migrate_schema(url)) if not _loop_running() else _in_thread(url)
        _migrated[key] = url
    return _migrated[key]


def empty_database(server: PostgresServer, name: str) -> str:
    """Database `name`, migrated, with every table emptied."""
    url = migrated_database(server, name)
    tables = ", ".join((*schema.DOC_TABLES, "rate_sends"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
    return url


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _in_thread(url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(migrate_schema(url))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def process_env(url: str, config: Path, channels: list[ChannelRef], sink: str) -> dict[str, str]:
    """The environment of a `rankbot run --role ...` process on database `url`: the config
    file, and each webhook channel's URL on the sink (`<sink>/hook/<channel>`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKBOT_")}
    env.update(RANKBOT_DATABASE_URL=url, RANKBOT_CONFIG=str(config), PYTHONPATH=str(ROOT))
    for ch in channels:
        env[f"RANKBOT_WEBHOOK_{ch.channel.upper()}"] = f"{sink}/hook/{ch.channel}"
    return env


async def fill_outbox(store: Store, channels: list[ChannelRef], posts: int) -> None:
    """Confirmed subscriptions for `channels` and `posts` posts `p00000`, `p00001`, ... to
    them in turn (each says its key)."""
    async with store.transaction():
        for ch in channels:
            await store.subscriptions.upsert(Subscription(ch, confirmed=True))
    keys = [f"p{n:05d}" for n in range(posts)]
    for start in range(0, posts, 2000):
        planned = [
            Planned(channels[int(k[1:]) % len(channels)], Message(notice=k), k)
            for k in keys[start : start + 2000]
        ]
        await store.outbox.enqueue(planned, now=NOW)
