from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.engine.ingest import ingest
from bot.errors import StoreBusy, StoreCorrupt
from bot.store.database import Store, Stored
from tests.helpers import snap

B = 1_000_000_000


def test_identical_snapshot_is_not_stored_again(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as store:
        s = snap("2026-01-05", {"openai/a": 5 * B})
        assert store.add_snapshot(s) is Stored.NEW
        assert store.add_snapshot(s) is Stored.UNCHANGED
        assert store.snapshot_count() == 1


def test_restated_and_late_dates_are_history_not_news(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as store:
        store.add_snapshot(snap("2026-01-05", {"openai/a": 5 * B}))
        store.add_snapshot(snap("2026-01-12", {"openai/a": 6 * B}))
        assert store.add_snapshot(snap("2026-01-12", {"openai/a": 7 * B})) is Stored.RESTATED
        assert store.add_snapshot(snap("2025-12-29", {"openai/a": 4 * B})) is Stored.LATE
        history = store.snapshots("openrouter", "week")
        assert [s.as_of.isoformat() for s in history] == ["2025-12-29", "2026-01-05", "2026-01-12"]
        assert history[-1].entries[0].tokens == 7 * B
        latest = store.latest_snapshot("openrouter", "week")
        assert latest is not None and latest.entries[0].tokens == 7 * B


def test_everything_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    params, countries = DetectParams(), shipped_table()
    with Store.open(path) as store:
        ingest(
            store,
            snap("2026-01-05", {"google/g": 9 * B, "minimax/m": 8 * B}),
            params=params,
            countries=countries,
        )
    with Store.open(path) as store:
        result = ingest(
            store,
            snap("2026-01-12", {"google/g": 8 * B, "minimax/m": 9 * B}),
            params=params,
            countries=countries,
        )
        assert [e.kind for e in result.events] == ["new_leader", "country_flip"]
        assert [e.key for e in store.events()] == [e.key for e in result.events]
    with Store.open(path) as store:
        # the same snapshot again is neither stored nor announced twice
        again = ingest(
            store,
            snap("2026-01-12", {"google/g": 8 * B, "minimax/m": 9 * B}),
            params=params,
            countries=countries,
        )
        assert again.stored is Stored.UNCHANGED and again.events == []


def test_a_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    with Store.open(path):
        with pytest.raises(StoreBusy, match=r"in use by another rankbot process \(pid \d+\)"):
            Store.open(path)
        # readers never block and never corrupt
        with Store.open(path, readonly=True) as reader:
            assert reader.snapshot_count() == 0
    with Store.open(path):  # released on close
        pass


def test_schema_version_is_recorded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    Store.open(path).close()
    data = json.loads(path.read_text())
    assert data["meta"]["1"]["schema"] == 2
    data["meta"]["1"]["schema"] = 1  # an older rankbot's file is upgraded in place
    path.write_text(json.dumps(data))
    with Store.open(path, readonly=True) as reader:
        assert reader.schema_version == 1
    with Store.open(path) as store:
        assert store.schema_version == 2
    assert json.loads(path.read_text())["meta"]["1"]["schema"] == 2
    data["meta"]["1"]["schema"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(StoreCorrupt, match="schema version 99"):
        Store.open(path)


def test_garbage_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text("{not json")
    with pytest.raises(StoreCorrupt, match="not valid JSON"):
        Store.open(path)
    assert path.read_text() == "{not json"
