"""The platform-free commands: happy paths, helpful replies to bad arguments, never an exception."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.messages import Caller, ChannelRef, CommandContext, Message, Reply
from bot.core.planning import Planned
from bot.engine.ingest import ingest
from bot.store.tinydb import TinyStore
from tests.helpers import snap

T = TypeVar("T")


def sync(step: Coroutine[Any, Any, T]) -> T:
    """One store call or command from these (sync) tests, on a loop of its own."""
    return asyncio.run(step)


NOW = datetime(2026, 2, 16, 12, 0, tzinfo=UTC)
CH = ChannelRef("slack", "T1", "C1")
ATTRIBUTION = "Source: OpenRouter (openrouter.ai/rankings), as of 2026-02-16."
ADMIN = Caller("U1", "ann", can_manage=True)
MEMBER = Caller("U2", "bob", can_manage=False, manage_rule="Ask a workspace admin.")


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    config = Config()
    store = TinyStore.open(tmp_path / "db.json")
    weeks = [
        {"openai/gpt-5": 900, "deepseek/deepseek-v3": 800, "meta/llama-4": 100},
        {"openai/gpt-5": 900, "deepseek/deepseek-v3": 1200, "meta/llama-4": 150},
        {"openai/gpt-5": 1000, "deepseek/deepseek-v3": 1300, "qwen/qwen3": 50},
    ]
    for i, figures in enumerate(weeks):
        day = f"2026-02-{2 + 7 * i:02d}"
        week = snap(day, figures, attribution=ATTRIBUTION)
        sync(ingest(store, week, params=config.detect, countries=config.countries))
    yield Services(store, config)
    store.close_now()


def run(services: Services, line: str, caller: Caller = ADMIN, now: datetime = NOW) -> Reply:
    return sync(execute(line, CommandContext(CH, caller, now), services))


def test_top_shows_the_ranking_with_changes_and_attribution(services: Services) -> None:
    reply = run(services, "top 2 week")
    assert reply.ok and reply.view == "top"
    assert [r["model"] for r in reply.data["rows"]] == ["deepseek/deepseek-v3", "openai/gpt-5"]
    assert reply.data["previous_as_of"] == "2026-02-09"
    assert "Top 2" in reply.text and reply.text.endswith(ATTRIBUTION)


def test_top_defaults_to_ten_of_the_week(services: Services) -> None:
    reply = run(services, "top")
    assert reply.data["n"] == 10 and reply.data["period"] == "week"


@pytest.mark.parametrize("line", ["top 0", "top 26", "top ten", "top 5 year", "top 5 week 3"])
def test_top_bad_arguments(services: Services, line: str) -> None:
    reply = run(services, line)
    assert not reply.ok and reply.view == "error"
    assert "Example: `top 5 week`" in reply.text


def test_top_without_data_says_so(services: Services) -> None:
    reply = run(services, "top day")
    assert not reply.ok and "No day ranking" in reply.text


def test_model_shows_rank_change_first_seen_and_history(services: Services) -> None:
    reply = run(services, "model DeepSeek")
    assert reply.ok and reply.view == "model"
    data = reply.data
    assert data["model"] == "deepseek/deepseek-v3" and data["rank"] == 1
    assert data["previous_rank"] == 1 and round(data["change_pct"], 1) == 8.3
    assert data["first_seen"] == "2026-02-02" and len(data["history"]) == 3
    assert reply.text.endswith(ATTRIBUTION)


def test_model_no_longer_listed(services: Services) -> None:
    reply = run(services, "model meta/llama-4")
    assert reply.ok and reply.data["rank"] is None and "Not listed" in reply.text


def test_model_fuzzy_match_and_suggestions(services: Services) -> None:
    assert run(services, "model deepsek/deepseek-v3").data["model"] == "deepseek/deepseek-v3"
    reply = run(services, "model lama")
    assert reply.data["model"] == "meta/llama-4"
    missing = run(services, "model gpt-4")
    assert not missing.ok and "Did you mean" in missing.text and "openai/gpt-5" in missing.text
    assert "Did you mean" not in run(services, "model zzzzzz").text
    several = run(services, "model /")
    assert not several.ok and "matches several" in several.text
    assert not run(services, "model").ok


def test_countries_shows_totals_unattributed_and_leader_since(services: Services) -> None:
    reply = run(services, "countries")
    assert reply.ok and reply.view == "countries"
    codes = [row["code"] for row in reply.data["countries"]]
    assert codes == ["CN", "US"]
    assert reply.data["leader"] == "CN" and reply.data["leader_since"] == "2026-02-09"
    assert "🇨🇳" in reply.text and "Unattributed" in reply.text
    assert reply.text.endswith(ATTRIBUTION)
    assert not run(services, "countries now").ok


def test_subscribe_replies_with_the_complete_settings(services: Services) -> None:
    reply = run(
        services, "subscribe new_leader surge top=5 exclude-author=openai,x period=week,day"
    )
    assert reply.ok and reply.view == "subscription"
    sub = reply.data["subscription"]
    assert sub["kinds"] == ["new_leader", "surge"]
    assert sub["filters"]["top_n"] == 5
    assert sub["filters"]["exclude_authors"] == ["openai", "x"]
    assert sub["periods"] == ["day", "week"]
    assert sub["created_by"] == "ann (U1)"
    for line in (
        "alerts: new_leader, surge",
        "top N: 5",
        "not authors: openai, x",
        "delivery: immediate",
        "quiet hours: off",
        "charts: on",
    ):
        assert line in reply.text
    assert "from now on" in reply.text


def test_subscribe_defaults_and_merges(services: Services) -> None:
    first = run(services, "subscribe")
    assert first.data["subscription"]["kinds"] == [
        "new_leader",
        "country_flip",
        "top_entry",
        "top_exit",
        "milestone",
    ]
    again = run(services, "subscribe surge country=cn min-change=75% charts=off")
    sub = again.data["subscription"]
    assert "surge" in sub["kinds"] and "new_leader" in sub["kinds"]
    assert sub["filters"]["countries"] == ["CN"] and sub["filters"]["min_change_pct"] == 75.0
    assert sub["charts"] is False and "updated" in again.text
    reset = run(services, "subscribe reset")
    assert reset.data["subscription"]["filters"]["countries"] == []
    assert len(sync(services.store.subscriptions.all())) == 1


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("subscribe new_leadr", "Did you mean `new_leader`"),
        ("subscribe top=0", "top must be a whole number from 1 to 50"),
        ("subscribe top=51", "from 1 to 50"),
        ("subscribe colour=red", "Unknown filter"),
        ("subscribe country=China", "two-letter country code"),
        ("subscribe min-change=lots", "percentage"),
        ("subscribe period=year", "period must be week, day or month"),
        ("subscribe charts=maybe", "on or off"),
    ],
)
def test_subscribe_bad_arguments(services: Services, line: str, says: str) -> None:
    reply = run(services, line)
    assert not reply.ok and says in reply.text and "Example: `subscribe" in reply.text
    assert sync(services.store.subscriptions.get(CH)) is None


def test_unsubscribe_some_kinds_then_all(services: Services) -> None:
    run(services, "subscribe")
    some = run(services, "unsubscribe top_entry top-exit")
    assert some.data["subscription"]["kinds"] == ["new_leader", "country_flip", "milestone"]
    everything = run(services, "unsubscribe all")
    assert everything.ok and everything.data["subscription"] is None
    assert sync(services.store.subscriptions.get(CH)) is None
    nothing = run(services, "unsubscribe")
    assert not nothing.ok and "no subscription" in nothing.text
    assert "Unknown alert kind" in run(services, "unsubscribe flips").text


def test_subscriptions_lists_settings_creator_and_dates(services: Services) -> None:
    assert "no subscription" in run(services, "subscriptions").text
    run(services, "subscribe")
    later = NOW + timedelta(days=1)
    run(services, "subscribe surge", caller=Caller("U3", "cid", can_manage=True), now=later)
    reply = run(services, "subscriptions", caller=MEMBER)
    assert reply.ok
    assert "Created by ann (U1) on 2026-02-16 12:00 UTC" in reply.text
    assert "last changed by cid (U3) on 2026-02-17 12:00 UTC" in reply.text


def test_changes_need_the_manage_right(services: Services) -> None:
    for line in (
        "subscribe",
        "unsubscribe",
        "mute 1h",
        "unmute",
        "digest off",
        "quiet off",
        "resume",
    ):
        reply = run(services, line, caller=MEMBER)
        assert not reply.ok and "Ask a workspace admin." in reply.text
    assert sync(services.store.subscriptions.get(CH)) is None
    assert run(services, "top", caller=MEMBER).ok


def test_mute_and_unmute(services: Services) -> None:
    assert "no subscription" in run(services, "mute 1h").text
    run(services, "subscribe")
    reply = run(services, "mute 1h30m")
    assert reply.ok and "muted until: 2026-02-16 13:30 UTC" in reply.text
    for bad in ("mute", "mute soon", "mute 0m", "mute 1h 2h", "mute 365d"):
        assert "Example: `mute 2h`" in run(services, bad).text
    unmuted = run(services, "unmute", now=NOW + timedelta(minutes=10))
    assert unmuted.ok and "muted until" not in unmuted.text
    assert "not muted" in run(services, "unmute", now=NOW + timedelta(minutes=20)).text


def test_digest_settings(services: Services) -> None:
    run(services, "subscribe")
    daily = run(services, "digest daily 08:30 Europe/Berlin")
    assert "delivery: digest daily at 08:30 Europe/Berlin" in daily.text
    weekly = run(services, "digest weekly fri")  # keeps the zone, default time
    assert "delivery: digest weekly on fri at 09:00 Europe/Berlin" in weekly.text
    off = run(services, "digest off")
    assert "delivery: immediate" in off.text
    for bad, says in [
        ("digest", "daily, weekly or off"),
        ("digest hourly", "not daily"),
        ("digest daily 25:00", "time of day"),
        ("digest daily Mars/Base", "time zone"),
    ]:
        reply = run(services, bad)
        assert not reply.ok and says in reply.text and "Example: `digest daily" in reply.text


def test_quiet_hours_settings(services: Services) -> None:
    run(services, "subscribe")
    reply = run(services, "quiet 22:00-07:00 Asia/Tokyo")
    assert "quiet hours: 22:00-07:00 Asia/Tokyo" in reply.text
    assert "quiet hours: off" in run(services, "quiet off").text
    for bad in (
        "quiet",
        "quiet 22:00",
        "quiet 22:00-22:00",
        "quiet 9-5",
        "quiet 22:00-07:00 Nowhere",
    ):
        reply = run(services, bad)
        assert not reply.ok and "Example: `quiet 22:00-07:00 Europe/Berlin`" in reply.text


def test_status_shows_health_pause_and_pending(services: Services) -> None:
    health = services.store.state.set(
        "health:openrouter",
        {
            "last_good_fetch": "2026-02-16T11:00:00+00:00",
            "consecutive_failures": 2,
            "newest_day": "2026-02-16",
            "last_error": "HTTP 503",
            "next_poll": "2026-02-16T13:00",
        },
    )
    sync(health)
    run(services, "subscribe")
    sync(services.store.outbox.enqueue([Planned(CH, Message(notice="hi"), "k1")], now=NOW))
    sync(services.store.subscriptions.pause(CH, "not_in_channel", NOW))
    reply = run(services, "status", caller=MEMBER)
    assert reply.ok and reply.view == "status"
    assert reply.data["pending_here"] == 1 and reply.data["paused"]
    for text in (
        "2026-02-16T11:00:00+00:00",
        "2 failed polls in a row",
        "HTTP 503",
        "paused (not_in_channel)",
        "1 here",
        "type `resume`",
    ):
        assert text in reply.text


def test_status_without_health_or_subscription(services: Services) -> None:
    reply = run(services, "status")
    assert reply.ok and "last successful poll: never" in reply.text
    assert "not subscribed" in reply.text


def test_status_of_a_recorded_history_describes_the_store(services: Services) -> None:
    # `rankbot run --history FILE`: the replay keeps no poll record, /top shows data, and
    # status says what is stored instead of "last successful poll: never"
    from types import SimpleNamespace

    from bot.app import chat_services, load_config
    from bot.sources.replay import ReplaySource

    # what chat_services reads of the running bot: its store, its poller's source, its test send
    poller = SimpleNamespace(source=ReplaySource([]))
    running = SimpleNamespace(store=services.store, poller=poller, send_test=None)
    wired = chat_services(load_config(None), running)  # type: ignore[arg-type]
    assert wired.source == "replay" and not wired.keeps_health
    reply = run(wired, "status")
    assert "never" not in reply.text
    assert "source: replay keeps no poll record" in reply.text
    assert "newest data stored: 2026-02-16" in reply.text


def test_every_command_in_a_paused_channel_mentions_the_pause(services: Services) -> None:
    run(services, "subscribe")
    sync(services.store.subscriptions.pause(CH, "channel_not_found", NOW))
    for line in ("top", "help", "subscriptions", "bogus"):
        reply = run(services, line)
        assert "paused: channel_not_found" in reply.text and "`resume`" in reply.text
    resumed = run(services, "resume")
    assert resumed.ok and "Resumed" in resumed.text and "paused" not in resumed.data
    assert "not paused" in run(services, "resume").text


def test_resume_sends_missed_alerts_and_status_counts_them(services: Services) -> None:
    from bot.store.protocols import Outcome

    run(services, "subscribe")
    outbox = services.store.outbox
    posts = [Planned(CH, Message(notice=k), k) for k in ("missed", "old", "refused")]
    sync(outbox.enqueue(posts, now=NOW - timedelta(days=10)))
    outcomes = [
        Outcome("missed", "failed", NOW - timedelta(days=1), reason="gone", failure="access"),
        Outcome("old", "failed", NOW - timedelta(days=9), reason="gone", failure="access"),
        Outcome("refused", "failed", NOW, reason="invalid_blocks", failure="content"),
    ]
    sync(outbox.record(outcomes))
    sync(services.store.subscriptions.pause(CH, "not_in_channel", NOW))
    status = run(services, "status")
    assert "2 missed alerts wait for `resume` here" in status.text
    assert "1 alert refused by the platform for its content" in status.text
    resumed = run(services, "resume")
    assert "1 missed alert goes out now." in resumed.text
    assert "1 missed alert was older than 7 days and is not sent." in resumed.text
    assert "1 alert was refused by the platform for its content and is not resent." in (
        resumed.text
    )
    assert resumed.data["resumed"] == {"requeued": 1, "dropped": 1, "refused": 1}
    assert sync(outbox.state_of("missed")) == "pending"
    assert sync(outbox.state_of("old")) == "dropped"
    assert "missed alert" not in run(services, "status").text


def test_subscribe_in_a_paused_channel_resends_what_it_missed(services: Services) -> None:
    from bot.store.protocols import Outcome

    run(services, "subscribe")
    sync(services.store.outbox.enqueue([Planned(CH, Message(notice="m"), "m")], now=NOW))
    sync(services.store.outbox.record([Outcome("m", "failed", NOW, failure="access")]))
    sync(services.store.subscriptions.pause(CH, "gone", NOW))
    run(services, "subscribe surge")
    assert sync(services.store.outbox.state_of("m")) == "pending"


def test_subscribe_unpauses(services: Services) -> None:
    run(services, "subscribe")
    sync(services.store.subscriptions.pause(CH, "gone", NOW))
    run(services, "subscribe surge")
    assert not sync(services.store.subscriptions.is_paused(CH))


def test_help_lists_everything_and_explains_one(services: Services) -> None:
    reply = run(services, "help")
    assert reply.view == "help" and len(reply.data["commands"]) == 15
    assert run(services, "").view == "help"
    one = run(services, "help digest")
    assert "default 09:00" in one.text and "default the one set before, else UTC" in one.text
    assert "top=N" in run(services, "help subscribe").text
    assert not run(services, "help nothing").ok
    assert not run(services, "help top model").ok


def test_unknown_command_suggests_the_closest(services: Services) -> None:
    reply = run(services, "subscibe new_leader")
    assert not reply.ok and "Did you mean `subscribe`" in reply.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(max_size=60),
        st.lists(
            st.sampled_from(
                [
                    "top",
                    "model",
                    "countries",
                    "subscribe",
                    "unsubscribe",
                    "mute",
                    "digest",
                    "quiet",
                    "status",
                    "resume",
                    "help",
                    "unmute",
                    "subscriptions",
                    "all",
                    "weekly",
                    "daily",
                    "off",
                    "5",
                    "-1",
                    "99999999",
                    "22:00-07:00",
                    "UTC",
                    "top=",
                    "model=*",
                    "country=",
                    "min-move=x",
                    "period=,",
                    "reset",
                    "2h",
                    "Europe/Berlin",
                    "fri",
                    "10:00",
                    "∞",
                    "=",
                    "new_leader",
                ]
            )
            | st.text(max_size=8),
            max_size=6,
        ).map(" ".join),
    ),
    st.booleans(),
)
def test_any_line_yields_a_reply(services: Services, line: str, manage: bool) -> None:
    caller = Caller("U9", "fuzz", can_manage=manage)
    reply = run(services, line, caller=caller)
    assert isinstance(reply, Reply) and reply.text


async def test_chart_command_answers_with_a_png_or_a_helpful_error(tmp_path: Path) -> None:
    from importlib import resources

    from bot.core.history_format import read_history

    async with TinyStore.open(tmp_path / "db.json") as store:
        services = Services(store=store, config=Config())
        ctx = CommandContext(ChannelRef("slack", "T1", "C1"), Caller("U1"), NOW)
        empty = await execute("chart trend", ctx, services)
        assert not empty.ok and "chart" in empty.text
        text = resources.files("bot").joinpath("data/demo-history.jsonl").read_text("utf-8")
        for snapshot in read_history(text.splitlines()):
            await store.history.add_snapshot(snapshot)
        reply = await execute("chart ranks 5 6", ctx, services)
        assert reply.ok and reply.view == "chart"
        [png] = reply.attachments
        assert png.content.startswith(b"\x89PNG") and png.filename.endswith(".png")
        bad = await execute("chart pie", ctx, services)
        assert not bad.ok and "trend" in bad.text


def test_test_posts_a_sample_alert_through_the_bots_sender(services: Services) -> None:
    from dataclasses import replace as with_

    from bot.delivery.sender import SendResult, SendStatus

    sent: list[tuple[ChannelRef, str]] = []

    async def send_test(channel: ChannelRef, lang: str) -> SendResult:
        sent.append((channel, lang))
        return SendResult(SendStatus.SENT)

    reply = run(with_(services, send_test=send_test), "test")
    assert reply.ok and "sample alert, marked as a test, was posted" in reply.text
    assert sent == [(CH, "en")]

    async def refused(channel: ChannelRef, lang: str) -> SendResult:
        return SendResult(SendStatus.PERMANENT, reason="not_in_channel")

    reply = run(with_(services, send_test=refused), "test")
    assert not reply.ok and "could not post here: not_in_channel" in reply.text
    assert not run(services, "test").ok  # no sender wired: said, not raised
