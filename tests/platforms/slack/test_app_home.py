"""Slack as a Slack app (issue 15): the App Home tab lists the workspace's subscriptions,
buttons on alerts and on the pause notice run commands with the same permission checks,
and the manifest asks for both. Real slack-bolt in Socket Mode against the loopback fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.platforms.slack.manifest import manifest
from bot.platforms.slack.settings import SlackSettings
from tests.fakes.slack_env import WEEK_2, running_bot, week
from tests.platforms.slack.test_socket import CHANNEL, _posts_to, _subscribe


async def test_a_resume_button_resumes_for_an_admin_and_is_refused_to_others(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        await bot.subscriptions().pause(
            CHANNEL, "not_in_channel", week("2026-02-16", WEEK_2).fetched_at
        )
        status = await bot.fake.wait_ack(await bot.fake.push_slash_command("/top", "3"))
        bot.fake.add_user("U0MEMBER")
        await bot.fake.wait_ack(await bot.fake.push_button("rankbot_resume", user_id="U0MEMBER"))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) >= 2)
        still_paused = await bot.subscriptions().is_paused(CHANNEL)
        await bot.fake.wait_ack(await bot.fake.push_button("rankbot_resume"))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) >= 3)
        resumed = not await bot.subscriptions().is_paused(CHANNEL)
    # the /top answer in a paused channel: the note first, with its Resume button
    blocks = status["payload"]["blocks"]
    assert blocks[0]["text"]["text"].startswith("⏸ Deliveries to this channel are paused")
    assert blocks[1]["elements"][0]["action_id"] == "rankbot_resume"
    refusal, done = bot.fake.responses[-2:]
    assert still_paused and "You can't use `resume` here" in refusal["text"]
    assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
    assert resumed and "Resumed" in done["text"]


async def test_alerts_carry_top_10_and_mute_buttons_that_answer_the_presser(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        await bot.replay(week("2026-02-16", WEEK_2))
        alert = _posts_to(bot.fake, "C0ALERTS")[-1].params
        await bot.fake.wait_ack(await bot.fake.push_button("rankbot_top"))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) >= 2)
        await bot.fake.wait_ack(await bot.fake.push_button("rankbot_mute"))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) >= 3)
        sub = await bot.subscriptions().get(CHANNEL)
    actions = alert["blocks"][-1]
    assert actions["type"] == "actions"
    assert [e["text"]["text"] for e in actions["elements"]] == ["Top 10", "Mute 1 day"]
    top, muted = bot.fake.responses[-2:]
    assert top["response_type"] == "ephemeral" and "Top 6 by tokens" in top["text"]
    assert "Muted until" in muted["text"] and sub is not None and sub.mute_until is not None


async def test_the_app_home_lists_the_workspaces_channels_in_the_readers_language(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.fake.wait_ack(
            await bot.fake.push_event({"type": "app_home_opened", "user": "U0X", "tab": "home"})
        )
        await bot.fake.wait_for(lambda: bot.fake.called("views.publish"))
        await _subscribe(bot)
        bot.fake.add_user("U0ZH", locale="zh-CN")
        await bot.fake.wait_ack(
            await bot.fake.push_event({"type": "app_home_opened", "user": "U0ZH", "tab": "home"})
        )
        await bot.fake.wait_for(lambda: len(bot.fake.called("views.publish")) >= 2)
    empty, listed = (c.params for c in bot.fake.called("views.publish"))
    empty_view = json.loads(empty["view"]) if isinstance(empty["view"], str) else empty["view"]
    view = json.loads(listed["view"]) if isinstance(listed["view"], str) else listed["view"]
    assert listed["user_id"] == "U0ZH" and view["type"] == "home"
    assert "No channel is subscribed yet" in json.dumps(empty_view)
    shown = json.dumps(view, ensure_ascii=False)
    assert "<#C0ALERTS>" in shown
    assert "提醒类型：new_leader, country_flip" in shown  # its settings, in Chinese


def test_the_manifest_enables_the_home_tab_and_interactivity() -> None:
    socket = manifest(SlackSettings())
    assert socket["features"]["app_home"]["home_tab_enabled"] is True
    assert socket["settings"]["interactivity"]["is_enabled"] is True
    assert "app_home_opened" in socket["settings"]["event_subscriptions"]["bot_events"]
    http = manifest(SlackSettings(mode="http"), url="https://bot.example.org")
    assert (
        http["settings"]["interactivity"]["request_url"] == "https://bot.example.org/slack/events"
    )
    with pytest.raises(ValueError, match="https"):
        manifest(SlackSettings(mode="http"), url="http://bot.example.org")


async def test_a_command_copied_from_a_reply_is_accepted_and_examples_are_typeable(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        bot.fake.add_user("U0ADMIN", owner=True)
        await bot.fake.wait_ack(await bot.fake.push_slash_command("/rankbot", "mute soon"))
        await bot.fake.wait_for(lambda: bot.fake.responses)
        # as a chat client pastes it: zero-width spaces, smart quotes, a code span's backticks
        pasted = "subscribe \u201cnew\u200b_leader\u201d `country_flip`"
        await bot.fake.wait_ack(await bot.fake.push_slash_command("/rankbot", pasted))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) >= 2)
        sub = await bot.subscriptions().get(CHANNEL)
    error, done = bot.fake.responses
    assert "Example: `/rankbot mute 2h`" in error["text"]
    assert sub is not None and sub.kinds == ("new_leader", "country_flip")
    assert "Subscribed" in done["text"]
