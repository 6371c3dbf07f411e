"""`rankbot db upgrade | status | migrate` and choosing PostgreSQL from the config or the
environment, on the tests' throwaway server: one line for everything a user can get wrong."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from bot.cli.main import main
from bot.store.postgres import PgStore, schema
from tests.fakes.postgres import PostgresServer
from tests.store.postgres.database import empty_database

DEMO = Path(__file__).resolve().parents[3] / "bot" / "data" / "demo-history.jsonl"


@pytest.fixture
def fresh_url(postgres_server: PostgresServer) -> str:
    """An empty database, not migrated."""
    return postgres_server.create_database("cli_fresh")


def test_the_bot_refuses_an_unmigrated_database_until_upgrade(
    fresh_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANKBOT_DATABASE_URL", fresh_url)
    assert main(["top"]) == 4
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "run `rankbot db upgrade` first" in err
    assert main(["db", "status"]) == 0
    assert "schema version 0 of 1 (run `rankbot db upgrade`)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"schema version 0 → {schema.LATEST}")
    assert main(["db", "upgrade"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["db", "status"]) == 0
    assert "0 snapshot(s)" in capsys.readouterr().out


def test_several_upgrades_at_once_apply_each_migration_once(fresh_url: str) -> None:
    from bot.store.postgres import migrate_schema

    async def together() -> list[tuple[int, int]]:
        return await asyncio.gather(*(migrate_schema(fresh_url) for _ in range(4)))

    results = asyncio.run(together())
    assert sorted(before for before, _ in results) == [0, 1, 1, 1]
    with psycopg.connect(fresh_url) as conn:
        rows = conn.execute("SELECT version FROM rankbot_schema").fetchall()
    assert rows == [(1,)]


def test_migrate_moves_a_file_into_postgres_and_the_commands_read_it(
    tmp_path: Path,
    postgres_server: PostgresServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "db.json"
    assert main(["replay", str(DEMO), "--db", str(db)]) == 0
    url = empty_database(postgres_server, "cli_moved")
    capsys.readouterr()
    assert main(["db", "migrate", "--from", str(db), "--to", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("moved ") and "counts checked" in out
    assert main(["db", "migrate", "--from", str(db), "--to", url]) == 2
    assert "is not empty" in capsys.readouterr().err
    monkeypatch.setenv("RANKBOT_DATABASE_URL", url)
    assert main(["top", "--period", "week"]) == 0
    on_pg = capsys.readouterr().out
    monkeypatch.delenv("RANKBOT_DATABASE_URL")
    assert main(["top", "--period", "week", "--db", str(db)]) == 0
    assert capsys.readouterr().out == on_pg
    back = tmp_path / "back.db.json"
    assert main(["db", "migrate", "--from", url, "--to", str(back)]) == 0
    assert main(["db", "migrate", "--from", url, "--to", str(back)]) == 2
    assert "never overwrites" in capsys.readouterr().err


def test_database_choices_that_cannot_work_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    both = tmp_path / "both.toml"
    both.write_text('[store]\npath = "x.json"\nurl = "postgresql://u@h/db"\n')
    assert main(["top", "--config", str(both)]) == 2
    assert "[store] path and [store] url both name a database" in capsys.readouterr().err
    secret = tmp_path / "secret.toml"
    secret.write_text('[store]\nurl = "postgresql://u:hunter2@h/db"\n')
    assert main(["top", "--config", str(secret)]) == 2
    err = capsys.readouterr().err
    assert "a password does not belong in the config file" in err and "hunter2" not in err
    monkeypatch.setenv("RANKBOT_DATABASE_URL", "postgresql://u@127.0.0.1:1/db")
    assert main(["top", "--db", str(tmp_path / "x.json")]) == 2
    assert "--db and RANKBOT_DATABASE_URL both name a database" in capsys.readouterr().err
    monkeypatch.setenv("RANKBOT_DATABASE_URL", "postgresql://u:hunter2@127.0.0.1:1/db")
    assert main(["top"]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hunter2" not in err and "u:***@127.0.0.1:1" in err


def test_pool_size_and_sslmode_come_from_the_url(tmp_path: Path) -> None:
    from bot.config.database import parse_url

    parsed = parse_url(
        "postgresql://u@h/db?sslmode=require&pool_size=12", "[store] url", pool_size=3,
        from_file=True,
    )  # fmt: skip
    assert parsed.url == "postgresql://u@h/db?sslmode=require" and parsed.pool_size == 12
    assert parse_url("postgresql://u@h/db", "x", pool_size=3, from_file=True).pool_size == 3


async def test_a_store_opened_from_the_environment_hides_its_password(
    postgres_server: PostgresServer,
) -> None:
    url = empty_database(postgres_server, "cli_moved")
    with_password = url.replace("postgres@", "postgres:not-needed@")
    async with await PgStore.open(with_password) as store:
        assert "not-needed" not in store.location and "***" in store.location
