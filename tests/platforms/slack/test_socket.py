"""End to end over Socket Mode: real slack-bolt and slack_sdk against the loopback Slack fake,
with the real command core, planner, outbox and delivery."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.messages import ChannelRef
from tests.fakes.slack_env import WEEK_1, WEEK_2, running_bot, week
from tests.fakes.slack_fake import TEAM_ID

CHANNEL = ChannelRef("slack", TEAM_ID, "C0ALERTS")


def _posts_to(bot_fake, channel: str) -> list:  # type: ignore[no-untyped-def]
    return [c for c in bot_fake.called("chat.postMessage") if c.params["channel"] == channel]


async def test_top_5_is_answered_in_the_socket_ack(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        envelope = await bot.fake.push_slash_command("/top", "5")
        ack = await bot.fake.wait_ack(envelope)
    payload = ack["payload"]
    assert payload["response_type"] == "ephemeral"
    section = payload["blocks"][1]["text"]["text"]
    lines = section.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("1. ") and "Gemini" not in lines[0]  # names default to the id
    assert "google/gemini-3-flash" in lines[0] and "990B" in lines[0]
    assert "anthropic/claude-sonnet-4.5" in lines[3]
    assert "openai/gpt-5-mini" not in section  # the 6th model
    assert "google/gemini-3-flash" in payload["text"]  # the plain-text fallback


async def test_top_public_posts_in_the_channel_and_errors_stay_private(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        public = await bot.fake.wait_ack(await bot.fake.push_slash_command("/top", "3 public"))
        bad = await bot.fake.wait_ack(await bot.fake.push_slash_command("/top", "lots public"))
    assert public["payload"]["response_type"] == "in_channel"
    assert bad["payload"]["response_type"] == "ephemeral"
    assert "lots" in bad["payload"]["text"]


async def test_admin_subscribes_and_sees_the_settings_a_member_is_refused(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        bot.fake.add_user("U0ADMIN", admin=True)
        bot.fake.add_user("U0MEMBER")
        await bot.fake.wait_ack(
            await bot.fake.push_slash_command(
                "/rankbot", "subscribe new_leader country_flip", user_id="U0MEMBER"
            )
        )
        await bot.fake.wait_for(lambda: len(bot.fake.responses) == 1)
        assert await bot.subscriptions().get(CHANNEL) is None
        ack = await bot.fake.wait_ack(
            await bot.fake.push_slash_command("/rankbot", "subscribe new_leader country_flip")
        )
        await bot.fake.wait_for(lambda: len(bot.fake.responses) == 2)
        sub = await bot.subscriptions().get(CHANNEL)
        users_info = [c.params["user"] for c in bot.fake.called("users.info")]
    refusal, settings = bot.fake.responses
    assert ack == {"envelope_id": ack["envelope_id"]}  # acknowledged at once, empty
    assert users_info == ["U0MEMBER", "U0ADMIN"]
    assert refusal["response_type"] == "ephemeral"
    assert "admins and owners" in refusal["text"]
    assert sub is not None and sub.kinds == ("new_leader", "country_flip")
    assert settings["response_type"] == "ephemeral"
    shown = settings["text"]
    assert "new_leader, country_flip" in shown


async def test_configured_managers_and_renamed_commands(tmp_path: Path) -> None:
    async with running_bot(
        tmp_path, managers=["U0LEAD"], command="/ranks", top_command="/llmtop"
    ) as bot:
        await bot.fake.wait_ack(
            await bot.fake.push_slash_command("/ranks", "subscribe new_leader", user_id="U0LEAD")
        )
        await bot.fake.wait_for(lambda: bot.fake.responses)
        ack = await bot.fake.wait_ack(await bot.fake.push_slash_command("/llmtop", "2"))
    # a listed manager may manage though Slack does not know them as an admin (the lookup
    # only asks for their language)
    assert await bot.subscriptions().get(CHANNEL) is not None
    assert all(c.params["include_locale"] == "1" for c in bot.fake.called("users.info"))
    assert "google/gemini-3-flash" in ack["payload"]["text"]


async def _subscribe(bot) -> None:  # type: ignore[no-untyped-def]
    bot.fake.add_user("U0ADMIN", owner=True)
    await bot.fake.wait_ack(
        await bot.fake.push_slash_command("/rankbot", "subscribe new_leader country_flip")
    )
    await bot.fake.wait_for(lambda: bot.fake.responses)
    await bot.replay()  # sends the one "watching from now on" confirmation
    assert len(_posts_to(bot.fake, "C0ALERTS")) == 1


async def test_a_new_leader_reaches_the_channel_once_with_blocks_and_fallback(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        before = len(bot.fake.called("chat.postMessage"))
        await bot.replay(week("2026-02-16", WEEK_2))
        await bot.replay(week("2026-02-16", WEEK_2))  # the same snapshot again: no news
        posts = bot.fake.called("chat.postMessage")[before:]
    assert len(posts) == 1
    params = posts[0].params
    assert params["channel"] == "C0ALERTS"
    assert "New #1" in params["text"] and "minimax/minimax-m2.5" in params["text"]
    blocks = params["blocks"]
    assert isinstance(blocks, list) and blocks[0]["type"] == "header"
    body = json.dumps(blocks, ensure_ascii=False)
    assert "*New #1*" in body and "Country flip" in body
    assert blocks[-2]["type"] == "context" and "openrouter.ai/rankings" in body
    assert blocks[-1]["type"] == "actions"


async def test_a_new_leader_alert_carries_its_chart_through_the_upload_v2_flow(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        await bot.replay(week("2026-02-16", WEEK_2))
        methods = [c.method for c in bot.fake.calls]
    steps = [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    last_post = max(i for i, m in enumerate(methods) if m == "chat.postMessage")
    assert [m for m in methods[last_post:] if m in steps] == steps
    # the upload carries alt text: what the chart shows, for people who cannot see it
    alt = bot.fake.called("files.getUploadURLExternal")[-1].params["alt_txt"]
    assert alt.startswith("Line chart: Weekly tokens of the top")
    assert "minimax/minimax-m2.5 leads with 1.7T tokens" in alt


async def test_a_failed_chart_upload_still_delivers_the_alert(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        before = len(bot.fake.called("chat.postMessage"))
        bot.fake.fail("files.getUploadURLExternal", error="not_allowed_token_type")
        await bot.replay(week("2026-02-16", WEEK_2))
        posts = bot.fake.called("chat.postMessage")[before:]
        assert len(posts) == 1 and "New #1" in posts[0].params["text"]
        assert not bot.fake.called("files.completeUploadExternal")
        assert await bot.outbox.count() == 0


async def test_429_is_retried_after_retry_after_and_not_before(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        bot.fake.fail("chat.postMessage", status=429, retry_after=2)
        await bot.replay(week("2026-02-16", WEEK_2))
        first, second = _posts_to(bot.fake, "C0ALERTS")[1:]
    assert second.at - first.at >= 2.0
    assert second.params["text"] == first.params["text"]
    assert bot.delivery.stats.rate_limited == 1 and bot.delivery.stats.sent == 2


async def test_not_in_channel_pauses_the_subscription_and_status_says_so(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        bot.fake.fail("chat.postMessage", error="not_in_channel")
        await bot.replay(week("2026-02-16", WEEK_2))
        posts = len(_posts_to(bot.fake, "C0ALERTS"))
        sub = await bot.subscriptions().get(CHANNEL)
        await bot.fake.wait_ack(await bot.fake.push_slash_command("/rankbot", "status"))
        await bot.fake.wait_for(lambda: len(bot.fake.responses) == 2)
    assert posts == 2  # the confirmation, then the refused alert: no retry
    assert sub is not None and sub.paused and sub.pause_reason == "not_in_channel"
    status = bot.fake.responses[-1]["text"]
    assert "paused" in status and "not_in_channel" in status


async def test_a_hostile_model_name_is_shown_literally(tmp_path: Path) -> None:
    hostile = "evil/<!channel> *bold* <@U0ADMIN> & co"
    async with running_bot(tmp_path) as bot:
        await _subscribe(bot)
        await bot.replay(week("2026-02-16", {**WEEK_1, hostile: 5000 * 1_000_000_000}))
        alert = _posts_to(bot.fake, "C0ALERTS")[-1].params
        top = await bot.fake.wait_ack(await bot.fake.push_slash_command("/top", "1"))
    for sent in (json.dumps(alert), json.dumps(top["payload"])):
        for raw in ("<!channel>", "<@U0ADMIN>", "\u200b"):
            assert raw not in sent
    shown = json.dumps(alert["blocks"], ensure_ascii=False)
    assert "evil/&lt;!channel&gt; *bold* &lt;@U0ADMIN&gt; &amp; co" in shown
    assert "&lt;!channel&gt;" in alert["text"]


async def test_a_chart_is_uploaded_into_the_channel(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.replay(week("2026-02-16", WEEK_2))
        await bot.fake.wait_ack(await bot.fake.push_slash_command("/rankbot", "chart trend 3 2"))
        await bot.fake.wait_for(lambda: bot.fake.called("files.completeUploadExternal"), 20)
        (url,) = bot.fake.called("files.getUploadURLExternal")
        (done,) = bot.fake.called("files.completeUploadExternal")
    assert url.params["filename"].endswith(".png")
    assert done.params["channel_id"] == "C0ALERTS"
    assert bot.fake.uploads[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert bot.fake.responses[0]["response_type"] == "in_channel"  # the core made it public
