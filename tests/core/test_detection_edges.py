"""The edges of every detection rule: each test pins one boundary a mutant moved unnoticed.

`scripts/mutation.py` makes one small change at a time to `bot/events.py` (a `<` for a `<=`,
a constant off by one, `min` for `max` …); the tests here are the ones that tell such a
change from the real rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bot.core.countries import shipped_table
from bot.core.events import (
    DEFAULT_MILESTONES,
    DetectorState,
    DetectParams,
    Event,
    baseline,
    detect,
    milestones_reached,
)
from bot.core.model import Snapshot
from tests.helpers import snap

B = 1_000_000_000
T = 1_000 * B
COUNTRIES = shipped_table()


def run(snapshots: Sequence[Snapshot], params: DetectParams | None = None) -> list[list[Event]]:
    params = params or DetectParams()
    state: DetectorState | None = None
    previous: Snapshot | None = None
    known: set[str] = set()
    out = []
    for s in snapshots:
        events, state = detect(
            state, previous, s, params=params, countries=COUNTRIES, known_models=known
        )
        state = DetectorState.from_dict(state.to_dict())
        known |= {e.model for e in s.entries}
        previous = s
        out.append(events)
    return out


def of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


def named(as_of: str, figures: Mapping[str, int]) -> Snapshot:
    """Entries whose display name differs from their id ("Name of x" for "openai/x")."""
    return Snapshot.create(
        source="openrouter",
        period="week",
        as_of=as_of,
        entries=[
            {"model": m, "name": f"Name of {m.split('/')[1]}", "tokens": t}
            for m, t in figures.items()
        ],
    )


def ladder(n: int, **changes: int) -> dict[str, int]:
    """n models m0 … m(n-1), 10 B apart from 200 B down; keywords override tokens (in B)."""
    figures = {f"openai/m{i}": (200 - 10 * i) * B for i in range(n)}
    figures.update({f"openai/{k}": v * B for k, v in changes.items()})
    return figures


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "ok"),
    [
        ({"top_n": 1}, True),
        ({"top_n": 50}, True),
        ({"top_n": 0}, False),
        ({"top_n": 51}, False),
        ({"extra_top_ns": (51,)}, False),
        ({"rank_move": 1}, True),
        ({"rank_move": 0}, False),
        ({"surge_pct": 0.001}, True),
        ({"surge_pct": 0}, False),
        ({"confirm": 1}, True),
        ({"confirm": 0}, False),
        ({"milestones": (1,)}, True),
        ({"milestones": (0,)}, False),
        ({"milestones": (5, -1)}, False),
    ],
)
def test_detect_params_accept_exactly_their_documented_ranges(
    kwargs: dict[str, object], ok: bool
) -> None:
    if ok:
        DetectParams(**kwargs)  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError):
            DetectParams(**kwargs)  # type: ignore[arg-type]


def test_defaults_are_the_documented_ones() -> None:
    d = DetectParams()
    assert (d.top_n, d.rank_move, d.surge_pct, d.confirm) == (10, 3, 50.0, 1)
    assert DEFAULT_MILESTONES == (1 * T, 2 * T, 5 * T, 10 * T)


# --- baseline and state ----------------------------------------------------------------------


def test_a_first_snapshot_is_a_baseline_even_when_a_previous_one_is_passed() -> None:
    first = snap("2026-01-05", ladder(3))
    events, state = detect(
        None,
        first,
        snap("2026-01-12", ladder(3, m2=500)),
        params=DetectParams(),
        countries=COUNTRIES,
    )
    assert events == []
    assert state.leader == "openai/m2"


def test_baseline_and_detected_states_have_complete_milestones() -> None:
    first, second = snap("2026-01-05", ladder(3)), snap("2026-01-12", ladder(3))
    state = baseline(first, DetectParams(), COUNTRIES)
    assert state.milestones_complete
    _, after = detect(state, first, second, params=DetectParams(), countries=COUNTRIES)
    assert after.milestones_complete
    assert DetectorState.from_dict(after.to_dict()).milestones_complete
    old = after.to_dict()
    del old["milestones_complete"]  # written by schema 1
    assert not DetectorState.from_dict(old).milestones_complete


def test_a_state_written_before_pending_changes_kept_their_base_still_works() -> None:
    """Schema-1 states hold pending changes as [value, count], without a base."""
    history = [snap("2026-01-05", ladder(12)), snap("2026-01-06", ladder(12, m11=155))]
    params = DetectParams(confirm=2)
    _, state = detect(None, None, history[0], params=params, countries=COUNTRIES)
    _, state = detect(state, history[0], history[1], params=params, countries=COUNTRIES)
    old = state.to_dict()
    old["pending"] = {k: v[:2] for k, v in old["pending"].items()}
    events, _ = detect(
        DetectorState.from_dict(old),
        history[1],
        snap("2026-01-07", ladder(12, m11=155)),
        params=params,
        countries=COUNTRIES,
        known_models=set(ladder(12)),
    )
    [entry] = of(events, "top_entry")
    assert entry.fields["model"] == "openai/m11"


def test_top_n_membership_of_unchanged_models_is_kept_in_the_state() -> None:
    first, second = snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m3=165))
    _, state = detect(None, None, first, params=DetectParams(), countries=COUNTRIES)
    _, state = detect(state, first, second, params=DetectParams(), countries=COUNTRIES)
    inside = {f"openai/m{i}": i < 10 for i in range(12)}
    assert state.top["10"] == inside


# --- coverage ---------------------------------------------------------------------------------


def test_a_previous_snapshot_covering_exactly_n_ranks_proves_an_entry() -> None:
    ten = ladder(10)
    grown = {**ten, "openai/new": 195 * B}  # listed at #2; the 10 before did not list it
    [_, events] = run([snap("2026-01-05", ten), snap("2026-01-12", grown)])
    assert [(e.fields["model"], e.fields["rank"]) for e in of(events, "top_entry")] == [
        ("openai/new", 2)
    ]


def test_a_current_snapshot_covering_exactly_n_ranks_proves_an_exit() -> None:
    eleven = ladder(11)
    ten_without_m2 = {m: t for m, t in eleven.items() if m != "openai/m2"}  # 10 rows
    [_, events] = run([snap("2026-01-05", eleven), snap("2026-01-12", ten_without_m2)])
    assert [e.fields["model"] for e in of(events, "top_exit")] == ["openai/m2"]


def test_a_model_at_exactly_rank_n_is_inside() -> None:
    eleven = ladder(11)
    swapped = ladder(11, m9=95, m10=190 - 90 + 5)  # m10 (#11) and m9 (#10) swap places
    [_, events] = run([snap("2026-01-05", eleven), snap("2026-01-12", swapped)])
    assert [(e.kind, e.fields["model"], e.fields["rank"]) for e in events if "top" in e.kind] == [
        ("top_entry", "openai/m10", 10),
        ("top_exit", "openai/m9", 11),
    ]


def test_an_exit_of_a_model_no_longer_listed_uses_its_earlier_name() -> None:
    rows = {f"openai/m{i}": (200 - 10 * i) * B for i in range(12)}
    gone = {m: t for m, t in rows.items() if m != "openai/m2"}
    gone["openai/other"] = 1 * B
    [_, events] = run([named("2026-01-05", rows), named("2026-01-12", gone)])
    [exit_] = of(events, "top_exit")
    assert (exit_.fields["name"], exit_.fields["previous_rank"]) == ("Name of m2", 3)


# --- leader and countries ---------------------------------------------------------------------


def test_new_leader_names_the_former_leader_even_when_it_is_no_longer_listed() -> None:
    a = named("2026-01-05", {"google/g": 10 * B, "minimax/m": 9 * B, "openai/o": 1 * B})
    b = named("2026-01-12", {"minimax/m": 12 * B, "openai/o": 1 * B})
    [_, events] = run([a, b])
    [leader] = of(events, "new_leader")
    assert leader.fields["previous_name"] == "Name of g"
    assert (leader.fields["previous_tokens"], leader.fields["previous_tokens_now"]) == (
        10 * B,
        None,
    )


def test_a_snapshot_of_only_unattributed_models_changes_no_country() -> None:
    us = snap("2026-01-05", {"openai/x": 10 * B, "deepseek/y": 5 * B})
    cloaked = snap("2026-01-12", {"stealth/s": 10 * B, "openrouter/o": 5 * B})
    cn = snap("2026-01-19", {"openai/x": 5 * B, "deepseek/y": 10 * B})
    [_, during, after] = run([us, cloaked, cn])
    assert of(during, "country_flip") == []
    [flip] = of(after, "country_flip")
    assert (flip.fields["previous_country"], flip.fields["country"]) == ("US", "CN")


def test_the_first_attributed_snapshot_sets_the_country_silently() -> None:
    cloaked = snap("2026-01-05", {"stealth/s": 10 * B})
    cn = snap("2026-01-12", {"stealth/s": 10 * B, "deepseek/y": 5 * B})
    us = snap("2026-01-19", {"stealth/s": 10 * B, "openai/x": 6 * B, "deepseek/y": 5 * B})
    [_, first, second] = run([cloaked, cn, us])
    assert of(first, "country_flip") == []
    assert [e.fields["country"] for e in of(second, "country_flip")] == ["US"]


# --- moves, surges, milestones ----------------------------------------------------------------


def test_a_move_of_exactly_rank_move_places_is_news_and_not_below_default() -> None:
    # m6 (#7) climbs exactly 3 places to #4 (175 B sits between m2's 180 and m3's 170)
    [_, events] = run([snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m6=175))])
    moves = {e.fields["model"]: e for e in of(events, "rank_change")}
    assert moves["openai/m6"].fields["move"] == 3
    assert moves["openai/m6"].fields["below_default"] is False
    # m3, m4, m5 each went down one place: not news
    assert set(moves) == {"openai/m6"}


def test_a_move_of_rank_move_minus_one_is_news_only_for_a_lower_floor() -> None:
    # m6 (#7) climbs 2 places to #5 (165 B, between m3's 170 and m4's 160)
    before, after = snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m6=165))
    [_, plain] = run([before, after])
    assert [e.fields["model"] for e in of(plain, "rank_change")] == []
    # m5 (#6) climbs 2 places to #4 (175 B, between m2's 180 and m3's 170)
    before2, after2 = snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m5=175))
    [_, floor] = run([before2, after2], DetectParams(rank_move_floor=2))
    moved = {e.fields["model"]: e.fields["below_default"] for e in of(floor, "rank_change")}
    assert moved == {"openai/m5": True}


def test_rank_changes_count_inside_the_largest_watched_top_n() -> None:
    """With top 5 and top 10 watched, a model moving #10 → #7 is inside the top 10: news.

    (145 B sits between m5's 150 and m6's 140.)"""
    params = DetectParams(top_n=5, extra_top_ns=(10,))
    [_, events] = run(
        [snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m9=145))], params
    )
    moves = [
        (e.fields["model"], e.fields["previous_rank"], e.fields["rank"])
        for e in of(events, "rank_change")
    ]
    assert moves == [("openai/m9", 10, 7)]


def test_a_move_down_to_exactly_rank_n_counts() -> None:
    """m6 (#7) falls to #10 (105 B, between m9's 110 and m10's 100): inside, 3 places down."""
    [_, events] = run(
        [snap("2026-01-05", ladder(14)), snap("2026-01-12", ladder(14, m6=105))],
        DetectParams(top_n=10),
    )
    assert [
        (e.fields["model"], e.fields["rank"], e.fields["move"]) for e in of(events, "rank_change")
    ] == [("openai/m6", 10, -3)]
    assert [e for e in events if e.kind.startswith("top_")] == []


def test_a_surge_of_exactly_surge_pct_is_news_and_not_below_default() -> None:
    a = {"openai/a": 100 * B, "openai/b": 100 * B}
    b = {"openai/a": 150 * B, "openai/b": 100 * B}
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    [surge] = of(events, "surge")
    assert (surge.fields["change_pct"], surge.fields["below_default"]) == (50.0, False)


def test_change_pct_is_rounded_to_one_decimal() -> None:
    a = {"openai/a": 300 * B, "openai/b": 1 * B}
    b = {"openai/a": 700 * B, "openai/b": 1 * B}  # +133.333… %
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    assert [e.fields["change_pct"] for e in of(events, "surge")] == [133.3]


def test_small_changes_below_one_percent_keep_their_direction() -> None:
    params = DetectParams(surge_pct_floor=0.5)
    a = {"openai/up": 1000 * B, "openai/down": 1000 * B}
    b = {"openai/up": 1007 * B, "openai/down": 993 * B}  # +0.7 % and -0.7 %
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)], params)
    got = {
        (e.kind, e.fields["model"], e.fields["change_pct"])
        for e in events
        if e.kind in ("surge", "drop")
    }
    assert got == {("surge", "openai/up", 0.7), ("drop", "openai/down", -0.7)}


@pytest.mark.parametrize("threshold", DEFAULT_MILESTONES)
def test_a_milestone_is_reached_at_exactly_its_threshold(threshold: int) -> None:
    a = {"openai/a": threshold - 1, "openai/z": 1}
    b = {"openai/a": threshold, "openai/z": 1}
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    assert [e.fields["threshold"] for e in of(events, "milestone")] == [threshold]


# --- order --------------------------------------------------------------------------------------


def test_events_of_one_kind_come_out_in_rank_order() -> None:
    a = {f"openai/{c}": (100 - i) * B for i, c in enumerate("abcdefgh")}
    b = dict(a)
    for c in "hgfe":  # four surges; h ends highest, e lowest of them
        b[f"openai/{c}"] = a[f"openai/{c}"] * 3 + {"h": 40, "g": 30, "f": 20, "e": 10}[c] * B
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    surges = of(events, "surge")
    assert [e.fields["model"] for e in surges] == [f"openai/{c}" for c in "hgfe"]
    assert [e.fields["rank"] for e in surges] == [1, 2, 3, 4]


def test_a_threshold_of_a_single_token_is_reached_from_zero() -> None:
    a = {"openai/a": 0, "openai/z": 5}
    b = {"openai/a": 1, "openai/z": 5}
    [_, events] = run([snap("2026-01-05", a), snap("2026-01-12", b)], DetectParams(milestones=(1,)))
    assert [(e.fields["model"], e.fields["threshold"]) for e in of(events, "milestone")] == [
        ("openai/a", 1)
    ]


def test_a_baseline_remembers_a_threshold_of_a_single_token() -> None:
    history = [snap("2026-01-05", {"openai/a": 1, "openai/z": 0})]
    assert milestones_reached(history, (1,)) == {"openai/a": 1}


def test_a_move_that_enters_a_smaller_top_n_is_still_a_move_inside_the_larger_one() -> None:
    """Tops 5 and 10 watched: m7 (#8) climbs to #5 (165 B, between m3's 170 and m4's 160).

    It enters the top 5 (an entry there) and moved 3 places inside the top 10 it was in
    already: the move is emitted once, saying which top N it entered."""
    params = DetectParams(top_n=10, extra_top_ns=(5,))
    [_, events] = run(
        [snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m7=165))], params
    )
    assert [e.subject for e in of(events, "top_entry")] == ["openai/m7@top5"]
    [move] = of(events, "rank_change")
    assert (move.fields["model"], move.fields["move"], move.fields["entered_top"]) == (
        "openai/m7",
        3,
        [5],
    )
    # with the top 10 alone nothing is entered and nothing says so
    [_, alone] = run([snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m7=165))])
    [plain] = of(alone, "rank_change")
    assert "entered_top" not in plain.fields


def test_entering_the_only_watched_top_n_is_an_entry_and_no_move() -> None:
    # m11 (#12) climbs to #6 (155 B): an entry into the top 10, not also a move
    [_, events] = run([snap("2026-01-05", ladder(12)), snap("2026-01-12", ladder(12, m11=155))])
    assert [e.subject for e in of(events, "top_entry")] == ["openai/m11@top10"]
    assert [e for e in of(events, "rank_change") if e.subject == "openai/m11"] == []
