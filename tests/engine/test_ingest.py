"""Ingest (`bot.engine.ingest`): store → detect → log in one atomic write; repeats, restatements
and late dates are history, not news; a backfill's history is stored silently, together with
what its source records once it is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.countries import shipped_table
from bot.core.events import DetectorState, DetectParams
from bot.engine.ingest import ingest, ingest_baseline, store_baseline
from bot.sources.base import Fetched
from bot.store import keys
from bot.store.protocols import Store, Stored
from bot.store.tinydb import TinyStore
from bot.store.tinydb.journal import JournalWriter
from tests.helpers import snap

B = 1_000_000_000
PARAMS, COUNTRIES = DetectParams(), shipped_table()
WEEK_1 = snap("2026-01-05", {"google/g": 9 * B, "minimax/m": 8 * B, "openai/o": 1 * B})
WEEK_2 = snap("2026-01-12", {"google/g": 9 * B, "minimax/m": 10 * B, "openai/o": 1 * B})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with TinyStore.open(tmp_path / "db.json") as s:
        yield s


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the database's commits (each is one all-or-nothing write)."""
    count = [0]
    real = JournalWriter.submit

    def counting(self: JournalWriter, *args: Any) -> Any:
        count[0] += 1
        return real(self, *args)

    monkeypatch.setattr(JournalWriter, "submit", counting)
    return count


async def test_the_first_snapshot_is_a_silent_baseline(store: Store) -> None:
    first = await ingest(store, WEEK_1, params=PARAMS, countries=COUNTRIES)
    assert (first.stored, first.events) == (Stored.NEW, [])
    state = await store.state.get(keys.detector("openrouter", "week"))
    assert DetectorState.from_dict(state).leader == "google/g"
    assert await store.history.known_models("openrouter") == {"google/g", "minimax/m", "openai/o"}


async def test_news_is_stored_detected_and_logged_in_one_write(
    store: Store, flushes: list[int]
) -> None:
    await ingest(store, WEEK_1, params=PARAMS, countries=COUNTRIES)
    before = flushes[0]
    second = await ingest(store, WEEK_2, params=PARAMS, countries=COUNTRIES)
    assert flushes[0] - before == 1  # snapshot, detector state, known models, event log
    assert [e.kind for e in second.events] == ["new_leader", "country_flip"]
    assert [e.key for e in await store.history.events()] == [e.key for e in second.events]
    leader = DetectorState.from_dict(
        await store.state.get(keys.detector("openrouter", "week"))
    ).leader
    assert leader == "minimax/m"


async def test_repeats_restatements_and_late_dates_are_not_news(store: Store) -> None:
    await ingest(store, WEEK_1, params=PARAMS, countries=COUNTRIES)
    await ingest(store, WEEK_2, params=PARAMS, countries=COUNTRIES)
    logged = len(await store.history.events())
    again = await ingest(store, WEEK_2, params=PARAMS, countries=COUNTRIES)
    restated = await ingest(
        store,
        snap("2026-01-12", {"google/g": 20 * B, "minimax/m": 10 * B}),
        params=PARAMS,
        countries=COUNTRIES,
    )
    late = await ingest(
        store, snap("2025-12-29", {"openai/o": 30 * B}), params=PARAMS, countries=COUNTRIES
    )
    assert [r.stored for r in (again, restated, late)] == [
        Stored.UNCHANGED,
        Stored.RESTATED,
        Stored.LATE,
    ]
    assert all(r.events == [] for r in (again, restated, late))
    assert len(await store.history.events()) == logged


async def test_a_new_model_is_announced_once(store: Store) -> None:
    await ingest(store, WEEK_1, params=PARAMS, countries=COUNTRIES)
    newcomer = snap("2026-01-12", {"google/g": 9 * B, "minimax/m": 8 * B, "new/n": 2 * B})
    kinds = [
        e.kind for e in (await ingest(store, newcomer, params=PARAMS, countries=COUNTRIES)).events
    ]
    assert kinds.count("new_model") == 1
    later = snap("2026-01-19", {"google/g": 9 * B, "minimax/m": 8 * B, "new/n": 2 * B + 1})
    assert "new_model" not in [
        e.kind for e in (await ingest(store, later, params=PARAMS, countries=COUNTRIES)).events
    ]


async def test_baseline_import_is_silent_and_next_snapshot_compares_against_it(
    store: Store,
) -> None:
    history = [
        snap(f"2026-01-{d:02d}", {"google/g": 9 * B, "minimax/m": 8 * B}) for d in (5, 12, 19)
    ]
    assert await ingest_baseline(store, history, params=PARAMS, countries=COUNTRIES) == 3
    assert await store.history.events() == []
    nxt = await ingest(
        store,
        snap("2026-01-26", {"google/g": 9 * B, "minimax/m": 10 * B}),
        params=PARAMS,
        countries=COUNTRIES,
    )
    assert [e.kind for e in nxt.events] == ["new_leader", "country_flip"]


async def test_a_fetched_baseline_and_its_completion_mark_share_one_write(
    store: Store, flushes: list[int]
) -> None:
    marked: list[str] = []

    async def mark(s: Store) -> None:
        await s.state.set(keys.backfill("test"), {"complete": True})
        marked.append("done")

    before = flushes[0]
    fetched = Fetched(baseline=[WEEK_1, WEEK_2], on_stored=mark)
    added = await store_baseline(store, fetched, params=PARAMS, countries=COUNTRIES)
    assert (added, marked, flushes[0] - before) == (2, ["done"], 1)
    assert await store.state.get(keys.backfill("test")) == {"complete": True}
    assert await store.history.events() == []
    assert len(await store.history.snapshots("openrouter", "week")) == 2


async def test_news_alone_stores_no_baseline(store: Store) -> None:
    assert (
        await store_baseline(store, Fetched(news=[WEEK_1]), params=PARAMS, countries=COUNTRIES) == 0
    )
    assert await store.history.snapshots("openrouter", "week") == []
