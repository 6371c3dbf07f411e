"""The [[channels]] config section and the local-time rules (the records themselves:
`tests/store/contract/test_subscriptions.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bot import app
from bot.config.file import Config
from bot.core.local_time import Digest, QuietHours, ScheduleError, parse_duration, parse_tz
from bot.core.messages import ChannelRef
from bot.core.subscription import Subscription
from bot.errors import ConfigError

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
CH = ChannelRef("slack", "T1", "C1")


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
