"""`TimedReplay`: a history released as a (virtual) clock passes each snapshot's publication."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bot.sources.replay import TimedReplay
from tests.helpers import snap

START = datetime(2026, 1, 10, tzinfo=UTC)


async def test_what_was_published_before_the_start_is_the_baseline_then_day_by_day() -> None:
    history = [snap(f"2026-01-{d:02}", {"a/x": 100 + d}, period="day") for d in range(5, 15)]
    replay = TimedReplay(history[::-1], start=START, published_at=time(2, 10))
    first = await replay.fetch_new(None, START)  # type: ignore[arg-type]
    assert [s.as_of.day for s in first.baseline] == [5, 6, 7, 8]  # published by 9 Jan 02:10
    assert first.news == []
    assert replay.next_poll(START) == datetime(2026, 1, 10, 2, 10, tzinfo=UTC)
    early = await replay.fetch_new(None, START + timedelta(hours=2))  # type: ignore[arg-type]
    assert early.news == [] and early.baseline == []
    late = await replay.fetch_new(None, START + timedelta(days=2, hours=3))  # type: ignore[arg-type]
    assert [s.as_of.day for s in late.news] == [9, 10, 11] and late.baseline == []
    end = START + timedelta(days=30)
    assert [s.as_of.day for s in (await replay.fetch_new(None, end)).news] == [12, 13, 14]  # type: ignore[arg-type]
    assert replay.next_poll(end) == end + timedelta(days=1)  # used up
