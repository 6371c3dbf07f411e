"""The edges of payload validation (`bot/openrouter/rows.py`) and of window sums.

Each test pins one boundary: exactly 10 models, exactly 10×, the day exactly before, exactly
today, zero totals, a blank `meta.as_of`, a model missing from exactly one day of a window.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from bot.sources.openrouter.rows import (
    MAX_JUMP,
    MIN_MODELS,
    Day,
    SuspectPayload,
    jump_reason,
    parse_payload,
    parse_tokens,
    screen,
)
from bot.sources.openrouter.windows import LENGTH, TOP, affected_ends, window_dates, window_snapshot

TODAY = date(2026, 8, 1)
YESTERDAY = TODAY - timedelta(days=1)
AS_OF = "2026-08-01T02:00:00Z"


def rows(d: date, n: int = 10, *, other: int | None = 5, base: int = 100) -> list[dict[str, Any]]:
    out = [
        {"date": d.isoformat(), "model_permaslug": f"lab/m{i:02d}", "total_tokens": str(base + i)}
        for i in range(n)
    ]
    if other is not None:
        out.append({"date": d.isoformat(), "model_permaslug": "other", "total_tokens": str(other)})
    return out


def payload(data: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {"meta": {"version": "v1", "as_of": AS_OF, **meta}, "data": data}


def test_the_limits_are_the_documented_ones() -> None:
    assert (MIN_MODELS, MAX_JUMP, TOP) == (10, 10, 50)
    assert dict(LENGTH) == {"day": 1, "week": 7, "month": 30}


# --- the payload ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "not a JSON object"),
        ({"data": []}, "no 'meta' object"),
        ({"meta": {"version": "v2", "as_of": AS_OF}, "data": []}, "unknown meta.version"),
        ({"meta": {"version": "v1"}, "data": []}, "meta.as_of is missing"),
        ({"meta": {"version": "v1", "as_of": "  "}, "data": []}, "meta.as_of is missing"),
        ({"meta": {"version": "v1", "as_of": 5}, "data": []}, "meta.as_of is missing"),
        ({"meta": {"version": "v1", "as_of": AS_OF}}, "no 'data' list"),
        ({"meta": {"version": "v1", "as_of": AS_OF}, "data": [5]}, "row 1 is not an object"),
        (payload([{"date": "2026-13-01"}]), "row 1: 'date' must be a date"),
        (payload([{"model_permaslug": "a/b"}]), "row 1: 'date' must be a date"),
    ],
)
def test_a_payload_that_cannot_be_trusted_is_rejected_whole(body: Any, reason: str) -> None:
    with pytest.raises(SuspectPayload, match=reason):
        parse_payload(body, today=TODAY)


def test_a_good_payload_keeps_as_of_and_days_in_order() -> None:
    older = YESTERDAY - timedelta(days=1)
    parsed = parse_payload(payload(rows(YESTERDAY) + rows(older)), today=TODAY)
    assert parsed.as_of == AS_OF
    assert [d.date for d in parsed.days] == [older, YESTERDAY]
    assert parsed.rejected == ()
    day = parsed.days[1]
    assert day.other == 5 and day.total == sum(100 + i for i in range(10)) + 5
    assert day.as_of == AS_OF


# --- one day ----------------------------------------------------------------------------------


def test_exactly_ten_models_is_a_day_and_nine_is_not() -> None:
    older = YESTERDAY - timedelta(days=1)
    parsed = parse_payload(payload(rows(YESTERDAY, 10) + rows(older, 9)), today=TODAY)
    assert [d.date for d in parsed.days] == [YESTERDAY]
    assert [(r.day, r.reason) for r in parsed.rejected] == [
        (older, "only 9 models (at least 10 expected)")
    ]


def test_today_is_not_a_completed_day_but_yesterday_is() -> None:
    parsed = parse_payload(payload(rows(YESTERDAY) + rows(TODAY)), today=TODAY)
    assert [d.date for d in parsed.days] == [YESTERDAY]
    assert [str(r) for r in parsed.rejected] == [
        "2026-08-01: not a completed UTC day (today is 2026-08-01)"
    ]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"model_permaslug": "lab/m03", "total_tokens": "1"}, "lab/m03 is listed twice"),
        ({"model_permaslug": "other", "total_tokens": "1"}, "two 'other' rows"),
        ({"model_permaslug": " ", "total_tokens": "1"}, "a row has no 'model_permaslug'"),
        ({"model_permaslug": "lab/x", "total_tokens": "-1"}, "'total_tokens' must be"),
        ({"model_permaslug": "lab/x", "total_tokens": "1.5"}, "'total_tokens' must be"),
    ],
)
def test_a_suspect_row_rejects_its_day_only(extra: dict[str, str], reason: str) -> None:
    older = YESTERDAY - timedelta(days=1)
    bad = [*rows(older), {"date": older.isoformat(), **extra}]
    parsed = parse_payload(payload(rows(YESTERDAY) + bad), today=TODAY)
    assert [d.date for d in parsed.days] == [YESTERDAY]
    [rejection] = parsed.rejected
    assert rejection.day == older and reason in rejection.reason


def test_a_day_without_an_other_row_has_no_other_volume() -> None:
    [day] = parse_payload(payload(rows(YESTERDAY, other=None)), today=TODAY).days
    assert day.other == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("12", 12), (" 12 ", 12), (0, 0), (7, 7), ("99999999999999999999", 10**20 - 1)],
)
def test_token_figures_are_exact_non_negative_integers(value: Any, expected: int) -> None:
    assert parse_tokens(value, "lab/x") == expected


@pytest.mark.parametrize("value", ["-1", "1e3", "", None, True, -1, 1.0, "١٢٣"])
def test_anything_else_is_not_a_token_figure(value: Any) -> None:
    with pytest.raises(ValueError, match="lab/x: 'total_tokens' must be a non-negative decimal"):
        parse_tokens(value, "lab/x")


def test_a_day_round_trips_through_its_stored_form() -> None:
    [day] = parse_payload(payload(rows(YESTERDAY)), today=TODAY).days
    assert Day.from_doc(day.to_doc()) == day
    assert day.to_doc()["rows"]["other"] == "5"
    doc = day.to_doc()
    del doc["rows"]["other"]  # a day stored without an `other` row
    assert Day.from_doc(doc).other == 0


# --- the 10× jump check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "now", "suspect"),
    [
        (None, 5, False),
        (100, 1000, False),  # exactly 10×
        (100, 1001, True),
        (1000, 100, False),  # exactly a tenth
        (1000, 99, True),
        (0, 0, False),
        (0, 5, True),
        (5, 0, True),
    ],
)
def test_jump_reason_edges(before: int | None, now: int, suspect: bool) -> None:
    assert (jump_reason(before, now) is not None) is suspect


def test_screen_compares_with_exactly_the_day_before() -> None:
    d1, d2, d3 = (date(2026, 7, 1) + timedelta(days=i) for i in range(3))
    day2 = Day(d2, {"a": 1000}, 0, AS_OF)
    day3 = Day(d3, {"a": 100_000}, 0, AS_OF)  # 100× day 2, but day 1 is not its day before
    accepted, rejected = screen([day3], {d1: 100_000, d2: 1000})
    assert accepted == [] and [r.day for r in rejected] == [d3]
    accepted, rejected = screen([day2, day3], {d1: 100_000})
    # day 2 is 100× below day 1 → rejected; day 3 then has no known day before → accepted
    assert [d.date for d in accepted] == [d3] and [r.day for r in rejected] == [d2]
    # a day two days after the stored one has no day before: accepted whatever its size
    accepted, _ = screen([day3], {d1: 1})
    assert [d.date for d in accepted] == [d3]


def test_screen_checks_a_day_against_the_one_just_accepted() -> None:
    d1, d2 = date(2026, 7, 1), date(2026, 7, 2)
    accepted, rejected = screen(
        [Day(d2, {"a": 50_000}, 0, AS_OF), Day(d1, {"a": 1000}, 0, AS_OF)], {}
    )
    assert [d.date for d in accepted] == [d1] and [r.day for r in rejected] == [d2]


# --- windows ----------------------------------------------------------------------------------


def filler_day(d: date, extra: dict[str, int]) -> Day:
    return Day(d, {**{f"lab/f{i}": 1 for i in range(10)}, **extra}, 0, f"{d}T23:00:00Z")


def test_a_model_missing_from_exactly_one_day_of_its_window_is_a_lower_bound() -> None:
    end = date(2026, 7, 31)
    days = [filler_day(d, {"a/x": 10, "b/y": 10}) for d in window_dates(end, "week")]
    days[0] = filler_day(days[0].date, {"a/x": 10})  # b/y missing from the oldest day only
    snap = window_snapshot(days, "week", str)
    assert (snap.get("b/y").tokens, snap.get("b/y").lower_bound) == (60, True)  # type: ignore[union-attr]
    assert snap.get("a/x").lower_bound is False  # type: ignore[union-attr]
    # as_of cites the newest data of the window
    assert snap.attribution is not None and str(end) in snap.attribution


def test_a_window_keeps_exactly_the_top_50() -> None:
    end = date(2026, 7, 31)
    many = {f"lab/m{i:02d}": 100 + i for i in range(60)}
    snap = window_snapshot([filler_day(end, many)], "day", str)
    assert len(snap.entries) == TOP
    assert snap.entries[-1].model == "lab/m10"


def test_affected_ends_need_every_day_of_the_window_held() -> None:
    end = date(2026, 7, 31)
    held = set(window_dates(end, "week"))
    assert affected_ends([end - timedelta(days=6)], held, "week") == [end]
    assert affected_ends([end - timedelta(days=6)], held - {end - timedelta(days=3)}, "week") == []
    assert affected_ends([end], held, "day") == [end]


def test_a_permaslug_with_control_characters_or_spaces_rejects_its_day() -> None:
    older = YESTERDAY - timedelta(days=1)
    bad = [
        *rows(older),
        {"date": older.isoformat(), "model_permaslug": "lab/x\u0007", "total_tokens": "1"},
    ]
    spaced = [
        *rows(YESTERDAY),
        {"date": YESTERDAY.isoformat(), "model_permaslug": "lab/a b", "total_tokens": "1"},
    ]
    parsed = parse_payload(payload(bad + spaced), today=TODAY)
    assert parsed.days == ()
    reasons = [r.reason for r in parsed.rejected]
    assert "control character U+0007" in reasons[0] and "must not contain spaces" in reasons[1]
