"""The key → value state and each source's raw days."""

from __future__ import annotations

from bot.store.protocols import Store
from tests.store.contract.conftest import Backend


async def test_values_are_copied_in_and_out(store: Store, backend: Backend) -> None:
    value = {"since": "2025-01-01", "done": [1, 2]}
    await store.state.set("backfill:openrouter", value)
    value["done"].append(3)  # the caller's object is not the stored one
    read = await store.state.get("backfill:openrouter")
    assert read == {"since": "2025-01-01", "done": [1, 2]}
    read["done"].clear()
    assert await store.state.get("backfill:openrouter") == {"since": "2025-01-01", "done": [1, 2]}
    assert await store.state.get("missing") is None
    await store.state.set("backfill:openrouter", {"complete": True})
    store = await backend.reopen(store)
    assert await store.state.get("backfill:openrouter") == {"complete": True}


async def test_raw_days_are_kept_per_source_and_day(store: Store, backend: Backend) -> None:
    await store.days.put("openrouter", "2026-01-05", {"rows": {"a/x": "5"}, "as_of": "t1"})
    await store.days.put("openrouter", "2026-01-06", {"rows": {"a/x": "6"}, "as_of": "t1"})
    await store.days.put("openrouter", "2026-01-05", {"rows": {"a/x": "7"}, "as_of": "t2"})
    await store.days.put("csv", "2026-01-05", {"rows": {}})
    store = await backend.reopen(store)
    days = await store.days.load("openrouter")
    assert days == {
        "2026-01-05": {"rows": {"a/x": "7"}, "as_of": "t2"},
        "2026-01-06": {"rows": {"a/x": "6"}, "as_of": "t1"},
    }
    assert await store.days.load("nothing") == {}


async def test_raw_days_load_from_a_day_on_oldest_first_and_know_the_newest(
    store: Store, backend: Backend
) -> None:
    """A poll reads the days its windows need, not the whole history."""
    assert await store.days.newest("openrouter") is None
    for day in ("2026-01-07", "2026-01-05", "2026-01-06", "2025-12-31"):
        await store.days.put("openrouter", day, {"rows": {"a/x": day[-1]}})
    await store.days.put("csv", "2026-02-01", {"rows": {}})
    await store.days.put("openrouter", "2026-01-06", {"rows": {"a/x": "restated"}})
    for reopened in (False, True):
        if reopened:
            store = await backend.reopen(store)
        since = await store.days.load("openrouter", "2026-01-06")
        assert list(since.items()) == [
            ("2026-01-06", {"rows": {"a/x": "restated"}}),
            ("2026-01-07", {"rows": {"a/x": "7"}}),
        ]
        assert list(await store.days.load("openrouter")) == [
            "2025-12-31",
            "2026-01-05",
            "2026-01-06",
            "2026-01-07",
        ]
        assert await store.days.load("openrouter", "2026-01-08") == {}
        assert await store.days.newest("openrouter") == "2026-01-07"
        assert await store.days.newest("csv") == "2026-02-01"
