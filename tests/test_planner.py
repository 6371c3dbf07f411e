"""Planning: one grouped post per channel, held for quiet hours and digests, muted and counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.events import Event
from bot.core.local_time import Digest, QuietHours
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.core.planning import grouped, ordered, plan_key
from bot.core.subscription import Subscription
from bot.engine import planner as notify
from bot.store.database import Store
from bot.store.subscriptions import Subscriptions

NOW = datetime(2026, 2, 16, 12, 0, tzinfo=UTC)  # a Monday
CH = ChannelRef("slack", "T1", "C1")
OTHER = ChannelRef("discord", "G1", "c2")


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
    planned = notify.after_ingest(store, [MILESTONE, SURGE, ENTRY, LEADER], NOW)
    assert len(planned) == 1
    assert planned[0].channel == CH
    assert planned[0].message.events == (LEADER, ENTRY, MILESTONE)  # surge not subscribed


def test_keys_are_stable_and_per_channel() -> None:
    assert plan_key(CH, [LEADER, ENTRY]) == plan_key(CH, [ENTRY, LEADER])
    assert plan_key(CH, [LEADER]) != plan_key(OTHER, [LEADER])
    assert plan_key(CH, [LEADER]) != plan_key(CH, [LEADER, ENTRY])
    assert grouped(CH, [ENTRY, LEADER]).key == grouped(CH, [LEADER, ENTRY]).key


def test_the_same_events_planned_after_a_restart_get_the_same_key(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as s:
        subscribe(s)
        first = notify.after_ingest(s, [LEADER, ENTRY], NOW)
    with Store.open(tmp_path / "db.json") as s:
        again = notify.after_ingest(s, [ENTRY, LEADER], NOW + timedelta(minutes=5))
    assert [p.key for p in first] == [p.key for p in again]


def test_ordering_ties_by_rank_then_subject() -> None:
    a = ev("top_entry", "z/late", rank=3, top_n=10)
    b = ev("top_entry", "a/early", rank=9, top_n=10)
    c = ev("top_entry", "m/mid", rank=3, top_n=5)
    assert ordered([b, a, LEADER, c]) == [LEADER, c, a, b]


def test_overlapping_subscribe_requests_make_one_record_and_one_post(store: Store) -> None:
    services = Services(store, Config())
    ctx = CommandContext(CH, Caller("U1", "ann", can_manage=True), NOW)
    assert execute("subscribe new_leader top_entry", ctx, services).ok
    assert execute("subscribe new_leader milestone", ctx, services).ok
    assert len(Subscriptions(store).all()) == 1
    planned = notify.after_ingest(store, [LEADER, ENTRY, MILESTONE], NOW)
    assert len(planned) == 1 and len(planned[0].message.events) == 3


def test_channels_that_want_nothing_or_are_paused_get_nothing(store: Store) -> None:
    subscribe(store, kinds=("surge",), filters=replace(Subscription(CH).filters, top_n=3))
    subscribe(store, OTHER, paused=True, pause_reason="gone")
    assert notify.after_ingest(store, [LEADER, ENTRY], NOW) == []
    assert notify.after_ingest(store, [], NOW) == []


def test_a_new_subscription_gets_exactly_one_confirmation(store: Store) -> None:
    Subscriptions(store).upsert(Subscription(CH, created_at=NOW))
    planned = notify.flush_due(store, NOW)
    assert len(planned) == 1
    notice = planned[0].message.notice or ""
    assert "from now on" in notice and "new_leader" in notice and not planned[0].message.events
    assert planned[0].key == f"confirm:{CH.key}:{NOW.isoformat()}"
    assert notify.flush_due(store, NOW + timedelta(minutes=1)) == []


def test_quiet_hours_hold_events_until_they_end_then_group_them(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(22), time(7), "UTC"))
    night = datetime(2026, 2, 16, 23, 0, tzinfo=UTC)
    assert notify.after_ingest(store, [ENTRY], night) == []
    assert notify.after_ingest(store, [LEADER], night + timedelta(hours=2)) == []
    assert notify.flush_due(store, datetime(2026, 2, 17, 6, 59, tzinfo=UTC)) == []
    released = notify.flush_due(store, datetime(2026, 2, 17, 7, 0, tzinfo=UTC))
    assert len(released) == 1
    assert released[0].message.events == (LEADER, ENTRY)
    assert "quiet hours" in (released[0].message.title or "")
    assert notify.flush_due(store, datetime(2026, 2, 17, 8, 0, tzinfo=UTC)) == []


def test_quiet_hours_are_local_to_the_channel(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(22), time(7), "Asia/Tokyo"))  # 13:00-22:00 UTC
    subscribe(store, OTHER, quiet=QuietHours(time(22), time(7), "America/New_York"))
    planned = notify.after_ingest(store, [LEADER], datetime(2026, 2, 16, 14, tzinfo=UTC))
    assert [p.channel for p in planned] == [OTHER]  # 09:00 in New York, 23:00 in Tokyo
    released = notify.flush_due(store, datetime(2026, 2, 16, 22, tzinfo=UTC))
    assert [p.channel for p in released] == [CH]


def test_the_same_event_is_held_once(store: Store) -> None:
    subscribe(store, quiet=QuietHours(time(0), time(23, 59), "UTC"))
    notify.after_ingest(store, [LEADER], NOW)
    notify.after_ingest(store, [LEADER], NOW)
    assert len(store.table(notify.HELD_TABLE)) == 1


def test_a_daily_digest_gathers_everything_into_one_message(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(9), "Europe/Berlin"))  # 08:00 UTC
    assert notify.after_ingest(store, [LEADER], NOW) == []
    assert notify.after_ingest(store, [ENTRY], NOW + timedelta(hours=6)) == []
    assert notify.flush_due(store, datetime(2026, 2, 17, 7, 59, tzinfo=UTC)) == []
    digest = notify.flush_due(store, datetime(2026, 2, 17, 8, 0, tzinfo=UTC))
    assert len(digest) == 1
    assert digest[0].message.events == (LEADER, ENTRY)
    assert (digest[0].message.title or "").startswith("Daily digest: 2 alert(s)")
    assert digest[0].key.startswith("digest:")
    assert notify.flush_due(store, datetime(2026, 2, 18, 8, 0, tzinfo=UTC)) == []


def test_a_weekly_digest_waits_for_its_day(store: Store) -> None:
    subscribe(store, digest=Digest("weekly", time(9), "UTC", weekday=4))
    notify.after_ingest(store, [LEADER], NOW)
    assert notify.flush_due(store, datetime(2026, 2, 19, 9, tzinfo=UTC)) == []
    assert len(notify.flush_due(store, datetime(2026, 2, 20, 9, tzinfo=UTC))) == 1


def test_muted_alerts_are_dropped_counted_and_announced_once(store: Store) -> None:
    subscribe(store, mute_until=NOW + timedelta(hours=2))
    assert notify.after_ingest(store, [LEADER, ENTRY], NOW) == []
    assert notify.after_ingest(store, [MILESTONE], NOW + timedelta(hours=1)) == []
    assert Subscriptions(store).get(CH).skipped == 3  # type: ignore[union-attr]
    assert notify.flush_due(store, NOW + timedelta(hours=1)) == []
    ended = notify.flush_due(store, NOW + timedelta(hours=2))
    assert len(ended) == 1
    assert (
        ended[0].message.notice == "3 alerts were skipped while muted (until 2026-02-16 14:00 UTC)."
    )
    after = Subscriptions(store).get(CH)
    assert after is not None and after.mute_until is None and after.skipped == 0
    assert notify.flush_due(store, NOW + timedelta(hours=3)) == []
    assert len(notify.after_ingest(store, [LEADER], NOW + timedelta(hours=3))) == 1


def test_a_mute_with_nothing_skipped_ends_silently(store: Store) -> None:
    subscribe(store, mute_until=NOW + timedelta(hours=1))
    assert notify.flush_due(store, NOW + timedelta(hours=2)) == []
    assert Subscriptions(store).get(CH).mute_until is None  # type: ignore[union-attr]


def test_a_digest_due_during_a_mute_is_dropped_and_counted(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(13), "UTC"))
    notify.after_ingest(store, [LEADER, ENTRY], NOW)
    sub = Subscriptions(store).get(CH)
    Subscriptions(store).upsert(replace(sub, mute_until=NOW + timedelta(hours=3)))  # type: ignore[arg-type]
    assert notify.flush_due(store, NOW + timedelta(hours=1)) == []
    ended = notify.flush_due(store, NOW + timedelta(hours=3))
    assert [p.message.notice for p in ended] == [
        "2 alerts were skipped while muted (until 2026-02-16 15:00 UTC)."
    ]


def test_held_events_of_a_removed_channel_are_dropped(store: Store) -> None:
    subscribe(store, digest=Digest("daily", time(9), "UTC"))
    notify.after_ingest(store, [LEADER], NOW)
    Subscriptions(store).remove(CH)
    assert notify.flush_due(store, NOW + timedelta(days=2)) == []
    assert len(store.table(notify.HELD_TABLE)) == 0


def test_a_new_leaders_top_entry_is_not_said_twice_in_one_message() -> None:
    leader = ev("new_leader", "minimax/m2.5")
    entry = ev("top_entry", "minimax/m2.5@top10", top_n=10, model="minimax/m2.5")
    other = ev("top_entry", "z-ai/glm-5@top10", rank=5, top_n=10, model="z-ai/glm-5")
    post = grouped(CH, [entry, leader, other])
    assert [e.kind for e in post.message.events] == ["new_leader", "top_entry"]
    assert post.message.events[1].subject == "z-ai/glm-5@top10"
    # a channel that does not take new_leader still hears that the model entered
    assert [e.subject for e in grouped(CH, [entry]).message.events] == ["minimax/m2.5@top10"]
