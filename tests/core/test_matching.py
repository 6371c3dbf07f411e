"""Which events a subscription wants: each filter alone, then combined with AND."""

from __future__ import annotations

from datetime import date
from fnmatch import fnmatchcase
from itertools import pairwise
from typing import Any

import pytest

from bot.core.events import Event
from bot.core.matching import matches_any, select, wants
from bot.core.messages import ChannelRef
from bot.core.subscription import Filters, Subscription

CH = ChannelRef("slack", "T1", "C1")


def ev(kind: str, subject: str = "openai/gpt-5", period: str = "week", **fields: Any) -> Event:
    base: dict[str, Any] = {"model": subject, "author": subject.split("/")[0], "country": "US"}
    return Event(kind, "openrouter", period, date(2026, 2, 16), subject, {**base, **fields})


def sub(
    kinds: tuple[str, ...] = (
        "new_leader",
        "top_entry",
        "top_exit",
        "rank_change",
        "surge",
        "drop",
        "country_flip",
        "milestone",
    ),
    periods: tuple[str, ...] = ("week",),
    **filters: Any,
) -> Subscription:
    return Subscription(CH, kinds=kinds, periods=periods, filters=Filters(**filters))


def test_default_subscription_wants_the_default_kinds_only() -> None:
    default = Subscription(CH)
    assert wants(default, ev("new_leader"))
    assert wants(default, ev("milestone", threshold=10**12))
    assert not wants(default, ev("surge", change_pct=80.0))
    assert not wants(default, ev("new_model"))


def test_period_must_match() -> None:
    assert not wants(sub(), ev("new_leader", period="day"))
    assert wants(sub(periods=("day", "week")), ev("new_leader", period="day"))


def test_top_n_matches_the_event_stream_of_that_n() -> None:
    five = sub(top_n=5)
    assert wants(five, ev("top_entry", top_n=5, rank=4))
    assert not wants(five, ev("top_entry", top_n=10, rank=7))
    assert not wants(five, ev("top_exit", top_n=10, rank=11))
    assert wants(five, ev("rank_change", rank=5, move=3))
    assert not wants(five, ev("rank_change", rank=6, move=3))


def test_a_move_that_entered_a_channels_top_n_reaches_it_as_the_entry_only() -> None:
    move = ev("rank_change", rank=5, move=3, entered_top=[5])
    assert not wants(sub(top_n=5), move)
    assert wants(sub(top_n=10), move)


def test_model_include_and_exclude_globs_are_case_insensitive() -> None:
    assert wants(sub(models=("OpenAI/*",)), ev("new_leader"))
    assert not wants(sub(models=("google/*",)), ev("new_leader"))
    assert not wants(sub(exclude_models=("*gpt*",)), ev("new_leader"))
    assert wants(sub(exclude_models=("*gemini*",)), ev("new_leader"))


def test_author_lists_fall_back_to_the_model_id() -> None:
    exit_unlisted = Event(
        "top_exit",
        "openrouter",
        "week",
        date(2026, 2, 16),
        "x/m@top10",
        {"model": "x/m", "name": "m", "rank": None, "top_n": 10},
    )
    assert wants(sub(authors=("x",)), exit_unlisted)
    assert not wants(sub(exclude_authors=("x",)), exit_unlisted)
    assert wants(sub(authors=("openai",)), ev("new_leader"))
    assert not wants(sub(exclude_authors=("openai",)), ev("new_leader"))


def test_country_lists_and_the_country_flip() -> None:
    flip = Event(
        "country_flip",
        "openrouter",
        "week",
        date(2026, 2, 16),
        "CN",
        {"country": "CN", "previous_country": "US"},
    )
    assert wants(sub(countries=("US",)), flip)  # the flip concerns the US too
    assert not wants(sub(countries=("FR",)), flip)
    assert not wants(sub(exclude_countries=("CN",)), flip)
    assert not wants(sub(countries=("CN",)), ev("new_leader"))
    assert wants(sub(authors=("openai",)), flip)  # no author on a flip: the filter says nothing


def test_minimum_move_and_change() -> None:
    assert wants(sub(min_move=4), ev("rank_change", rank=2, move=-5))
    assert not wants(sub(min_move=4), ev("rank_change", rank=2, move=3))
    assert wants(sub(min_change_pct=60), ev("drop", change_pct=-61.0))
    assert not wants(sub(min_change_pct=60), ev("surge", change_pct=55.0))


def test_moves_below_the_default_reach_only_channels_that_asked_for_them() -> None:
    small = ev("rank_change", rank=2, move=1, below_default=True)
    assert wants(sub(min_move=1), small)
    assert not wants(sub(), small)  # no minimum of its own: detection's default applies
    small_surge = ev("surge", change_pct=20.0, below_default=True)
    assert wants(sub(min_change_pct=10), small_surge)
    assert not wants(sub(), small_surge)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ev("top_entry", top_n=5, rank=3), True),
        (ev("top_entry", top_n=5, rank=3, country="CN"), False),  # country fails
        (ev("top_entry", "openai/gpt-5-mini", top_n=5, rank=3), False),  # excluded model
        (ev("top_entry", "meta/llama", top_n=5, rank=3), False),  # author not included
        (ev("top_entry", top_n=10, rank=8), False),  # other top N
        (ev("surge", change_pct=90.0), False),  # kind not wanted
    ],
)
def test_filters_combine_with_and(event: Event, expected: bool) -> None:
    s = sub(
        kinds=("top_entry",),
        top_n=5,
        authors=("openai",),
        countries=("US",),
        exclude_models=("*mini*",),
    )
    assert wants(s, event) is expected


def test_select_keeps_each_event_once() -> None:
    e = ev("new_leader")
    assert select(sub(), [e, e, ev("surge", change_pct=70.0)]) == [e, ev("surge", change_pct=70.0)]


PATTERNS = ("openai/*", "*-Preview*", "qwen/qwen3-[a-c]*", "gpt-4.1", "a?c", "x[!y]z", "[", "*")
VALUES = (
    "OpenAI/gpt-5",
    "google/gemini-3-preview",
    "qwen/qwen3-coder",
    "gpt-4x1",
    "gpt-4.1",
    "abc",
    "ac",
    "xaz",
    "xyz",
    "[",
    "a\nc",
    "",
)


@pytest.mark.parametrize("value", VALUES)
def test_a_pattern_list_matches_as_each_glob_would_alone(value: str) -> None:
    """The compiled list (one expression per list) says what `fnmatchcase` on the lowercased
    pattern and value says, for every list of these patterns taken one, two or all at once."""
    lists = [(p,) for p in PATTERNS] + list(pairwise(PATTERNS)) + [PATTERNS[:-1]]
    for patterns in lists:
        expected = any(fnmatchcase(value.lower(), p.lower()) for p in patterns)
        assert matches_any(value, patterns) == expected, (value, patterns)
