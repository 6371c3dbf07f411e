"""The rate-limit primitive both limiters share (`bot.net.sliding_window`)."""

from __future__ import annotations

import pytest

from bot.net.sliding_window import SlidingWindow


def test_a_spent_token_comes_back_after_the_window() -> None:
    bucket = SlidingWindow(5, 5.0)
    for _ in range(5):
        assert bucket.wait(0.0) == 0
        bucket.record(0.0)
    assert bucket.wait(0.0) == 5.0
    # a steady-rate bucket would allow a 6th post here, and Discord would answer 429
    assert bucket.wait(1.0) == 4.0
    assert bucket.wait(5.0) == 0


def test_the_sliding_window_never_allows_a_31st_request_in_a_minute() -> None:
    window = SlidingWindow(30, 60.0)
    for i in range(30):
        assert window.wait(i * 0.5) == 0
        window.record(i * 0.5)
    assert window.wait(15.0) == pytest.approx(45.0)
    assert window.wait(59.99) > 0
    assert window.wait(60.0) == 0
