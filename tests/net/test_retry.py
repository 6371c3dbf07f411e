"""The one `Retry-After` parser and the one backoff (`bot.net.retry`): every hint a server
can send becomes no hint or a bounded delay, never an exception."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.net.retry import MAX_RETRY_AFTER_SECONDS, backoff, bounded_delay, parse_retry_after

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7.5 ", 7.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sat, 01 Aug 2026 12:01:30 GMT", 90.0),
        ("Sat, 01 Aug 2026 12:01:30 +0000", 90.0),
        ("Sat, 01 Aug 2026 14:01:30 +0200", 90.0),
        ("Sat, 01 Aug 2026 12:01:30 -0000", 90.0),  # "no zone information": UTC, no TypeError
        ("Sat, 01 Aug 2026 12:01:30", 90.0),  # no zone at all: UTC
        ("Sat, 01 Aug 2026 11:00:00 GMT", 0.0),  # already past
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_SECONDS),
        ("inf", MAX_RETRY_AFTER_SECONDS),
        ("+inf", MAX_RETRY_AFTER_SECONDS),
        ("-inf", 0.0),
        ("1e400", MAX_RETRY_AFTER_SECONDS),
        ("1e20", MAX_RETRY_AFTER_SECONDS),
        ("1000000000", MAX_RETRY_AFTER_SECONDS),
        ("3600", 3600.0),
        ("3601", MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_a_hint_becomes_a_bounded_delay(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "NaN", "nan", "12 seconds", "Mon,"])
def test_a_hint_that_means_nothing_is_no_hint(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


def test_the_bound_can_be_chosen() -> None:
    assert parse_retry_after("600", NOW, max_seconds=60) == 60
    assert bounded_delay(float("inf"), 10) == 10
    assert bounded_delay(float("nan")) is None


@given(st.text(max_size=60))
def test_no_header_ever_raises_or_escapes_the_bounds(header: str) -> None:
    delay = parse_retry_after(header, NOW)
    assert delay is None or 0.0 <= delay <= MAX_RETRY_AFTER_SECONDS


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, base=2.0, cap=30.0) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert backoff(10_000, base=1.0, cap=300.0) == 300.0  # no overflow after many attempts


def test_backoff_jitter_stays_between_half_and_all_of_the_step() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        step = min(300.0, 2.0 ** (attempt - 1))
        assert step / 2 <= backoff(attempt, base=1.0, cap=300.0, rng=rng) <= step
