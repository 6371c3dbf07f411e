"""History: snapshots by stream and date, the event log, detector states, known models."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, baseline
from bot.store.protocols import Store, Stored
from tests.helpers import snap
from tests.store.contract.conftest import Backend

B = 1_000_000_000
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


async def test_identical_snapshot_is_not_stored_again(store: Store) -> None:
    s = snap("2026-01-05", {"openai/a": 5 * B})
    assert await store.history.add_snapshot(s) is Stored.NEW
    assert await store.history.add_snapshot(s) is Stored.UNCHANGED
    assert await store.history.snapshot_count() == 1


async def test_restated_and_late_dates_are_history_not_news(store: Store, backend: Backend) -> None:
    history = store.history
    await history.add_snapshot(snap("2026-01-05", {"openai/a": 5 * B}))
    await history.add_snapshot(snap("2026-01-12", {"openai/a": 6 * B}))
    assert await history.add_snapshot(snap("2026-01-12", {"openai/a": 7 * B})) is Stored.RESTATED
    assert await history.add_snapshot(snap("2025-12-29", {"openai/a": 4 * B})) is Stored.LATE
    store = await backend.reopen(store)
    stream = await store.history.snapshots("openrouter", "week")
    assert [s.as_of.isoformat() for s in stream] == ["2025-12-29", "2026-01-05", "2026-01-12"]
    assert stream[-1].entries[0].tokens == 7 * B
    latest = await store.history.latest_snapshot("openrouter", "week")
    assert latest is not None and latest.entries[0].tokens == 7 * B


async def test_streams_are_kept_apart_and_read_by_date(store: Store) -> None:
    history = store.history
    for day in ("2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08"):
        await history.add_snapshot(snap(day, {"openai/a": 5 * B}, period="day"))
    await history.add_snapshot(snap("2026-01-05", {"google/g": 5 * B}))
    await history.add_snapshot(snap("2026-01-05", {"x/y": 1}, source="other", period="day"))
    assert await history.streams() == [
        ("openrouter", "day"),
        ("openrouter", "week"),
        ("other", "day"),
    ]
    days = await history.snapshots("openrouter", "day", last=2, until=date(2026, 1, 7))
    assert [s.as_of.isoformat() for s in days] == ["2026-01-06", "2026-01-07"]
    assert await history.snapshots("openrouter", "day", last=0) == []
    assert await history.latest_snapshot("openrouter", "month") is None


async def test_the_event_log_keeps_each_key_once(store: Store, backend: Backend) -> None:
    a = snap("2026-01-05", {"google/g": 9 * B, "minimax/m": 8 * B})
    b = snap("2026-01-12", {"google/g": 8 * B, "minimax/m": 9 * B})
    from bot.core.events import detect

    _, state = detect(None, None, a, params=DetectParams(), countries=shipped_table())
    events, _ = detect(state, a, b, params=DetectParams(), countries=shipped_table())
    assert events
    fresh = await store.history.log_events(events + events[:1], NOW)
    assert [e.key for e in fresh] == [e.key for e in events]
    assert await store.history.log_events(events, NOW) == []
    store = await backend.reopen(store)
    assert await store.history.events() == events
    assert await store.history.events(last=1) == events[-1:]
    assert await store.history.log_events(events, NOW) == []


async def test_detector_state_and_known_models_survive(store: Store, backend: Backend) -> None:
    s = snap("2026-01-05", {"google/g": 9 * B, "minimax/m": 8 * B})
    state = baseline(s, DetectParams(), shipped_table())
    await store.history.set_detector_state("openrouter", "week", state)
    await store.history.add_known_models("openrouter", ["b/x", "a/y"])
    await store.history.add_known_models("openrouter", ["a/y", "c/z"])
    store = await backend.reopen(store)
    assert await store.history.detector_state("openrouter", "week") == state
    assert await store.history.detector_state("openrouter", "day") is None
    assert await store.history.known_models("openrouter") == {"a/y", "b/x", "c/z"}
    assert await store.history.known_models("other") == frozenset()
