"""Databases on the tests' throwaway PostgreSQL server (`tests.fakes.postgres`): created and
migrated once per session, emptied before each test that asks for one."""

from __future__ import annotations

import asyncio

import psycopg

from bot.store.postgres import migrate_schema, schema
from tests.fakes.postgres import PostgresServer

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
