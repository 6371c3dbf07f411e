"""The planner (`bot.engine.planner.Planner`): one grouped post per channel from what is
subscribed in the store, held for quiet hours and digests, muted and counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.countries import shipped_table
from bot.core.events import Event
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.core.subscription import Subscription
from bot.engine.planner import Planner
from bot.store.database import Store
from bot.store.held import HeldAlerts
from bot.store.subscriptions import Subscriptions

NOW = datetime(2026, 2, 16, 12, 0, tzinfo=UTC)  # a Monday
CH = ChannelRef("slack", "T1", "C1")
OTHER = ChannelRef("discord", "G1", "c2")
COUNTRIES = shipped_table()


def ev(kind: str, subject: str, rank: int = 1, **fields: Any) -> Event:
    base = {"model": subject, "author": subject.split("/")[0], "rank": rank, "country": "US"}
    return Event(kind, "openrouter", "week", date(2026, 2, 16), subject, {**base, **fields})


LEADER = ev("new_leader", "a/one")
ENTRY = ev("top_entry", "b/two", rank=7, top_n=10)
MILESTONE = ev("milestone", "a/one", threshold=10**12)
SURGE = ev("surge", "c/three", rank=4, change_pct=80.0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "db.json") as s:
        yield s  # type: ignore[misc]


def subscribe(store: Store, channel: ChannelRef = CH, **changes: Any) -> Subscription:
    sub = replace(Subscription(channel, created_at=NOW, confirmed=True), **changes)
    return Subscriptions(store).upsert(sub)


def test_events_of_a_poll_become_one_message_most_important_first(store: Store) -> None:
    subscribe(store)
    planned = Planner(store, COUNTRIES).after_ingest([MILESTONE, SURGE, ENTRY, LEADER], NOW)
    assert len(planned) == 1
    assert planned[0].channel == CH
    assert planned[0].message.events == (LEADER, ENTRY, MILESTONE)  # surge not subscribed


def test_the_same_events_planned_after_a_restart_get_the_same_key(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as s:
        subscribe(s)
        first = Planner(s, COUNTRIES).after_ingest([LEADER, ENTRY], NOW)
    with Store.open(tmp_path / "db.json") as s:
        again = Planner(s, COUNTRIES).after_ingest([ENTRY, LEADER], NOW + timedelta(minutes=5))
    assert [p.key for p in first] == [p.key for p in again]


def test_overlapping_subscribe_requests_make_one_record_and_one_post(store: Store) -> None:
    services = Services(store, Config())
    ctx = CommandContext(CH, Caller("U1", "ann", can_manage=True), NOW)
    assert execute("subscribe new_leader top_entry", ctx, services).ok
    assert execute("subscribe new_leader milestone", ctx, services).ok
    assert len(Subscriptions(store).all()) == 1
    planned = Planner(store, COUNTRIES).after_ingest([LEADER, ENTRY, MILESTONE], NOW)
    assert len(planned) == 1 and len(planned[0].message.events) == 3


def test_channels_that_want_nothing_or_are_paused_get_nothing(store: Store) -> None:
    subscribe(store, kinds=("surge",), filters=replace(Subscription(CH).filters, top_n=3))
    subscribe(store, OTHER, paused=True, pause_reason="gone")
    assert Planner(store, COUNTRIES).after_ingest([LEADER, ENTRY], NOW) == []
    assert Planner(store, COUNTRIES).after_ingest([], NOW) == []


def test_a_new_subscription_gets_exactly_one_confirmation(store: Store) -> None:
    Subscriptions(store).upsert(Subscription(CH, created_at=NOW))
    planned = Planner(store, COUNTRIES).flush_due(NOW)
    assert len(planned) == 1
    notice = planned[0].message.notice or ""
    assert "from now on" in notice and "new_leader" in notice and not planned[0].message.events
    assert planned[0].key == f"confirm:{CH.key}:{NOW.isoformat()}"
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(minutes=1)) == []


def test_quiet_hours_hold_events_until_they_end_then_group_them(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(22), time(7), "UTC"))
    night = datetime(2026, 2, 16, 23, 0, tzinfo=UTC)
    assert Planner(store, COUNTRIES).after_ingest([ENTRY], night) == []
    assert Planner(store, COUNTRIES).after_ingest([LEADER], night + timedelta(hours=2)) == []
    assert Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 6, 59, tzinfo=UTC)) == []
    released = Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 7, 0, tzinfo=UTC))
    assert len(released) == 1
    assert released[0].message.events == (LEADER, ENTRY)
    assert "quiet hours" in (released[0].message.title or "")
    assert Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 8, 0, tzinfo=UTC)) == []


def test_quiet_hours_are_local_to_the_channel(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(22), time(7), "Asia/Tokyo"))  # 13:00-22:00 UTC
    subscribe(store, OTHER, quiet=QuietHours(time(22), time(7), "America/New_York"))
    afternoon = datetime(2026, 2, 16, 14, tzinfo=UTC)
    planned = Planner(store, COUNTRIES).after_ingest([LEADER], afternoon)
    assert [p.channel for p in planned] == [OTHER]  # 09:00 in New York, 23:00 in Tokyo
    released = Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 16, 22, tzinfo=UTC))
    assert [p.channel for p in released] == [CH]


def test_the_same_event_is_held_once(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(0), time(23, 59), "UTC"))
    Planner(store, COUNTRIES).after_ingest([LEADER], NOW)
    Planner(store, COUNTRIES).after_ingest([LEADER], NOW)
    assert len(HeldAlerts(store)) == 1


def test_a_daily_digest_gathers_everything_into_one_message(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(9), "Europe/Berlin"))  # 08:00 UTC
    assert Planner(store, COUNTRIES).after_ingest([LEADER], NOW) == []
    assert Planner(store, COUNTRIES).after_ingest([ENTRY], NOW + timedelta(hours=6)) == []
    assert Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 7, 59, tzinfo=UTC)) == []
    digest = Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 8, 0, tzinfo=UTC))
    assert len(digest) == 1
    assert digest[0].message.events == (LEADER, ENTRY)
    assert (digest[0].message.title or "").startswith("Daily digest: 2 alert(s)")
    assert digest[0].key.startswith("digest:")
    assert Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 18, 8, 0, tzinfo=UTC)) == []


def test_a_weekly_digest_waits_for_its_day(store: Store) -> None:
    subscribe(store, digest=Digest("weekly", time(9), "UTC", weekday=4))
    Planner(store, COUNTRIES).after_ingest([LEADER], NOW)
    assert Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 19, 9, tzinfo=UTC)) == []
    assert len(Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 20, 9, tzinfo=UTC))) == 1


def test_muted_alerts_are_dropped_counted_and_announced_once(store: Store) -> None:
    subscribe(store, mute_until=NOW + timedelta(hours=2))
    assert Planner(store, COUNTRIES).after_ingest([LEADER, ENTRY], NOW) == []
    assert Planner(store, COUNTRIES).after_ingest([MILESTONE], NOW + timedelta(hours=1)) == []
    assert Subscriptions(store).get(CH).skipped == 3  # type: ignore[union-attr]
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=1)) == []
    ended = Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=2))
    assert len(ended) == 1
    assert (
        ended[0].message.notice == "3 alerts were skipped while muted (until 2026-02-16 14:00 UTC)."
    )
    after = Subscriptions(store).get(CH)
    assert after is not None and after.mute_until is None and after.skipped == 0
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=3)) == []
    assert len(Planner(store, COUNTRIES).after_ingest([LEADER], NOW + timedelta(hours=3))) == 1


def test_a_mute_with_nothing_skipped_ends_silently(store: Store) -> None:
    subscribe(store, mute_until=NOW + timedelta(hours=1))
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=2)) == []
    assert Subscriptions(store).get(CH).mute_until is None  # type: ignore[union-attr]


def test_a_digest_due_during_a_mute_is_dropped_and_counted(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(13), "UTC"))
    Planner(store, COUNTRIES).after_ingest([LEADER, ENTRY], NOW)
    sub = Subscriptions(store).get(CH)
    Subscriptions(store).upsert(replace(sub, mute_until=NOW + timedelta(hours=3)))  # type: ignore[arg-type]
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=1)) == []
    ended = Planner(store, COUNTRIES).flush_due(NOW + timedelta(hours=3))
    assert [p.message.notice for p in ended] == [
        "2 alerts were skipped while muted (until 2026-02-16 15:00 UTC)."
    ]


def test_held_events_of_a_removed_channel_are_dropped(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(9), "UTC"))
    Planner(store, COUNTRIES).after_ingest([LEADER], NOW)
    Subscriptions(store).remove(CH)
    assert Planner(store, COUNTRIES).flush_due(NOW + timedelta(days=2)) == []
    assert len(HeldAlerts(store)) == 0


def _stored_weeks(store: Store, weeks: int) -> list[date]:
    """`weeks` weekly snapshots ending on 2026-02-16, so alerts have a chart to draw."""
    from tests.helpers import snap

    dates = [date(2026, 2, 16) - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    for i, day in enumerate(dates):
        store.add_snapshot(snap(day.isoformat(), {"a/one": 100 + i, "b/two": 90, "c/three": 80}))
    return dates


def test_a_post_carries_the_chart_of_its_newest_snapshot_only(store: Store) -> None:
    dates = _stored_weeks(store, 4)
    subscribe(store, kinds=("new_leader", "rank_change"))
    older_leader = replace(LEADER, as_of=dates[-2])
    newer_move = ev("rank_change", "c/three", rank=3, previous_rank=6, move=3)
    [post] = Planner(store, COUNTRIES).after_ingest([older_leader, newer_move], NOW)
    assert post.message.events == (newer_move, older_leader)  # newest snapshot first
    assert post.message.attachments == ()  # the leader's picture belongs to an older week
    [post] = Planner(store, COUNTRIES).after_ingest([older_leader, newer_move, LEADER], NOW)
    [chart] = post.message.attachments
    assert chart.filename == "rankbot-trend-openrouter-week-2026-02-16.png"


def test_a_digest_spanning_weeks_lays_out_newest_first(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(9), "UTC"))
    old_entry = replace(ENTRY, as_of=date(2026, 2, 9))
    Planner(store, COUNTRIES).after_ingest([old_entry], NOW)
    Planner(store, COUNTRIES).after_ingest([MILESTONE], NOW + timedelta(hours=1))
    [digest] = Planner(store, COUNTRIES).flush_due(datetime(2026, 2, 17, 9, tzinfo=UTC))
    assert digest.message.events == (MILESTONE, old_entry)
