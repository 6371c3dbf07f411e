"""Window arithmetic: trailing week and month from daily rows, lower bounds, totals, and the
rolling week's confirmation rule through the real pipeline."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.engine.ingest import ingest
from bot.sources.openrouter.rows import Day
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.windows import (
    affected_ends,
    attribution,
    snapshots_for,
    window_dates,
    window_snapshot,
)
from bot.store.tinydb import TinyStore

END = date(2026, 7, 31)


def day(d: date, tokens: dict[str, int], other: int = 100) -> Day:
    filler = {f"lab/filler-{i:02d}": 10 for i in range(10)}
    return Day(d, {**filler, **tokens}, other, f"{(d + timedelta(days=1)).isoformat()}T02:00:00Z")


def days_ending(end: date, n: int, tokens: dict[str, int] | None = None) -> list[Day]:
    return [day(end - timedelta(days=n - 1 - i), tokens or {"a/x": 1000}) for i in range(n)]


def name(model: str) -> str:
    return model.upper()


def test_window_dates_are_the_trailing_completed_days() -> None:
    assert window_dates(END, "day") == [END]
    week = window_dates(END, "week")
    assert week[0] == date(2026, 7, 25) and week[-1] == END and len(week) == 7
    month = window_dates(END, "month")
    assert month[0] == date(2026, 7, 2) and len(month) == 30


def test_a_week_sums_each_model_over_its_seven_days() -> None:
    days = days_ending(END, 7, {"a/x": 1000, "b/y": 500})
    snap = window_snapshot(days, "week", name)
    assert snap.period == "week" and snap.as_of == END and snap.source == "openrouter"
    assert [(e.model, e.tokens) for e in snap.entries[:2]] == [("a/x", 7000), ("b/y", 3500)]
    assert snap.get("a/x").name == "A/X"  # type: ignore[union-attr]
    assert not any(e.lower_bound for e in snap.entries)
    assert snap.total == 7 * (1000 + 500 + 10 * 10 + 100)  # listed + other, every day
    assert snap.attribution == attribution("2026-08-01T02:00:00Z")
    assert (
        snap.attribution
        == "Source: OpenRouter (openrouter.ai/rankings), as of 2026-08-01T02:00:00Z."
    )


def test_a_model_missing_from_some_days_is_a_lower_bound() -> None:
    days = days_ending(END, 7, {"a/x": 1000})
    days[2] = day(days[2].date, {"a/x": 1000, "b/y": 4000})
    days[5] = day(days[5].date, {"a/x": 1000, "b/y": 4000})
    snap = window_snapshot(days, "week", name)
    entry = snap.get("b/y")
    assert entry is not None and entry.tokens == 8000 and entry.lower_bound
    assert not snap.get("a/x").lower_bound  # type: ignore[union-attr]
    assert snap.to_dict()["entries"][0] == {
        "model": "b/y",
        "name": "B/Y",
        "author": "b",
        "tokens": 8000,
        "lower_bound": True,
    }


def test_a_month_is_thirty_days_and_keeps_the_top_50() -> None:
    days = []
    for i in range(30):
        d = END - timedelta(days=29 - i)
        days.append(day(d, {f"m/model-{i:02d}-{k}": 100 + k for k in range(3)}))
    snap = window_snapshot(days, "month", name)
    assert snap.as_of == END and len(snap.entries) == 50
    assert all(e.lower_bound for e in snap.entries if e.model.startswith("m/"))
    assert snap.total == sum(d.total for d in days)
    assert snap.total > snap.listed_total


def test_a_window_with_a_missing_day_is_refused() -> None:
    days = days_ending(END, 7)
    with pytest.raises(ValueError, match="7 consecutive days"):
        window_snapshot(days[:3] + days[4:] + [day(END + timedelta(days=1), {})], "week", name)


def test_affected_ends_cover_every_window_containing_a_changed_day() -> None:
    held = set(window_dates(END, "month"))
    assert affected_ends([END], held, "week") == [END]
    changed = END - timedelta(days=3)
    assert affected_ends([changed], held, "week") == [changed + timedelta(days=k) for k in range(4)]
    # held from 07-02: the weeks ending 07-03 … 07-07 would need days before it
    early = date(2026, 7, 3)
    assert affected_ends([early], held, "week") == [date(2026, 7, 8), date(2026, 7, 9)]


def test_snapshots_for_orders_day_before_week_on_each_date() -> None:
    held = {d.date: d for d in days_ending(END, 8)}
    snaps = snapshots_for([END], held, ("week", "day"), name)
    assert [(s.as_of, s.period) for s in snaps] == [(END, "day"), (END, "week")]


async def test_a_leader_change_in_the_rolling_week_needs_two_consecutive_days(
    tmp_path: Path,
) -> None:
    """Daily figures: `a` leads the week until `b` surges; the week's confirm is 2 (settings)."""
    settings = SourceSettings()
    params = DetectParams(confirm=settings.confirm_for("week"))
    assert params.confirm == 2
    start = date(2026, 7, 1)
    daily = {start + timedelta(days=i): {"a/x": 1000, "b/y": 900} for i in range(22)}
    for i in (10, 11):  # b's week: 6300 → 6900 (day 10) → 7500 (day 11) against a's 7000
        daily[start + timedelta(days=i)] = {"a/x": 1000, "b/y": 1500}
    held = {d: day(d, t) for d, t in daily.items()}
    leaders: dict[date, str] = {}
    announced: list[tuple[date, str]] = []
    async with TinyStore.open(tmp_path / "db.json") as store:
        for snapshot in snapshots_for(list(held), held, ("week",), name):
            leaders[snapshot.as_of] = snapshot.leader.model
            result = await ingest(store, snapshot, params=params, countries=shipped_table())
            announced += [
                (e.as_of, e.fields["model"]) for e in result.events if e.kind == "new_leader"
            ]
    took, lost = start + timedelta(days=11), start + timedelta(days=17)
    assert [d for d, m in sorted(leaders.items()) if m == "b/y"] == [
        took + timedelta(days=k) for k in range(6)
    ]
    # b leads the week from day 11, a again from day 17 (when b's surge left the window):
    # each change is announced once, on its second consecutive day, never on the first
    assert announced == [(took + timedelta(days=1), "b/y"), (lost + timedelta(days=1), "a/x")]
