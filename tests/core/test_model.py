from __future__ import annotations

import re
from datetime import date

import pytest

from bot.core.model import Snapshot, SnapshotError, author_of
from tests.helpers import snap


def test_ranks_follow_tokens_with_ties_broken_by_model_id() -> None:
    s = snap("2026-02-16", {"b/y": 5, "a/x": 5, "c/z": 9})
    assert [(e.rank, e.model) for e in s.entries] == [(1, "c/z"), (2, "a/x"), (3, "b/y")]
    assert s.leader.model == "c/z"


def test_author_defaults_to_id_prefix_lowercased_without_variant() -> None:
    assert author_of("MiniMax/minimax-m2.5:free") == "minimax"
    assert author_of("Qwen:free") == "qwen"
    s = snap("2026-02-16", {"OpenAI/gpt-5": 1})
    assert s.entries[0].author == "openai"


def test_token_strings_beyond_2_pow_53_stay_exact() -> None:
    big = 2**60 + 1
    s = Snapshot.create(
        source="openrouter",
        period="day",
        as_of="2026-07-31",
        entries=[{"model": "a/x", "tokens": str(big)}],
    )
    assert s.entries[0].tokens == big


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "no entries"),
        (
            [{"model": "a/x", "tokens": 1}, {"model": "a/x", "tokens": 2}],
            "entry 2 (a/x): duplicate",
        ),
        ([{"model": "a/x", "tokens": -1}], "entry 1 (a/x) 'tokens': must be a whole number"),
        ([{"model": "a/x", "tokens": 1.5}], "entry 1 (a/x) 'tokens': must be a whole number"),
        ([{"model": "a/x", "tokens": "12a"}], "entry 1 (a/x)"),
        ([{"model": "a/x", "tokens": True}], "entry 1 (a/x)"),
        ([{"model": "", "tokens": 1}], "entry 1 'model': must be a non-empty string"),
        ([{"model": "a/x", "tokens": 1}, "oops"], "entry 2: expected an object"),
    ],
)
def test_validation_names_the_entry(entries: list, message: str) -> None:
    with pytest.raises(SnapshotError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Snapshot.create(source="openrouter", period="week", as_of="2026-02-16", entries=entries)


def test_bad_period_date_and_total_are_rejected() -> None:
    with pytest.raises(SnapshotError, match="period"):
        Snapshot.create(
            source="s", period="year", as_of="2026-02-16", entries=[{"model": "a", "tokens": 1}]
        )
    with pytest.raises(SnapshotError, match="as_of"):
        Snapshot.create(
            source="s", period="week", as_of="last week", entries=[{"model": "a", "tokens": 1}]
        )
    with pytest.raises(SnapshotError, match="total"):
        snap("2026-02-16", {"a/x": 10}, total=5)


def test_round_trip_through_dict_and_hash_ignores_fetch_time() -> None:
    s = snap("2026-02-16", {"a/x": 10, "b/y": 3}, total=20, attribution="Source: test")
    again = Snapshot.from_dict({**s.to_dict(), "fetched_at": "2026-02-17T02:00:00Z"})
    assert again.entries == s.entries
    assert again.as_of == date(2026, 2, 16)
    assert again.content_hash() == s.content_hash()
    assert again.share(again.entries[0]) == 0.5


def test_from_dict_defaults_source_and_period() -> None:
    s = Snapshot.from_dict({"as_of": "2026-02-09", "entries": [{"model": "a/x", "tokens": 1}]})
    assert (s.source, s.period) == ("openrouter", "week")


HOSTILE = [
    ({"tokens": 10**400}, "'tokens': must be a whole number from 0 to 9223372036854775807"),
    ({"tokens": 2**63}, "'tokens': must be a whole number"),
    ({"tokens": "9" * 5000}, "a number of 5000 digits"),
    ({"tokens": float("nan")}, "'tokens': must be a whole number"),
    ({"tokens": float("inf")}, "'tokens': must be a whole number"),
    ({"tokens": "١٢٣"}, "'tokens': must be a whole number"),
    ({"tokens": " 12 "}, "'tokens': must be a whole number"),
    ({"tokens": "+12"}, "'tokens': must be a whole number"),
    ({"country": "ZZZ"}, "'country' must be an ISO 3166 alpha-2 code"),
    ({"country": "XX"}, "'country' must be an ISO 3166 alpha-2 code"),
    ({"country": 7}, "'country' must be an ISO 3166 alpha-2 code"),
    ({"lower_bound": "yes"}, "'lower_bound' must be true or false"),
    ({"lower_bound": 1}, "'lower_bound' must be true or false"),
    ({"name": "x" * 201}, "'name': longer than 200 characters"),
    ({"name": "evil\u0007bell"}, "'name': contains the control character U+0007"),
    ({"name": "line\nbreak"}, "'name': contains the control character U+000A"),
    ({"model": "a/" + "x" * 300}, "'model': longer than 200 characters"),
    ({"author": "\u202eevil"}, "'author': contains the control character U+202E"),
]


@pytest.mark.parametrize(("override", "message"), HOSTILE)
def test_hostile_entries_are_refused_naming_the_field(
    override: dict[str, object], message: str
) -> None:
    entry = {"model": "a/x", "tokens": 5, **override}
    with pytest.raises(SnapshotError, match=re.escape(message)):
        Snapshot.create(source="openrouter", period="week", as_of="2026-02-16", entries=[entry])


def test_sane_entries_still_pass() -> None:
    s = Snapshot.create(
        source="openrouter",
        period="week",
        as_of="2026-02-16T00:00:00Z",
        entries=[
            {"model": "a/x", "tokens": "9223372036854775807", "country": "us"},
            {"model": "b/y", "name": "Qwen3 通义千问", "tokens": 1e12, "lower_bound": True},
            {"model": "c/z", "tokens": 0, "country": "Unknown"},
        ],
    )
    assert [(e.model, e.country) for e in s.entries] == [
        ("a/x", "US"),
        ("b/y", None),
        ("c/z", "unknown"),
    ]
    assert s.entries[1].lower_bound and s.as_of == date(2026, 2, 16)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "open\x00router"}, "'source': contains the control character U+0000"),
        ({"source": "s" * 65}, "'source': longer than 64 characters"),
        ({"as_of": "2026-02-16garbage"}, "'as_of' must be a date"),
        ({"attribution": "a\x1bb"}, "'attribution': contains the control character U+001B"),
        ({"total": 1}, "less than the entries' sum"),
        ({"total": float("nan")}, "'total': must be a whole number"),
    ],
)
def test_hostile_snapshot_fields_are_refused(fields: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "source": "openrouter",
        "period": "week",
        "as_of": "2026-02-16",
        "entries": [{"model": "a/x", "tokens": 5}],
        **fields,
    }
    with pytest.raises(SnapshotError, match=re.escape(message)):
        Snapshot.create(**args)  # type: ignore[arg-type]


def test_an_entry_known_valid_does_not_vouch_for_another_with_the_same_model() -> None:
    """Validated identities are remembered (`_identity`): a hostile name or author on a model
    seen before is still refused, and a value that cannot be remembered (a list) is refused
    with the same one line."""

    def create(entry: dict[str, object]) -> Snapshot:
        return Snapshot.create(
            source="openrouter", period="day", as_of="2026-02-16", entries=[entry]
        )

    assert create({"model": "a/x", "name": "X", "tokens": 5}).entries[0].name == "X"
    assert create({"model": "a/x", "name": "X", "tokens": 5}).entries[0].author == "a"
    with pytest.raises(SnapshotError, match=re.escape("'name': contains the control character")):
        create({"model": "a/x", "name": "X\u0007", "tokens": 5})
    with pytest.raises(SnapshotError, match=re.escape("'author': contains the control character")):
        create({"model": "a/x", "name": "X", "author": "\u202ea", "tokens": 5})
    with pytest.raises(
        SnapshotError, match=re.escape("entry 1 'model': must be a non-empty string")
    ):
        create({"model": ["a/x"], "tokens": 5})


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u3000", "\u2028"])
def test_a_text_that_must_not_hold_spaces_refuses_every_kind_of_space(space: str) -> None:
    from bot.core.model import plain_text

    assert plain_text("lab/model", "id", 100, spaces=False) == "lab/model"
    with pytest.raises(SnapshotError, match="must not contain spaces"):
        plain_text(f"lab/a{space}b", "id", 100, spaces=False)
