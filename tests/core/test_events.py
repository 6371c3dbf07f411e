"""Event semantics. Each test states a rule from the design in its name."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.countries import shipped_table
from bot.core.events import KINDS, DetectorState, DetectParams, Event, detect
from bot.core.model import Snapshot
from tests.helpers import snap

T = 1_000_000_000_000
B = 1_000_000_000
COUNTRIES = shipped_table()


def run(snapshots: Sequence[Snapshot], params: DetectParams | None = None) -> list[list[Event]]:
    """Feed snapshots through detect like the pipeline does; events per snapshot."""
    params = params or DetectParams()
    state: DetectorState | None = None
    previous: Snapshot | None = None
    known: set[str] = set()
    out = []
    for s in snapshots:
        events, state = detect(
            state, previous, s, params=params, countries=COUNTRIES, known_models=known
        )
        # the state must survive the store's JSON round trip unchanged
        state = DetectorState.from_dict(state.to_dict())
        known |= {e.model for e in s.entries}
        previous = s
        out.append(events)
    return out


def kinds(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.kind, e.subject) for e in events]


def ten(prefix: str = "m", *, start: int = 100) -> dict[str, int]:
    return {f"openai/{prefix}{i}": (start - i) * B for i in range(10)}


def test_first_snapshot_is_a_silent_baseline() -> None:
    [first] = run([snap("2026-01-05", {"minimax/a": 3 * T, "openai/b": T})])
    assert first == []


def test_new_leader_with_previous_leader_figures() -> None:
    a = snap("2026-01-05", {"google/g": 900 * B, "minimax/m": 800 * B})
    b = snap("2026-01-12", {"google/g": 850 * B, "minimax/m": 1700 * B}, total=5 * T)
    _, events = run([a, b])
    [leader] = [e for e in events if e.kind == "new_leader"]
    assert leader.fields["model"] == "minimax/m"
    assert leader.fields["tokens"] == 1700 * B
    assert leader.fields["previous_model"] == "google/g"
    assert leader.fields["previous_tokens"] == 900 * B
    assert leader.fields["previous_tokens_now"] == 850 * B
    assert leader.fields["share"] == 1700 * B / (5 * T)
    assert leader.key == "new_leader:openrouter:week:2026-01-12:minimax/m"


def test_a_tie_is_broken_by_model_id_and_does_not_flap() -> None:
    a = snap("2026-01-05", {"openai/b": 10 * B, "openai/a": 9 * B})
    b = snap("2026-01-12", {"openai/b": 10 * B, "openai/a": 10 * B})  # tie: a sorts first
    c = snap("2026-01-19", {"openai/b": 10 * B, "openai/a": 10 * B})
    _, at_tie, still_tie = run([a, b, c])
    assert ("new_leader", "openai/a") in kinds(at_tie)
    assert not [e for e in still_tie if e.kind == "new_leader"]


def test_country_flip_reports_totals_shares_and_unknown_volume() -> None:
    a = snap("2026-01-05", {"openai/x": 6 * B, "deepseek/y": 4 * B, "stealth/s": 5 * B})
    b = snap(
        "2026-01-12", {"openai/x": 3 * B, "deepseek/y": 5 * B, "qwen/q": 2 * B, "stealth/s": 9 * B}
    )
    _, events = run([a, b])
    [flip] = [e for e in events if e.kind == "country_flip"]
    assert (flip.fields["country"], flip.fields["previous_country"]) == ("CN", "US")
    assert flip.fields["totals"] == {"CN": 7 * B, "US": 3 * B}
    assert flip.fields["shares"] == {"CN": 0.7, "US": 0.3}
    assert flip.fields["unknown"] == 9 * B


def test_cloaked_models_never_count_for_a_country() -> None:
    # the stealth model alone outweighs everyone, but it must not make "unknown" a leader
    a = snap("2026-01-05", {"openai/x": 6 * B, "deepseek/y": 4 * B})
    b = snap("2026-01-12", {"openrouter/cloaked": 50 * B, "openai/x": 6 * B, "deepseek/y": 4 * B})
    _, events = run([a, b])
    assert not [e for e in events if e.kind == "country_flip"]
    assert ("new_leader", "openrouter/cloaked") in kinds(events)
    assert events[0].fields["country"] == "unknown"


def test_top_entry_and_exit_at_the_boundary() -> None:
    a = ten()
    a["openai/out"] = 1 * B  # #11
    b = dict(a)
    b["openai/out"] = 955 * B // 10  # 95.5B: jumps to #6, pushing m9 out
    _, events = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    entries = [
        (e.kind, e.fields["model"], e.fields["rank"], e.fields["previous_rank"])
        for e in events
        if e.kind.startswith("top_")
    ]
    assert ("top_entry", "openai/out", 6, 11) in entries
    assert ("top_exit", "openai/m9", 11, 10) in entries
    # entering the top N is not also reported as a rank move
    assert not [e for e in events if e.kind == "rank_change" and e.fields["model"] == "openai/out"]


def test_no_entry_for_a_rank_the_previous_snapshot_did_not_cover() -> None:
    nine = dict(list(ten().items())[:9])
    grown = {**nine, "openai/late": 1 * B}  # now #10, but #10 was never listed before
    _, events = run([snap("2026-01-05", nine), snap("2026-01-12", grown)])
    assert not [e for e in events if e.kind in ("top_entry", "top_exit")]
    assert ("new_model", "openai/late") in kinds(events)


def test_no_exit_when_the_current_snapshot_covers_fewer_ranks() -> None:
    full = ten()
    shrunk = dict(list(full.items())[:9])  # m9 unlisted: we cannot tell it left the top 10
    _, events = run([snap("2026-01-05", full), snap("2026-01-12", shrunk)])
    assert not [e for e in events if e.kind == "top_exit"]


def test_model_leaves_and_comes_back() -> None:
    base = ten()
    without = {k: v for k, v in base.items() if k != "openai/m3"}
    without["openai/sub"] = 1 * B  # keep coverage at 10
    snaps = [snap("2026-01-05", base), snap("2026-01-12", without), snap("2026-01-19", base)]
    _, gone, back = run(snaps)
    assert ("top_exit", "openai/m3@top10") in kinds(gone)
    assert ("top_entry", "openai/m3@top10") in kinds(back)
    # it was listed before, so coming back is not a new model
    assert not [e for e in back if e.kind == "new_model"]


def test_rank_change_needs_rank_move_places_inside_top_n() -> None:
    a = {"openai/a": 10 * B, "openai/b": 9 * B, "openai/c": 8 * B, "openai/d": 7 * B}
    b = {"openai/a": 10 * B, "openai/b": 6 * B, "openai/c": 5 * B, "openai/d": 9.5 * B}
    b = {k: int(v) for k, v in b.items()}
    _, events = run(
        [snap("2026-01-05", a), snap("2026-01-12", b)], DetectParams(top_n=4, rank_move=2)
    )
    moves = {e.fields["model"]: e.fields["move"] for e in events if e.kind == "rank_change"}
    assert moves == {"openai/d": 2}  # 4 → 2; b and c moved one place only


def test_surge_and_drop_against_previous_snapshot() -> None:
    a = {"openai/a": 100 * B, "openai/b": 100 * B, "openai/c": 100 * B}
    b = {"openai/a": 151 * B, "openai/b": 49 * B, "openai/c": 140 * B}
    _, events = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    got = {
        (e.kind, e.fields["model"], e.fields["change_pct"])
        for e in events
        if e.kind in ("surge", "drop")
    }
    assert got == {("surge", "openai/a", 51.0), ("drop", "openai/b", -51.0)}


def test_milestone_crossed_upwards_once_per_threshold() -> None:
    a = snap("2026-01-05", {"minimax/m": 900 * B})
    b = snap("2026-01-12", {"minimax/m": 1100 * B})
    c = snap("2026-01-19", {"minimax/m": 950 * B})
    d = snap("2026-01-26", {"minimax/m": 2300 * B})
    _, up, down, up2 = run([a, b, c, d])
    assert [(e.kind, e.fields["threshold"]) for e in up if e.kind == "milestone"] == [
        ("milestone", T)
    ]
    assert not [e for e in down if e.kind == "milestone"]
    # crossing 2T is news; recrossing 1T is not; one event, for the highest threshold
    assert [(e.kind, e.fields["threshold"]) for e in up2 if e.kind == "milestone"] == [
        ("milestone", 2 * T)
    ]


def test_new_model_only_for_never_listed_models() -> None:
    a = snap("2026-01-05", {"openai/a": 5 * B})
    b = snap("2026-01-12", {"openai/a": 5 * B, "z-ai/glm-5": 1 * B})
    _, events = run([a, b])
    assert kinds(events) == [("new_model", "z-ai/glm-5")]
    assert events[0].fields["country"] == "CN"


def test_confirm_two_suppresses_a_one_snapshot_flip() -> None:
    params = DetectParams(confirm=2)
    a = snap("2026-01-05", {"google/g": 10 * B, "minimax/m": 9 * B})
    blip = snap("2026-01-06", {"google/g": 9 * B, "minimax/m": 10 * B})
    back = snap("2026-01-07", {"google/g": 10 * B, "minimax/m": 9 * B})
    again = snap("2026-01-08", {"google/g": 10 * B, "minimax/m": 9 * B})
    results = run([a, blip, back, again], params)
    assert all(not [e for e in r if e.kind in ("new_leader", "country_flip")] for r in results)


def test_confirm_two_announces_on_the_second_consecutive_snapshot() -> None:
    params = DetectParams(confirm=2)
    a = snap("2026-01-05", {"google/g": 10 * B, "minimax/m": 9 * B})
    b = snap("2026-01-06", {"google/g": 9 * B, "minimax/m": 10 * B})
    c = snap("2026-01-07", {"google/g": 9 * B, "minimax/m": 11 * B})
    d = snap("2026-01-08", {"google/g": 9 * B, "minimax/m": 12 * B})
    _, first, second, third = run([a, b, c, d], params)
    assert not [e for e in first if e.kind == "new_leader"]
    [leader] = [e for e in second if e.kind == "new_leader"]
    assert leader.as_of.isoformat() == "2026-01-07"
    assert leader.fields["previous_model"] == "google/g"
    assert leader.fields["tokens"] == 11 * B
    assert not [e for e in third if e.kind == "new_leader"]
    [flip] = [e for e in second if e.kind == "country_flip"]
    assert flip.fields["country"] == "CN"


def test_confirm_counts_only_consecutive_snapshots() -> None:
    params = DetectParams(confirm=2, top_n=1)
    a = snap("2026-01-05", {"openai/a": 10 * B, "openai/b": 9 * B})
    flip = snap("2026-01-06", {"openai/a": 9 * B, "openai/b": 10 * B})
    # b leads on day 2 and day 4, never two days in a row: nothing is announced
    results = run([a, flip, a, flip, a], params)
    assert all(
        not [e for e in r if e.kind in ("new_leader", "top_entry", "top_exit")] for r in results
    )


def test_events_are_ordered_by_importance() -> None:
    a = {"google/g": 900 * B, "openai/o": 800 * B, **ten("x", start=50)}
    b = {"google/g": 800 * B, "minimax/m": 1500 * B, "openai/o": 100 * B, **ten("x", start=50)}
    _, events = run([snap("2026-01-05", a), snap("2026-01-12", b)])
    order = [KINDS.index(e.kind) for e in events]
    assert order == sorted(order)
    assert events[0].kind == "new_leader"
    assert {e.kind for e in events} >= {
        "new_leader",
        "top_entry",
        "top_exit",
        "milestone",
        "drop",
        "new_model",
    }


def test_each_requested_top_n_gets_its_own_entries_and_a_silent_start() -> None:
    base = ten()
    moved = dict(base)
    moved["openai/m7"] = 99 * B  # #8 → #2: enters the top 5, was already in the top 10
    params = DetectParams(top_n=10, extra_top_ns=(5,))
    _, events = run([snap("2026-01-05", base), snap("2026-01-12", moved)], params)
    assert ("top_entry", "openai/m7@top5") in kinds(events)
    assert ("top_exit", "openai/m4@top5") in kinds(events)
    assert not [e for e in events if e.subject.endswith("@top10")]


def test_a_top_n_first_asked_for_later_starts_silently() -> None:
    base, moved = ten(), dict(ten())
    moved["openai/m7"] = 99 * B
    only_ten = DetectParams(top_n=10)
    with_five = DetectParams(top_n=10, extra_top_ns=(5,))
    _, state = detect(None, None, snap("2026-01-05", base), params=only_ten, countries=COUNTRIES)
    events, state = detect(
        state,
        snap("2026-01-05", base),
        snap("2026-01-12", moved),
        params=with_five,
        countries=COUNTRIES,
        known_models=set(base),
    )
    assert not [e for e in events if e.kind.startswith("top_")]
    assert "5" in state.top
    events, _ = detect(
        state,
        snap("2026-01-12", moved),
        snap("2026-01-19", base),
        params=with_five,
        countries=COUNTRIES,
        known_models=set(base),
    )
    assert ("top_exit", "openai/m7@top5") in kinds(events)


def test_event_round_trips_through_dict() -> None:
    a = snap("2026-01-05", {"google/g": 900 * B, "minimax/m": 800 * B}, attribution="Source: x")
    b = snap("2026-01-12", {"google/g": 850 * B, "minimax/m": 1700 * B}, attribution="Source: y")
    _, events = run([a, b])
    for e in events:
        again = Event.from_dict(e.to_dict())
        assert again == e
        assert again.key == e.key
    assert events[0].attribution == "Source: y"


def test_a_subscribers_lower_threshold_is_detected_but_marked_below_default() -> None:
    a = {"openai/a": 10 * B, "openai/b": 9 * B, "openai/c": 8 * B}
    b = {"openai/a": 10 * B, "openai/b": 7 * B, "openai/c": 9 * B}  # c and b swap: 1 place
    params = DetectParams(rank_move=3, rank_move_floor=1, surge_pct=50, surge_pct_floor=10)
    _, events = run([snap("2026-01-05", a), snap("2026-01-12", b)], params)
    moves = {
        e.fields["model"]: e.fields["below_default"] for e in events if e.kind == "rank_change"
    }
    assert moves == {"openai/b": True, "openai/c": True}
    drops = [e for e in events if e.kind == "drop"]
    assert [(e.fields["model"], e.fields["below_default"]) for e in drops] == [("openai/b", True)]
    _, plain = run([snap("2026-01-05", a), snap("2026-01-12", b)], DetectParams(rank_move=3))
    assert not [e for e in plain if e.kind in ("rank_change", "drop")]
