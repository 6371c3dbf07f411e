"""Detection on long histories: coverage changes, confirmations, milestones across baselines.

Each expected event list here is derived from how the synthetic data is built (stated next to
the builder), never captured from output.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.core.countries import shipped_table
from bot.core.events import DetectorState, DetectParams, Event, detect
from bot.core.model import Snapshot
from bot.engine.ingest import ingest, ingest_baseline
from bot.store.protocols import SCHEMA_VERSION
from bot.store.tinydb import TinyStore
from tests.helpers import snap

B = 1_000_000_000
T = 1_000 * B
COUNTRIES = shipped_table()


def run(snapshots: Sequence[Snapshot], params: DetectParams) -> list[list[Event]]:
    """detect() over a sequence as the pipeline feeds it, with the state's JSON round trip."""
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


def day(i: int) -> str:
    return f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"


# --- 1. exits when coverage grows ------------------------------------------------------------


def sliding(count9: int, count10: int) -> list[Snapshot]:
    """`count9` 9-row snapshots, then `count10` 10-row ones, of a sliding window of models.

    Snapshot i lists p(i) … p(i+8), and from index `count9` on also `openai/q` as #10. Tokens
    of p(k) are (100 + k) B, so the newest model is #1 and the oldest listed one, p(i), is #9;
    q has 1 B. Each step p(i) drops out and p(i+9) arrives at #1.

    With top 10: while lists have 9 rows, a model that drops out has an unknown place (it may
    be #10), so nothing can be said. From the first 10-row snapshot on, a model that drops out
    is proven outside the top 10 (10 rows listed without it): exactly one exit per step, of
    the model that was #9 just before. Arrivals from the second 10-row snapshot on are proven
    entries (the previous snapshot listed 10 without them); the first 10-row snapshot's
    arrival is not (the 9-row one before it did not cover #10).
    """
    out = []
    for i in range(count9 + count10):
        figures = {f"openai/p{k:02d}": (100 + k) * B for k in range(i, i + 9)}
        if i >= count9:
            figures["openai/q"] = 1 * B
        out.append(snap(day(i), figures))
    return out


@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_coverage_growing_from_9_to_10_announces_only_proven_exits(confirm: int) -> None:
    count9, count10 = 30, 8
    results = run(sliding(count9, count10), DetectParams(top_n=10, confirm=confirm))
    got = [
        (index, e.kind, e.fields["model"], e.fields["previous_rank"], e.fields["rank"])
        for index, events in enumerate(results)
        for e in events
        if e.kind in ("top_entry", "top_exit")
    ]
    expected = []
    for index in range(count9, count9 + count10):
        # a change first seen at snapshot s is announced at s + confirm - 1
        seen = index - (confirm - 1)
        if seen >= count9:
            expected.append((index, "top_exit", f"openai/p{seen - 1:02d}", 9, None))
        if seen >= count9 + 1:
            # the arrival is #1 when first seen and one place lower each snapshot after
            expected.append((index, "top_entry", f"openai/p{seen + 8:02d}", None, confirm))
    assert sorted(got) == sorted(expected)
    # nothing at all about the 29 models that left while lists were short
    assert all(index >= count9 for index, *_ in got)


def test_a_model_whose_place_became_unknown_is_not_announced_when_coverage_grows() -> None:
    ten = {f"openai/m{i}": (100 - i) * B for i in range(10)}
    nine = {m: t for m, t in ten.items() if m != "openai/m4"}  # m4 unlisted, only 9 rows
    grown = {**nine, "openai/x": 1 * B}  # 10 rows again, still without m4
    results = run([snap(day(0), ten), snap(day(1), nine), snap(day(2), grown)], DetectParams())
    assert [e for r in results for e in r if e.kind == "top_exit"] == []


def test_an_exit_needs_its_place_known_in_every_snapshot_since() -> None:
    """confirm 2: seen outside once, then unknown, then outside again → never announced."""
    rows = {f"openai/m{i}": (100 - i) * B for i in range(12)}
    out = {**rows, "openai/m3": 1 * B}  # m3 falls to #12
    short = {m: t for m, t in rows.items() if m not in ("openai/m3",) and t > 92 * B}  # 8 rows
    results = run(
        [snap(day(0), rows), snap(day(1), out), snap(day(2), short), snap(day(3), out)],
        DetectParams(confirm=2),
    )
    assert [(e.kind, e.subject) for r in results for e in r if e.kind == "top_exit"] == []


# --- 3. previous_* describes the state before the change was first seen ---------------------


def twelve(**changes: int) -> dict[str, int]:
    """12 models m0 (#1) … m11 (#12) 10 B apart; keyword arguments override a model's tokens."""
    figures = {f"openai/m{i}": (200 - 10 * i) * B for i in range(12)}
    figures.update({f"openai/{k}": v * B for k, v in changes.items()})
    return figures


def announced(results: list[list[Event]], kind: str) -> list[tuple[int, Event]]:
    return [(i, e) for i, events in enumerate(results) for e in events if e.kind == kind]


@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_entry_and_exit_report_the_rank_before_the_change(confirm: int) -> None:
    # m11 (#12) jumps to 155 B, between m4 (160, #5) and m5 (150): #6; m9 (#10) falls to #11
    before = [snap(day(0), twelve()), snap(day(1), twelve())]
    after = [snap(day(2 + i), twelve(m11=155 - i)) for i in range(3)]
    results = run(before + after, DetectParams(top_n=10, confirm=confirm))
    [(at_entry, entry)] = announced(results, "top_entry")
    [(at_exit, exit_)] = announced(results, "top_exit")
    assert at_entry == at_exit == 2 + confirm - 1
    assert (entry.fields["model"], entry.fields["previous_rank"], entry.fields["rank"]) == (
        "openai/m11",
        12,
        6,
    )
    assert (exit_.fields["model"], exit_.fields["previous_rank"], exit_.fields["rank"]) == (
        "openai/m9",
        10,
        11,
    )


@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_exit_of_a_model_no_longer_listed_keeps_its_name_and_earlier_rank(confirm: int) -> None:
    rows = {f"openai/m{i}": (200 - 10 * i) * B for i in range(12)}
    gone = {m: t for m, t in rows.items() if m != "openai/m2"}
    gone["openai/new"] = 1 * B  # keeps 12 rows
    history = [snap(day(0), rows)] + [snap(day(1 + i), gone) for i in range(3)]
    results = run(history, DetectParams(confirm=confirm))
    [(at, exit_)] = announced(results, "top_exit")
    assert at == confirm
    assert exit_.fields["previous_rank"] == 3
    assert (exit_.fields["rank"], exit_.fields["tokens"]) == (None, None)
    assert exit_.fields["name"] == "openai/m2"


@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_rank_change_reports_the_announced_rank(confirm: int) -> None:
    # m7 (#8) climbs to #2 and stays there
    history = [snap(day(0), twelve())] + [snap(day(1 + i), twelve(m7=195)) for i in range(3)]
    results = run(history, DetectParams(confirm=confirm))
    moves = [(i, e) for i, e in announced(results, "rank_change") if e.subject == "openai/m7"]
    [(at, move)] = moves
    assert at == confirm
    assert (move.fields["previous_rank"], move.fields["rank"], move.fields["move"]) == (8, 2, 6)


@pytest.mark.parametrize("confirm", [1, 2, 3])
def test_new_leader_reports_the_former_leaders_tokens_before_the_change(confirm: int) -> None:
    # google/g led with 10 B; from snapshot 1 on minimax/m leads while g keeps falling
    history = [
        snap(day(0), {"google/g": 10 * B, "minimax/m": 9 * B}),
        snap(day(1), {"google/g": 8 * B, "minimax/m": 11 * B}),
        snap(day(2), {"google/g": 7 * B, "minimax/m": 12 * B}),
        snap(day(3), {"google/g": 6 * B, "minimax/m": 13 * B}),
    ]
    results = run(history, DetectParams(confirm=confirm))
    [(at, leader)] = announced(results, "new_leader")
    assert at == confirm
    assert leader.fields["previous_model"] == "google/g"
    assert leader.fields["previous_tokens"] == 10 * B
    assert leader.fields["previous_tokens_now"] == (9 - confirm) * B
    assert leader.fields["tokens"] == (10 + confirm) * B
    [(flip_at, flip)] = announced(results, "country_flip")
    assert flip_at == confirm
    assert (flip.fields["previous_country"], flip.fields["country"]) == ("US", "CN")


def test_new_leader_base_is_kept_when_the_challenger_changes_while_pending() -> None:
    """confirm 3: b leads, then c leads twice: c is announced against a's figure before b."""
    history = [
        snap(day(0), {"openai/a": 10 * B, "openai/b": 9 * B, "openai/c": 8 * B}),
        snap(day(1), {"openai/a": 9 * B, "openai/b": 11 * B, "openai/c": 8 * B}),
        snap(day(2), {"openai/a": 8 * B, "openai/b": 9 * B, "openai/c": 12 * B}),
        snap(day(3), {"openai/a": 7 * B, "openai/b": 9 * B, "openai/c": 13 * B}),
        snap(day(4), {"openai/a": 6 * B, "openai/b": 9 * B, "openai/c": 14 * B}),
    ]
    results = run(history, DetectParams(confirm=3))
    [(at, leader)] = announced(results, "new_leader")
    assert at == 4 and leader.fields["model"] == "openai/c"
    assert (leader.fields["previous_model"], leader.fields["previous_tokens"]) == (
        "openai/a",
        10 * B,
    )


@pytest.mark.parametrize("confirm", [2, 3])
def test_a_change_interrupted_before_its_confirmation_starts_counting_again(confirm: int) -> None:
    """Seen confirm-1 times, back once, then seen again: announced confirm snapshots later,
    against the rank of the snapshot just before it was seen again."""
    low, high = twelve(), twelve(m11=155)
    history = [snap(day(0), low)]
    history += [snap(day(1 + i), high) for i in range(confirm - 1)]
    history += [snap(day(confirm), twelve(m11=95))]  # back to #12 (95 < m10's 100)
    history += [snap(day(confirm + 1 + i), high) for i in range(confirm)]
    results = run(history, DetectParams(confirm=confirm))
    [(at, entry)] = announced(results, "top_entry")
    assert at == 2 * confirm
    assert entry.fields["previous_rank"] == 12


# --- 2. milestones across a silent baseline --------------------------------------------------


def weekly(week: int, tokens: int) -> Snapshot:
    others = {f"openai/o{i}": (50 - i) * B for i in range(10)}
    return snap(
        f"2026-{1 + (week - 1) // 4:02d}-{1 + 7 * ((week - 1) % 4):02d}",
        {
            "minimax/m": tokens,
            **others,
        },
    )


async def test_a_milestone_reached_anywhere_in_a_baseline_import_is_not_announced_again(
    tmp_path: Path,
) -> None:
    """Above 1T in week 3 only; weeks 1–8 imported silently; above again in week 10."""
    tokens = {w: (1200 * B if w == 3 else 800 * B) for w in range(1, 11)}
    tokens[10] = 1300 * B
    params = DetectParams()
    async with TinyStore.open(tmp_path / "db.json") as store:
        history = [weekly(w, tokens[w]) for w in range(1, 9)]
        await ingest_baseline(store, history, params=params, countries=COUNTRIES)
        events = []
        for w in (9, 10):
            events += (
                await ingest(store, weekly(w, tokens[w]), params=params, countries=COUNTRIES)
            ).events
        assert [e for e in events if e.kind == "milestone"] == []
        # a higher threshold is still news
        week11 = weekly(11, 2100 * B)
        later = (await ingest(store, week11, params=params, countries=COUNTRIES)).events
        assert [(e.kind, e.fields["threshold"]) for e in later if e.kind == "milestone"] == [
            ("milestone", 2 * T)
        ]


async def test_a_second_baseline_import_keeps_milestones_already_reached(tmp_path: Path) -> None:
    params = DetectParams()
    async with TinyStore.open(tmp_path / "db.json") as store:
        await ingest_baseline(
            store, [weekly(1, 1500 * B), weekly(2, 700 * B)], params=params, countries=COUNTRIES
        )
        await ingest_baseline(
            store, [weekly(3, 700 * B), weekly(4, 700 * B)], params=params, countries=COUNTRIES
        )
        events = (
            await ingest(store, weekly(5, 1100 * B), params=params, countries=COUNTRIES)
        ).events
        assert [e for e in events if e.kind == "milestone"] == []


# --- 5. installs that backfilled before the fix ------------------------------------------------


async def test_an_old_database_rebuilds_its_milestones_once_from_stored_snapshots(
    tmp_path: Path,
) -> None:
    """A schema-1 store whose detector state took milestones from the newest snapshot only."""
    params = DetectParams()
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await ingest_baseline(
            store,
            [weekly(w, 1200 * B if w == 2 else 800 * B) for w in range(1, 6)],
            params=params,
            countries=COUNTRIES,
        )
        await store.compact()  # everything in the base, where a schema 1 rankbot kept it
    # turn it into what rankbot wrote before: schema 1, milestones of the newest snapshot only
    import json

    data = json.loads(path.read_text())
    data["meta"]["1"]["schema"] = 1
    for doc in data["state"].values():
        if doc["key"].startswith("detector:"):
            doc["value"]["milestones"] = {m: 0 for m in doc["value"]["milestones"]}
            doc["value"].pop("milestones_complete", None)
    path.write_text(json.dumps(data))
    async with TinyStore.open(path) as store:
        events = (
            await ingest(store, weekly(6, 1300 * B), params=params, countries=COUNTRIES)
        ).events
        assert [e for e in events if e.kind == "milestone"] == []
        assert store.schema_version == SCHEMA_VERSION


# --- a long story: 66 weeks with coverage changes, flicker and a restated week ----------------

BASE = {
    "openai/a": 900,
    "minimax/b": 800,
    "deepseek/c": 600,
    "google/d": 400,
    "openai/e": 300,
    "openai/f": 280,
    "openai/g": 200,
    "openai/h": 150,
}


def story() -> list[tuple[int, dict[str, int]]]:
    """(week, figures in B) for weeks 0–65, plus a restatement of week 29 as week 30.

    top 5, confirm 2. US leads on attributed volume until week 44 (see each step).
    """
    weeks: list[tuple[int, dict[str, int]]] = []
    a = dict(BASE)
    for w in range(10):
        weeks.append((w, a))  # 0: baseline; 1–9: nothing changes
    weeks.append((10, {**a, "openai/e": 280, "openai/f": 300}))  # e/f swap once: flicker
    weeks.append((11, a))  # back: nothing announced
    four = {m: a[m] for m in ("openai/a", "minimax/b", "google/d", "openai/e")}
    for w in range(12, 20):
        weeks.append((w, four))  # 4 rows: c's place (#3) unknown, leaves silently; e now #4
    eight = {m: t for m, t in a.items() if m != "openai/e"} | {"openai/i": 100}
    for w in range(20, 30):
        # 20: new model i; c and f back silently (4 rows before); e, listed at #4 until
        # week 19, is proven out by 8 rows without it: seen 20, announced 21
        weeks.append((w, eight))
    weeks.append((29, {**eight, "openai/i": 110}))  # week 29 restated: history, not news
    surged = {**eight, "openai/g": 320}
    for w in range(31, 40):
        weeks.append((w, surged))  # 31 seen, 32 announced: g in, f out, g +60 %
    b_leads = {**surged, "minimax/b": 950}
    for w in range(40, 44):
        weeks.append((w, b_leads))  # 41: new #1 b
    j_leads = {**b_leads, "z-ai/j": 1000}
    for w in range(44, 53):
        weeks.append((w, j_leads))  # 44: new model j; 45: #1 j, CN leads, j in, g out, j 1T
    weeks.append((53, {**j_leads, "minimax/b": 1050}))  # b leads for one week: flicker
    for w in range(54, 60):
        weeks.append((w, j_leads))
    four_again = {m: j_leads[m] for m in ("z-ai/j", "minimax/b", "openai/a", "deepseek/c")}
    weeks.append((60, four_again))  # d (#5) unknown: leaves silently
    for w in range(61, 64):
        weeks.append((w, j_leads))  # d back at #5, silently
    without_d = {m: t for m, t in j_leads.items() if m != "google/d"} | {"openai/k": 50}
    for w in range(64, 66):
        weeks.append((w, without_d))  # 64: new model k; 65: d out (proven), g in
    return weeks


async def test_a_long_history_announces_exactly_the_derived_events(tmp_path: Path) -> None:
    from datetime import date, timedelta

    start = date(2025, 1, 6)
    params = DetectParams(top_n=5, confirm=2)
    got: list[tuple[int, str, str]] = []
    fields: dict[tuple[int, str, str], dict[str, object]] = {}
    async with TinyStore.open(tmp_path / "db.json") as store:
        for week, figures in story():
            as_of = (start + timedelta(weeks=week)).isoformat()
            s = snap(as_of, {m: t * B for m, t in figures.items()})
            for e in (await ingest(store, s, params=params, countries=COUNTRIES)).events:
                got.append((week, e.kind, e.subject))
                fields[(week, e.kind, e.subject)] = dict(e.fields)
        assert (
            await store.history.snapshot_count() == 65
        )  # weeks 0–65 but 30: the restatement replaced 29
    assert got == [
        (20, "new_model", "openai/i"),
        (21, "top_exit", "openai/e@top5"),
        (32, "top_entry", "openai/g@top5"),
        (32, "top_exit", "openai/f@top5"),
        (32, "surge", "openai/g"),
        (41, "new_leader", "minimax/b"),
        (44, "new_model", "z-ai/j"),
        (45, "new_leader", "z-ai/j"),
        (45, "country_flip", "CN"),
        (45, "top_entry", "z-ai/j@top5"),
        (45, "top_exit", "openai/g@top5"),
        (45, "milestone", "z-ai/j"),
        (64, "new_model", "openai/k"),
        (65, "top_entry", "openai/g@top5"),
        (65, "top_exit", "google/d@top5"),
    ]
    assert fields[(21, "top_exit", "openai/e@top5")]["previous_rank"] == 4
    assert fields[(32, "surge", "openai/g")]["change_pct"] == 60.0
    assert fields[(41, "new_leader", "minimax/b")]["previous_tokens"] == 900 * B
    assert fields[(45, "new_leader", "z-ai/j")]["previous_tokens"] == 950 * B
    assert fields[(45, "country_flip", "CN")]["previous_country"] == "US"
    d_exit = fields[(65, "top_exit", "google/d@top5")]
    assert (d_exit["previous_rank"], d_exit["rank"]) == (5, None)
    assert fields[(65, "top_entry", "openai/g@top5")]["previous_rank"] == 6
