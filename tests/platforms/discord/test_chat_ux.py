"""Discord as a user meets it (issue 15): slash syntax in help, `/top public`, the pause
note, the bot's own permissions checked by `/subscribe`, and replies and alerts in the
reader's language, through the real discord.py against the loopback fake."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.config.file import Config
from bot.core.model import Snapshot
from bot.engine.ingest import ingest
from bot.platforms.discord import runtime
from bot.store.protocols import Store
from tests.fakes.discord_fake import (
    APP_ID,
    BOT_PERMISSIONS,
    CHANNEL_ID,
    VIEW_AND_SEND,
    FakeDiscord,
    command_interaction,
)
from tests.platforms.discord.test_runtime import (
    ADMIN,
    BASELINE,
    CHANNEL,
    EPHEMERAL,
    FLIP,
    delivery,
    interact,
    poll,
)


async def test_help_and_examples_use_slash_syntax(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime
) -> None:
    answer = await interact(
        fake, command_interaction(fake, "help", [{"name": "command", "type": 3, "value": "mute"}])
    )
    text = answer.json["data"]["embeds"][0]["description"]
    assert "`/mute duration:`" in text
    assert "Example: `/mute duration:2h`" in text
    assert "Example: `mute 2h`" not in text

    listing = await interact(fake, command_interaction(fake, "help"))
    every = listing.json["data"]["embeds"][0]["description"]
    assert "`/subscribe [kind:] [top:]" in every and "(`/help command:<command>` for" in every

    bad = await interact(
        fake,
        command_interaction(
            fake, "mute", [{"name": "duration", "type": 3, "value": "soon"}], permissions=ADMIN
        ),
    )
    assert "Example: `/mute duration:2h`" in bad.json["data"]["embeds"][0]["description"]


async def test_subscribe_names_the_permissions_the_bot_lacks_and_subscribes_nothing(
    fake: FakeDiscord, store: Store, discord_rt: runtime.DiscordRuntime
) -> None:
    payload = command_interaction(
        fake, "subscribe", permissions=ADMIN, app_permissions=VIEW_AND_SEND
    )
    answer = await interact(fake, payload)

    data = answer.json["data"]
    assert data["flags"] & EPHEMERAL
    text = data["embeds"][0]["description"]
    assert "Embed Links" in text and "Attach Files" in text
    assert "Send Messages" not in text  # it has that one
    assert await store.subscriptions.get(CHANNEL) is None
    # granted everything: the same command subscribes
    await interact(
        fake,
        command_interaction(fake, "subscribe", permissions=ADMIN, app_permissions=BOT_PERMISSIONS),
    )
    assert await store.subscriptions.get(CHANNEL) is not None


NOW = datetime(2026, 2, 17, 9, tzinfo=UTC)


async def test_top_public_is_posted_for_everyone_and_a_paused_channel_says_so(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)
    public = [{"name": "n", "type": 4, "value": 3}, {"name": "public", "type": 5, "value": True}]
    answer = await interact(fake, command_interaction(fake, "top", public))
    assert not answer.json["data"].get("flags", 0) & EPHEMERAL

    await interact(fake, command_interaction(fake, "subscribe", permissions=ADMIN))
    await store.subscriptions.pause(CHANNEL, "Discord 50013 Missing Permissions", NOW)
    paused = await interact(fake, command_interaction(fake, "top"))
    text = paused.json["data"]["embeds"][0]["description"]
    assert text.startswith("⏸ Deliveries to this channel are paused")
    assert "`/resume`" in text


async def test_a_chinese_user_gets_top_in_chinese_while_the_channel_stays_english(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)
    await interact(fake, command_interaction(fake, "subscribe", permissions=ADMIN))

    chinese = await interact(fake, command_interaction(fake, "top", locale="zh-CN"))
    english = await interact(fake, command_interaction(fake, "top", locale="en-GB"))

    zh = chinese.json["data"]["embeds"][0]
    assert zh["title"].startswith("Token 用量前 6 名 · 周榜 · 2026年2月16日")
    assert "Token" in zh["fields"][0]["value"] and "tokens" not in zh["fields"][0]["value"]
    assert english.json["data"]["embeds"][0]["title"].startswith("Top 6 by tokens · weekly")
    sub = await store.subscriptions.get(CHANNEL)
    assert sub is not None and sub.lang == "en"


async def test_a_chinese_channel_gets_its_new_leader_and_country_flip_in_chinese(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await ingest(store, BASELINE, params=config.detect, countries=config.countries)
    options = [
        {"name": "kind", "type": 3, "value": "all"},
        {"name": "lang", "type": 3, "value": "zh-CN"},
    ]
    answer = await interact(
        fake, command_interaction(fake, "subscribe", options, permissions=ADMIN)
    )
    assert "订阅成功" in answer.json["data"]["embeds"][0]["description"]
    leader = week_with_new_leader()
    outbox = await poll(store, config, [FLIP, leader])
    await delivery(store, outbox, discord_rt).run_until_idle()

    posts = [c.json for c in fake.channel_messages(CHANNEL_ID)]
    shown = "\n".join(str(p) for p in posts)
    assert "已订阅" in shown  # the confirmation
    assert "国家领先易位" in shown and "中国" in shown  # the country flip
    assert "新晋第一" in shown and "DeepSeek V3" in shown  # the new #1, its name as spelled
    assert "Country flip" not in shown and "New #1" not in shown


def week_with_new_leader() -> Snapshot:
    from tests.platforms.discord.test_runtime import week

    return week(
        "2026-02-23",
        [
            ("deepseek/deepseek-v3", "DeepSeek V3", 1500),
            ("openai/gpt-5", "GPT-5", 1000),
            ("minimax/minimax-m2", "MiniMax M2", 700),
            ("qwen/qwen3", "Qwen3", 600),
            ("anthropic/claude-4", "Claude 4", 300),
            ("google/gemini-3", "Gemini 3", 200),
        ],
    )


async def test_commands_are_registered_with_chinese_names_and_descriptions(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime
) -> None:
    (put,) = fake.requests("PUT", rf"/applications/{APP_ID}/commands")
    commands = {c["name"]: c for c in put.json}
    top = commands["top"]
    assert top["name_localizations"]["zh-CN"] == "排行"
    assert top["description_localizations"]["zh-CN"].startswith("按 Token 用量排名")
    options = {o["name"]: o for o in top["options"]}
    assert options["n"]["name_localizations"]["zh-CN"] == "数量"
    assert (
        options["public"]["description_localizations"]["zh-CN"]
        == "在频道中公开发布答复（默认仅你可见）"
    )
    period = {c["value"]: c for c in options["period"]["choices"]}
    assert period["week"]["name_localizations"]["zh-CN"] == "周榜"
    name = re.compile(r"^[-_\w]{1,32}$")
    for command in put.json:
        for localized in command.get("name_localizations", {}).values():
            assert name.match(localized), localized
        for option in command.get("options", []):
            for localized in option.get("name_localizations", {}).values():
                assert name.match(localized) and localized == localized.lower(), localized
            for localized in option.get("description_localizations", {}).values():
                assert len(localized) <= 100


async def test_help_for_a_chinese_client_uses_the_names_it_shows(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime
) -> None:
    answer = await interact(
        fake,
        command_interaction(
            fake, "help", [{"name": "command", "type": 3, "value": "mute"}], locale="zh-CN"
        ),
    )
    text = answer.json["data"]["embeds"][0]["description"]
    assert "`/静音 时长:`" in text and "示例：`/静音 时长:2h`" in text


async def test_names_from_the_data_are_escaped_in_command_replies(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    from tests.platforms.discord.test_runtime import week

    odd = "x-ai/grok_**4**"
    for day in ("2026-02-09", "2026-02-16"):
        await ingest(
            store,
            week(day, [(odd, "Grok_**4**_fast", 900), ("openai/gpt-5", "GPT-5", 800)]),
            params=config.detect,
            countries=config.countries,
        )
    query = [{"name": "query", "type": 3, "value": "grok"}]
    payload = command_interaction(fake, "model", query)
    await interact(fake, payload)  # deferred; the answer is edited in
    original = rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    await fake.wait_for(lambda: bool(fake.requests("PATCH", original)))
    (edit,) = fake.requests("PATCH", original)
    text = edit.json["embeds"][0]["description"]
    assert r"Grok\_\*\*4\*\*\_fast" in text  # shown as typed, not bold or italic
