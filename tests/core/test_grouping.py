"""How a grouped post is laid out (`bot.core.grouping`): one section per snapshot, newest
first, events by importance inside; what its headline names; which line it cites."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.core.events import KINDS, Event
from bot.core.grouping import (
    citation,
    date_span,
    day_label,
    newest,
    ordered,
    sections,
    span,
    window_label,
)
from bot.core.messages import ChannelRef
from bot.core.planning import CatchUp, catch_up_note, grouped
from bot.core.text import T

D = date(2026, 2, 16)
CH = ChannelRef("slack", "T1", "C1")


def ev(
    kind: str,
    subject: str,
    *,
    as_of: date = D,
    period: str = "week",
    rank: int | None = 1,
    attribution: str | None = None,
    **fields: Any,
) -> Event:
    return Event(kind, "openrouter", period, as_of, subject, {"rank": rank, **fields}, attribution)


def test_sections_are_one_per_snapshot_newest_first_by_importance_inside() -> None:
    old_leader = ev("new_leader", "a/one", as_of=D - timedelta(days=28))
    old_move = ev("rank_change", "b/two", as_of=D - timedelta(days=28), rank=4)
    new_move = ev("rank_change", "c/three", rank=6)
    new_entry = ev("top_entry", "d/four", rank=9)
    day_surge = ev("surge", "e/five", period="day", rank=3)
    found = sections([old_move, new_move, old_leader, day_surge, new_entry])
    assert [(s.period, s.as_of) for s in found] == [
        ("week", D),  # its best event (an entry) outranks the day's best (a surge)
        ("day", D),
        ("week", D - timedelta(days=28)),
    ]
    assert found[0].events == (new_entry, new_move)
    assert found[2].events == (old_leader, old_move)
    assert ordered([old_move, new_move, old_leader, day_surge, new_entry]) == [
        new_entry,
        new_move,
        day_surge,
        old_leader,
        old_move,
    ]


def test_snapshots_of_one_date_tie_on_importance_then_day_week_month() -> None:
    month = ev("surge", "a/x", period="month")
    week = ev("surge", "a/x", period="week")
    day = ev("surge", "a/x", period="day")
    assert [s.period for s in sections([month, week, day])] == ["day", "week", "month"]


def test_inside_a_section_ties_go_by_rank_then_subject() -> None:
    a = ev("top_entry", "z/late", rank=3, top_n=10)
    b = ev("top_entry", "a/early", rank=9, top_n=10)
    c = ev("top_entry", "m/mid", rank=3, top_n=5)
    unranked = ev("new_model", "n/new", rank=None)
    assert ordered([unranked, b, a, c]) == [c, a, b, unranked]


events_strategy = st.lists(
    st.builds(
        lambda kind, subject, days, period, rank: ev(
            kind, subject, as_of=D - timedelta(days=days), period=period, rank=rank
        ),
        st.sampled_from(KINDS),
        st.sampled_from(["a/1", "b/2", "c/3"]),
        st.integers(0, 5),
        st.sampled_from(["day", "week", "month"]),
        st.integers(1, 12),
    ),
    max_size=25,
)


@given(events_strategy)
def test_the_order_is_a_permutation_newest_first_with_contiguous_sections(
    events: list[Event],
) -> None:
    flat = ordered(events)
    assert sorted(map(id, flat)) == sorted(map(id, events))
    assert [e.as_of for e in flat] == sorted((e.as_of for e in flat), reverse=True)
    seen: list[tuple[str, date]] = []
    for e in flat:
        if not seen or seen[-1] != (e.period, e.as_of):
            assert (e.period, e.as_of) not in seen  # a snapshot is one run, never split
            seen.append((e.period, e.as_of))
    # what a cut post shows lays out the same: the first events keep their sections
    for cut in range(len(flat) + 1):
        assert ordered(flat[:cut]) == flat[:cut]


def test_span_names_one_snapshots_window_or_the_dates_of_several() -> None:
    one = span([ev("surge", "a/x"), ev("drop", "b/y")])
    assert (one.events, one.snapshots, one.first, one.last, one.period) == (2, 1, D, D, "week")
    old = D - timedelta(days=28)
    many = span([ev("surge", "a/x"), ev("drop", "b/y", as_of=old), ev("drop", "b/y", period="day")])
    assert (many.events, many.snapshots, many.first, many.last, many.period) == (3, 3, old, D, None)


def test_the_citation_is_the_newest_snapshots_line() -> None:
    old = ev("new_leader", "a/x", as_of=D - timedelta(days=7), attribution="as of OLD")
    fresh = ev("rank_change", "b/y", rank=5, attribution="as of NEW")
    silent = ev("new_leader", "c/z", as_of=D + timedelta(days=1))  # no attribution at all
    assert citation([old, fresh]) == "as of NEW"
    assert citation([old, fresh, silent]) == "as of NEW"
    assert citation([silent]) is None


def test_newest_keeps_only_the_latest_date() -> None:
    old_leader = ev("new_leader", "a/x", as_of=D - timedelta(days=7))
    move = ev("rank_change", "b/y", rank=5)
    day_leader = ev("new_leader", "c/z", period="day")
    assert newest([old_leader, move, day_leader]) == [day_leader, move]
    assert newest([]) == []


def test_labels_say_what_a_window_covers() -> None:
    assert day_label(date(2026, 4, 11)) == "11 Apr 2026"
    assert window_label("day", date(2026, 4, 11)) == "11 Apr 2026"
    assert window_label("week", date(2026, 4, 11)) == "7 days to 11 Apr 2026"
    assert window_label("month", date(2026, 4, 11)) == "30 days to 11 Apr 2026"
    assert date_span(date(2026, 4, 11), date(2026, 4, 11)) == "11 Apr 2026"
    assert date_span(date(2026, 1, 19), date(2026, 2, 16)) == "19 Jan – 16 Feb 2026"
    assert date_span(date(2025, 12, 28), date(2026, 1, 3)) == "28 Dec 2025 – 3 Jan 2026"


def test_a_catch_up_note_says_how_many_days_and_what_went_in_silently() -> None:
    long = CatchUp(days=49, first=date(2026, 2, 22), last=date(2026, 4, 11), announced_days=3)
    # the core says what to say (a message id and its values); its English:
    assert catch_up_note(long).english() == (
        "↻ rankbot caught up 49 days after an outage (22 Feb – 11 Apr 2026); changes older "
        "than 3 days went in silently."
    )
    short = CatchUp(days=1, first=date(2026, 4, 11), last=date(2026, 4, 11), announced_days=1)
    assert (
        catch_up_note(short).english() == "↻ rankbot caught up 1 day after an outage (11 Apr 2026)."
    )
    assert (
        "older than 1 day went"
        in catch_up_note(
            CatchUp(days=4, first=date(2026, 4, 8), last=date(2026, 4, 11), announced_days=1)
        ).english()
    )


def test_the_note_is_not_part_of_the_posts_key() -> None:
    events = [ev("new_leader", "a/x"), ev("surge", "b/y", rank=4)]
    plain = grouped(CH, events)
    noted = grouped(CH, events, note=T("↻ caught up"))
    assert noted.key == plain.key and noted.note == T("↻ caught up")
    assert plain.note is None
