"""Subscription records, the [[channels]] config section, and the local-time rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bot import app
from bot.config.file import Config
from bot.core.local_time import Digest, QuietHours, ScheduleError, parse_duration, parse_tz
from bot.core.messages import ChannelRef
from bot.core.subscription import DEFAULT_KINDS, Filters, Subscription
from bot.errors import ConfigError
from bot.store.database import Store
from bot.store.subscriptions import Subscriptions

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
CH = ChannelRef("slack", "T1", "C1")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store.open(tmp_path / "db.json") as s:
        yield s  # type: ignore[misc]


def test_a_record_round_trips_through_the_store(tmp_path: Path) -> None:
    full = Subscription(
        CH,
        kinds=("new_leader", "surge"),
        filters=Filters(
            top_n=5,
            models=("openai/*",),
            exclude_countries=("CN",),
            min_move=4,
            min_change_pct=70.0,
        ),
        periods=("day", "week"),
        digest=Digest("weekly", time(8, 30), "Europe/Berlin", 4),
        quiet=QuietHours(time(22), time(7), "Asia/Tokyo"),
        mute_until=NOW + timedelta(hours=2),
        skipped=3,
        charts=False,
        created_by="ann (U1)",
        created_at=NOW,
        paused=True,
        pause_reason="channel_not_found",
    )
    with Store.open(tmp_path / "db.json") as s:
        Subscriptions(s).upsert(full)
    with Store.open(tmp_path / "db.json") as s:
        assert Subscriptions(s).get(CH) == full


def test_one_record_per_channel(store: Store) -> None:
    subs = Subscriptions(store)
    subs.upsert(Subscription(CH, kinds=("new_leader",)))
    subs.upsert(Subscription(CH, kinds=("surge",)))
    subs.upsert(Subscription(ChannelRef("discord", "G1", "C1"), kinds=("drop",)))
    assert len(subs.all()) == 2
    assert subs.get(CH).kinds == ("surge",)  # type: ignore[union-attr]
    assert subs.remove(CH) and not subs.remove(CH)
    assert subs.get(CH) is None


def test_pause_keeps_the_settings_and_resume_clears_it(store: Store) -> None:
    subs = Subscriptions(store)
    subs.upsert(Subscription(CH, filters=Filters(top_n=3)))
    subs.pause(CH, "not_in_channel", NOW)
    paused = subs.get(CH)
    assert paused is not None and paused.paused and paused.pause_reason == "not_in_channel"
    assert paused.filters.top_n == 3 and subs.is_paused(CH)
    resumed = subs.resume(CH, NOW, by="ann")
    assert resumed is not None and not resumed.paused and resumed.pause_reason is None
    subs.pause(ChannelRef("slack", "T1", "nobody"), "gone", NOW)  # no record: nothing happens
    assert len(subs.all()) == 1


def test_top_ns_lists_every_n_a_channel_watches(store: Store) -> None:
    subs = Subscriptions(store)
    subs.upsert(Subscription(CH, filters=Filters(top_n=5)))
    subs.upsert(Subscription(ChannelRef("slack", "T1", "C2")))
    assert subs.top_ns() == (5, 10)


def _config(channels: list[dict[str, object]]) -> Config:
    return app.config_from_mapping({"channels": channels}, base=Path("."))


def test_channels_section_declares_webhook_subscriptions() -> None:
    config = _config(
        [
            {"name": "ops-alerts", "platform": "slack-webhook", "url_env": "OPS_URL"},
            {
                "name": "cn-watch",
                "platform": "discord-webhook",
                "url_env": "CN_HOOK",
                "kinds": ["country_flip", "surge"],
                "countries": ["cn"],
                "top_n": 20,
                "min_change_pct": 80,
                "digest": "daily",
                "digest_at": "08:00",
                "timezone": "Asia/Shanghai",
                "quiet": "23:00-07:00",
                "charts": False,
            },
        ]
    )
    first, second = config.section("channels")
    assert first.subscription == Subscription(ChannelRef("slack-webhook", "config", "ops-alerts"))
    assert first.url_env == "OPS_URL"
    sub = second.subscription
    assert sub.kinds == ("country_flip", "surge") and sub.filters.countries == ("CN",)
    assert sub.filters.top_n == 20 and sub.filters.min_change_pct == 80.0
    assert sub.digest == Digest("daily", time(8), "Asia/Shanghai")
    assert sub.quiet == QuietHours(time(23), time(7), "Asia/Shanghai") and not sub.charts


def test_no_channels_section_means_no_declared_channels() -> None:
    assert app.load_config(None).section("channels") == ()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"platform": "webhook", "url_env": "X"}, "name"),
        ({"name": "a", "platform": "slack", "url_env": "X"}, "platform"),
        ({"name": "a", "platform": "webhook", "url_env": "https://hooks.slack.com/x"}, "url_env"),
        ({"name": "a", "platform": "webhook", "url_env": "X", "kinds": ["flip"]}, "kinds"),
        ({"name": "a", "platform": "webhook", "url_env": "X", "top_n": 99}, "top_n"),
        (
            {"name": "a", "platform": "webhook", "url_env": "X", "timezone": "Mars/Base"},
            "time zone",
        ),
        ({"name": "a", "platform": "webhook", "url_env": "X", "quiet": "22-7"}, "time of day"),
        ({"name": "a", "platform": "webhook", "url_env": "X", "colour": "red"}, "unknown key"),
    ],
)
def test_bad_channels_are_reported_with_the_key(item: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _config([item])
    assert "[[channels]] #1" in str(info.value)


def test_a_channel_declared_twice_is_an_error() -> None:
    item = {"name": "a", "platform": "webhook", "url_env": "X"}
    with pytest.raises(ConfigError, match="declared twice"):
        _config([item, item])


def test_sync_declared_follows_the_file_and_keeps_history(store: Store) -> None:
    subs = Subscriptions(store)
    hook = ChannelRef("webhook", "config", "ops")
    gone = ChannelRef("webhook", "config", "old")
    subs.upsert(Subscription(gone))
    subs.upsert(Subscription(CH))  # a chat channel is never touched by the file
    subs.sync_declared([Subscription(hook)], NOW)
    created = subs.get(hook)
    assert created is not None and created.created_by == "config" and created.created_at == NOW
    subs.upsert(replace(created, confirmed=True, skipped=2))
    later = NOW + timedelta(days=1)
    subs.sync_declared([Subscription(hook, kinds=("surge",))], later)
    changed = subs.get(hook)
    assert changed is not None and changed.kinds == ("surge",) and changed.updated_at == later
    assert changed.confirmed and changed.skipped == 2 and changed.created_at == NOW
    assert subs.get(gone) is None and subs.get(CH) is not None
    assert Subscription(CH).kinds == DEFAULT_KINDS


# --- schedule: quiet hours, digests, durations -------------------------------------------


def at(hour: int, minute: int = 0, day: int = 16) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=UTC)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("22:00-07:00", "UTC")
    assert quiet.contains(at(23)) and quiet.contains(at(0)) and quiet.contains(at(6, 59))
    assert not quiet.contains(at(7)) and not quiet.contains(at(12)) and not quiet.contains(at(21))


def test_quiet_hours_in_another_time_zone() -> None:
    tokyo = QuietHours.parse("22:00-07:00", "Asia/Tokyo")  # UTC+9: 13:00-22:00 UTC
    assert tokyo.contains(at(13)) and tokyo.contains(at(21, 59))
    assert not tokyo.contains(at(22)) and not tokyo.contains(at(12, 59))
    day = QuietHours.parse("09:00-17:00", "America/New_York")  # UTC-5 in February
    assert day.contains(at(14)) and not day.contains(at(13, 59))


def test_digest_times() -> None:
    daily = Digest("daily", time(9), "Europe/Berlin")  # UTC+1 in February: 08:00 UTC
    assert daily.next_due(at(7)) == at(8)
    assert daily.next_due(at(8)) == at(8, day=17)
    weekly = Digest("weekly", time(9), "UTC", weekday=4)  # 2026-02-16 is a Monday
    assert weekly.next_due(at(10)) == at(9, day=20)
    assert weekly.next_due(at(9, day=20)) == at(9, day=27)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "0m", "2x", "-2h", "100d", "2h 3q"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_duration(text)


@pytest.mark.parametrize("name", ["Mars/Base", "../etc/passwd", "", "Europe/"])
def test_bad_time_zones(name: str) -> None:
    with pytest.raises(ScheduleError):
        parse_tz(name)
