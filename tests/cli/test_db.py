"""`rankbot db compact`: the files rewritten to their smallest form, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from tests.helpers import read_store

DEMO = Path(__file__).resolve().parents[2] / "bot" / "data" / "demo-history.jsonl"


def test_compact_shrinks_the_files_and_keeps_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.json"
    assert main(["replay", str(DEMO), "--db", str(db)]) == 0
    journal = db.with_name(db.name + ".journal")
    assert journal.stat().st_size > 0
    before = read_store(db, lambda s: s.history.events())
    capsys.readouterr()
    assert main(["db", "compact", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"compacted {db}: ") and "(schema 4)" in out
    assert journal.stat().st_size == 0
    assert read_store(db, lambda s: s.history.events()) == before


def test_compact_without_a_database_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "compact", "--db", str(tmp_path / "none.json")]) == 2
    assert "no database at" in capsys.readouterr().err
