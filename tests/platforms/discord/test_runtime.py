"""The Discord adapter end to end: the real discord.py against the loopback fake Discord.

Every test starts the fake (REST + gateway) on 127.0.0.1, points discord.py at it through the
`[discord]` settings, starts the adapter with `bot.platforms.discord.runtime.start` exactly as the
bot does, and asserts on what reached the fake.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.commands.execute import Services
from bot.config.file import Config
from bot.core.events import DetectParams
from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.model import Snapshot
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery
from bot.engine.alert_charts import AlertCharts
from bot.engine.ingest import ingest
from bot.engine.planner import Planner
from bot.engine.poller import Poller
from bot.errors import ExitCode
from bot.platforms.discord import runtime
from bot.platforms.discord.embeds import DESCRIPTION_MAX, FIELDS_MAX, TITLE_MAX, TOTAL_MAX
from bot.platforms.discord.sender import nonce_for
from bot.platforms.discord.settings import DiscordSettings
from bot.sources.replay import ReplaySource
from bot.store.protocols import Outbox, Store
from tests.fakes.discord_fake import (
    APP_ID,
    CHANNEL_ID,
    GUILD_ID,
    MANAGE_CHANNELS,
    VIEW_AND_SEND,
    Call,
    FakeDiscord,
    command_interaction,
)

TOKEN = "fake-bot-token"
CHANNEL = ChannelRef("discord", GUILD_ID, CHANNEL_ID)
ADMIN = VIEW_AND_SEND | MANAGE_CHANNELS
EPHEMERAL = 64
CALLBACK = r"/interactions/\d+/[^/]+/callback"


def week(as_of: str, entries: list[tuple[str, str, int]]) -> Snapshot:
    return Snapshot.create(
        source="openrouter",
        period="week",
        as_of=as_of,
        entries=[{"model": m, "name": n, "tokens": t} for m, n, t in entries],
        attribution=f"Source: OpenRouter (openrouter.ai/rankings), as of {as_of}.",
    )


BASELINE = week(
    "2026-02-09",
    [
        ("openai/gpt-5", "GPT-5", 900),
        ("anthropic/claude-4", "Claude 4", 800),
        ("deepseek/deepseek-v3", "DeepSeek V3", 600),
        ("minimax/minimax-m2", "MiniMax M2", 500),
        ("google/gemini-3", "Gemini 3", 400),
        ("qwen/qwen3", "Qwen3", 300),
    ],
)
FLIP = week(  # China now leads the country balance; openai stays #1
    "2026-02-16",
    [
        ("openai/gpt-5", "GPT-5", 1000),
        ("deepseek/deepseek-v3", "DeepSeek V3", 900),
        ("minimax/minimax-m2", "MiniMax M2", 700),
        ("qwen/qwen3", "Qwen3", 600),
        ("anthropic/claude-4", "Claude 4", 300),
        ("google/gemini-3", "Gemini 3", 200),
    ],
)


async def interact(fake: FakeDiscord, payload: dict[str, Any]) -> Call:
    """Push an interaction and return the bot's answer to it (its callback)."""
    token = payload["token"]
    await fake.push_interaction(payload)
    path = rf"/interactions/{payload['id']}/{token}/callback"
    await fake.wait_for(lambda: bool(fake.requests("POST", path)))
    return fake.requests("POST", path)[0]


def embed_size(embed: dict[str, Any]) -> int:
    fields = embed.get("fields", [])
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )


def assert_within_limits(embeds: list[dict[str, Any]]) -> None:
    assert 1 <= len(embeds) <= 10
    assert sum(embed_size(e) for e in embeds) <= TOTAL_MAX
    for e in embeds:
        assert len(e.get("title", "")) <= TITLE_MAX
        assert len(e.get("description", "")) <= DESCRIPTION_MAX
        assert len(e.get("fields", [])) <= FIELDS_MAX


def delivery(store: Store, outbox: Outbox, rt: runtime.DiscordRuntime) -> Delivery:
    subs = store.subscriptions
    return Delivery(
        outbox,
        {"discord": rt.sender},
        DeliverySettings(send_timeout=10.0),
        on_permanent=subs.pause,
        is_paused=subs.is_paused,
    )


async def poll(store: Store, config: Config, snapshots: list[Snapshot]) -> Outbox:
    """One tick of the real poller (store → detect → plan → outbox) over `snapshots`, and
    the charts its posts wait for (drawn in the chart worker process)."""

    async def params(period: str) -> DetectParams:
        return config.detect

    charts = AlertCharts(store, config.countries)
    poller = Poller(
        store,
        ReplaySource(snapshots),
        Planner(store),
        charts,
        params=params,
        countries=config.countries,
    )
    await poller.tick()
    await charts.settle()
    return store.outbox


async def subscribed(
    fake: FakeDiscord, store: Store, config: Config, rt: runtime.DiscordRuntime, kind: str
) -> None:
    """Baseline stored, `/subscribe kind:<kind>` by an admin, confirmation delivered."""
    await ingest(store, BASELINE, params=config.detect, countries=config.countries)
    answer = await interact(
        fake,
        command_interaction(
            fake, "subscribe", [{"name": "kind", "type": 3, "value": kind}], permissions=ADMIN
        ),
    )
    assert answer.json["data"]["flags"] & EPHEMERAL
    outbox = await poll(store, config, [])
    await delivery(store, outbox, rt).run_until_idle()
    confirmation = fake.channel_messages(CHANNEL_ID)
    assert len(confirmation) == 1
    assert confirmation[0].json["embeds"][0]["title"] == "Subscribed"


# --- login, READY, command registration ----------------------------------------------------


async def test_login_ready_and_synced_command_payload(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=settings,
        client_options={"guild_ready_timeout": 0.01},
    )
    try:
        await rt.wait_ready(5)
        assert fake.requests("GET", "/users/@me")[0].headers["Authorization"] == f"Bot {TOKEN}"
        assert fake.identify[0]["token"] == TOKEN
        assert fake.identify[0]["intents"] == 0  # Intents.none(): nothing privileged
        assert rt.client.application_id == int(APP_ID)
        assert rt.synced
    finally:
        await rt.close()

    (put,) = fake.requests("PUT", rf"/applications/{APP_ID}/commands")
    commands = {c["name"]: c for c in put.json}
    assert set(commands) == {
        "top", "model", "countries", "chart", "subscribe", "unsubscribe", "subscriptions", "mute",
        "unmute", "digest", "quiet", "status", "resume", "test", "help",
    }  # fmt: skip
    top = {o["name"]: o for o in commands["top"]["options"]}
    assert (top["n"]["type"], top["n"]["min_value"], top["n"]["max_value"]) == (4, 1, 25)
    assert [c["value"] for c in top["period"]["choices"]] == ["day", "week", "month"]
    assert commands["top"]["default_member_permissions"] is None
    assert commands["model"]["options"][0]["autocomplete"] is True
    subscribe = {o["name"]: o for o in commands["subscribe"]["options"]}
    assert "country_flip" in [c["value"] for c in subscribe["kind"]["choices"]]
    assert {"top", "models", "exclude_authors", "countries", "min_move", "period"} <= set(subscribe)
    for name in ("subscribe", "unsubscribe", "mute", "unmute", "digest", "quiet", "resume", "test"):
        assert int(commands[name]["default_member_permissions"]) == MANAGE_CHANNELS, name
        assert commands[name]["contexts"] == [0], name  # servers only, never DMs
        assert commands[name]["dm_permission"] is False, name


async def test_commands_are_synced_again_only_when_their_schema_changed(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    services = Services(store, config)
    first = await runtime.start(services, token=TOKEN, settings=settings)
    await first.close()
    second = await runtime.start(services, token=TOKEN, settings=settings)
    await second.close()
    assert (first.synced, second.synced) == (True, False)
    assert len(fake.requests("PUT", rf"/applications/{APP_ID}/commands")) == 1

    dev = DiscordSettings(fake.api_base, fake.gateway_url, dev_guild_id=int(GUILD_ID))
    third = await runtime.start(services, token=TOKEN, settings=dev)  # another scope
    await third.close()
    assert third.synced
    assert len(fake.commands[GUILD_ID]) == 15


# --- interactions --------------------------------------------------------------------------


async def test_top_5_is_answered_through_the_callback_with_an_embed(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)
    options = [{"name": "n", "type": 4, "value": 5}]
    answer = await interact(fake, command_interaction(fake, "top", options))

    assert answer.json["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE, within the 3 s
    data = answer.json["data"]
    assert data["allowed_mentions"] == {"parse": []}
    (embed,) = data["embeds"]
    assert embed["title"].startswith("Top 5 by tokens")
    names = [f["name"] for f in embed["fields"]]
    assert [n.split(" ", 2)[-1] for n in names] == [
        "GPT-5", "DeepSeek V3", "MiniMax M2", "Qwen3", "Claude 4",
    ]  # fmt: skip
    assert names[0].startswith("1. 🇺🇸")
    assert "1K tokens" in embed["fields"][0]["value"]
    assert embed["footer"]["text"] == FLIP.attribution
    assert_within_limits(data["embeds"])


async def test_subscribe_without_manage_channels_is_refused_even_if_discord_let_it_through(
    fake: FakeDiscord, store: Store, discord_rt: runtime.DiscordRuntime
) -> None:
    # A server admin may override default_member_permissions: the interaction then arrives
    # from a member who lacks Manage Channels, and the bot itself must refuse.
    payload = command_interaction(fake, "subscribe", permissions=VIEW_AND_SEND)
    answer = await interact(fake, payload)

    data = answer.json["data"]
    assert data["flags"] & EPHEMERAL
    assert "Manage Channels" in data["embeds"][0]["description"]
    assert await store.subscriptions.get(CHANNEL) is None


async def test_subscribe_from_an_admin_creates_the_subscription(
    fake: FakeDiscord, store: Store, discord_rt: runtime.DiscordRuntime
) -> None:
    options = [
        {"name": "kind", "type": 3, "value": "country_flip"},
        {"name": "top", "type": 4, "value": 5},
        {"name": "exclude_authors", "type": 3, "value": "openai, x-ai"},
    ]
    answer = await interact(
        fake, command_interaction(fake, "subscribe", options, permissions=ADMIN)
    )

    assert answer.json["data"]["flags"] & EPHEMERAL
    assert "Subscribed" in answer.json["data"]["embeds"][0]["description"]
    sub = await store.subscriptions.get(CHANNEL)
    assert sub is not None
    assert sub.kinds == ("country_flip",)
    assert sub.filters.top_n == 5
    assert sub.filters.exclude_authors == ("openai", "x-ai")


async def test_countries_is_deferred_then_edited_in(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)
    payload = command_interaction(fake, "countries")
    answer = await interact(fake, payload)
    assert answer.json["type"] == 5  # deferred, "thinking"
    edit = rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    await fake.wait_for(lambda: bool(fake.requests("PATCH", edit)))
    (patch,) = fake.requests("PATCH", edit)
    assert "China" in patch.json["embeds"][0]["description"]
    assert patch.json["allowed_mentions"] == {"parse": []}


async def test_chart_is_drawn_after_a_public_defer_and_attached(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)
    options = [{"name": "kind", "type": 3, "value": "countries"}]
    payload = command_interaction(fake, "chart", options)
    answer = await interact(fake, payload)
    assert answer.json["type"] == 5
    assert not answer.json.get("data", {}).get("flags", 0) & EPHEMERAL  # the channel sees it
    edit = rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    await fake.wait_for(lambda: bool(fake.requests("PATCH", edit)))
    (patch,) = fake.requests("PATCH", edit)
    [png] = patch.files.values()
    assert png.startswith(b"\x89PNG")
    assert patch.json["allowed_mentions"] == {"parse": []}


async def test_model_query_autocompletes_from_stored_models(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await ingest(store, BASELINE, params=config.detect, countries=config.countries)
    options = [{"name": "query", "type": 3, "value": "deep", "focused": True}]
    payload = command_interaction(fake, "model", options, interaction_type=4)
    answer = await interact(fake, payload)
    assert answer.json["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    assert answer.json["data"]["choices"] == [
        {"name": "DeepSeek V3 (deepseek/deepseek-v3)", "value": "deepseek/deepseek-v3"}
    ]


# --- alerts --------------------------------------------------------------------------------


async def test_a_country_flip_reaches_the_subscribed_channel_once(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "country_flip")
    before = len(fake.channel_messages(CHANNEL_ID))

    outbox = await poll(store, config, [FLIP, FLIP])  # the same snapshot twice: stored once
    await delivery(store, outbox, discord_rt).run_until_idle()
    outbox = await poll(store, config, [FLIP])  # and replayed again on the next poll
    await delivery(store, outbox, discord_rt).run_until_idle()

    messages = fake.channel_messages(CHANNEL_ID)[before:]
    assert len(messages) == 1
    body = messages[0].json
    (item,) = [i for i in await store.outbox.items() if i.key.startswith("post:")]
    assert body["nonce"] == nonce_for(item.key) and len(body["nonce"]) <= 25
    assert body["enforce_nonce"] is True
    assert body["allowed_mentions"] == {"parse": []}
    assert_within_limits(body["embeds"])
    assert "Country flip" in body["embeds"][0]["title"]
    assert "China" in body["embeds"][0]["description"]
    # the countries chart rides along as a multipart file the embed shows
    [png] = messages[0].files.values()
    assert png.startswith(b"\x89PNG")
    filename = body["attachments"][0]["filename"]
    assert body["embeds"][0]["image"]["url"] == f"attachment://{filename}"


async def test_a_new_leader_alert_carries_the_trend_chart_as_a_multipart_attachment(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "new_leader")
    before = len(fake.channel_messages(CHANNEL_ID))
    leader = week(  # DeepSeek V3 jumps from #3 to #1
        "2026-02-16",
        [(m, n, 1200 if m == "deepseek/deepseek-v3" else t) for m, n, t in _entries(BASELINE)],
    )
    outbox = await poll(store, config, [leader])
    await delivery(store, outbox, discord_rt).run_until_idle()
    [message] = fake.channel_messages(CHANNEL_ID)[before:]
    assert "DeepSeek V3** 🇨🇳 leads" in message.json["embeds"][0]["description"]
    [png] = message.files.values()
    assert png.startswith(b"\x89PNG")
    assert message.json["attachments"][0]["filename"].startswith("rankbot-trend-")
    # the description (alt text) says what the picture shows, not just its title
    description = message.json["attachments"][0]["description"]
    assert description.startswith("Line chart: Weekly tokens of the top 5 models")
    assert "DeepSeek V3 leads with 1.2K tokens" in description


async def test_429_is_waited_out_for_retry_after(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "country_flip")
    before = len(fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages"))
    retry_after = 0.4
    fake.fail_next(
        "POST",
        rf"/channels/{CHANNEL_ID}/messages",
        429,
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
    )
    outbox = await poll(store, config, [FLIP])
    await delivery(store, outbox, discord_rt).run_until_idle()

    attempts = fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages")[before:]
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= retry_after  # not before retry_after
    assert attempts[0].json["nonce"] == attempts[1].json["nonce"]
    assert await outbox.count() == 0


async def test_a_long_429_goes_back_to_the_outbox_with_its_retry_after(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "country_flip")
    fake.fail_next(
        "POST",
        rf"/channels/{CHANNEL_ID}/messages",
        429,
        {"message": "You are being rate limited.", "retry_after": 45.0, "global": False},
    )
    outbox = await poll(store, config, [FLIP])
    (item,) = [i for c in await outbox.channels() if (i := await outbox.head(c)) is not None]
    result = await asyncio.wait_for(
        discord_rt.sender.send(item.channel, item.message, idempotency_key=item.key), 5
    )
    assert (result.status.value, result.retry_after) == ("retry", 45.0)


async def test_403_missing_permissions_pauses_the_subscription_and_status_says_so(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "country_flip")
    before = len(fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages"))
    fake.fail_next(
        "POST",
        rf"/channels/{CHANNEL_ID}/messages",
        403,
        {"message": "Missing Permissions", "code": 50013},
        times=5,
    )
    outbox = await poll(store, config, [FLIP])
    run = delivery(store, outbox, discord_rt)
    await run.run_until_idle()

    attempts = fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages")[before:]
    assert [a.status for a in attempts] == [403]  # never retried
    sub = await store.subscriptions.get(CHANNEL)
    assert sub is not None and sub.paused
    assert "50013" in (sub.pause_reason or "")
    assert run.stats.failed == 1

    answer = await interact(fake, command_interaction(fake, "status"))
    text = answer.json["data"]["embeds"][0]["description"]
    assert "paused" in text and "50013" in text


async def test_a_401_holds_every_discord_channel_until_the_token_works_again(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "country_flip")
    before = len(fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages"))
    fake.fail_next(
        "POST",
        rf"/channels/{CHANNEL_ID}/messages",
        401,
        {"message": "401: Unauthorized", "code": 0},
    )
    outbox = await poll(store, config, [FLIP])
    run = delivery(store, outbox, discord_rt)
    await run.run_until_idle()

    attempts = fake.requests("POST", rf"/channels/{CHANNEL_ID}/messages")[before:]
    assert [a.status for a in attempts] == [401]
    assert run.tokens.held("discord") == "HTTP 401, code 0"
    sub = await store.subscriptions.get(CHANNEL)
    assert sub is not None and not sub.paused  # not this channel's fault: nothing to resume
    assert await outbox.count(CHANNEL) == 1 and run.stats.failed == 0

    fake.fail_next("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    assert await discord_rt.sender.check_token("") is False
    assert await discord_rt.sender.check_token("") is True


async def test_a_model_named_everyone_is_shown_literally_and_pings_nobody(
    fake: FakeDiscord, store: Store, config: Config, discord_rt: runtime.DiscordRuntime
) -> None:
    await subscribed(fake, store, config, discord_rt, "new_leader")
    before = len(fake.channel_messages(CHANNEL_ID))
    prank = week("2026-02-16", [("prank/everyone", "@everyone", 2000), *_entries(BASELINE)])
    outbox = await poll(store, config, [prank])
    await delivery(store, outbox, discord_rt).run_until_idle()

    (message,) = fake.channel_messages(CHANNEL_ID)[before:]
    assert message.json["allowed_mentions"] == {"parse": []}
    assert not message.json.get("content")
    assert "**@everyone**" in message.json["embeds"][0]["description"]

    answer = await interact(fake, command_interaction(fake, "top", []))
    assert answer.json["data"]["allowed_mentions"] == {"parse": []}
    assert answer.json["data"]["embeds"][0]["fields"][0]["name"].endswith(" @everyone")


def _entries(snapshot: Snapshot) -> list[tuple[str, str, int]]:
    return [(e.model, e.name, e.tokens) for e in snapshot.entries]


async def test_discord_webhook_channels_get_the_same_embeds(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{fake.port}/api/webhooks/700000000000000001/wh-token"
    monkeypatch.setenv("RANKBOT_WEBHOOK_OPS", url)
    monkeypatch.delenv("RANKBOT_WEBHOOK_GONE", raising=False)
    channel = ChannelRef("discord-webhook", "config", "ops")
    result = await discord_rt.webhook_sender.send(
        channel, Message(notice="hello @everyone"), idempotency_key="k1"
    )
    assert result.status.value == "sent"
    (call,) = fake.requests("POST", r"/webhooks/700000000000000001/wh-token")
    assert call.query["wait"] in ("true", "1")
    assert call.json["allowed_mentions"] == {"parse": []}
    assert "@everyone" in call.json["embeds"][0]["description"]

    missing = await discord_rt.webhook_sender.send(
        ChannelRef("discord-webhook", "config", "gone"), Message(notice="x"), idempotency_key="k2"
    )
    assert missing.status.value == "permanent"
    assert "RANKBOT_WEBHOOK_GONE" in (missing.reason or "")


async def test_a_chart_goes_as_a_file_that_the_embed_shows(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime
) -> None:
    chart = Attachment("trend.png", b"\x89PNG\r\n\x1a\nfake", title="Top 5 trend")
    message = Message(notice="weekly chart", attachments=(chart,))
    result = await discord_rt.sender.send(CHANNEL, message, idempotency_key="chart-1")
    assert result.status.value == "sent" and result.platform_id

    (call,) = fake.channel_messages(CHANNEL_ID)
    assert call.headers["Content-Type"].startswith("multipart/form-data")
    assert call.files == {"files[0]": chart.content}
    assert call.json["embeds"][0]["image"] == {"url": "attachment://trend.png"}
    assert call.json["attachments"][0]["filename"] == "trend.png"
    assert call.json["nonce"] == nonce_for("chart-1")
    assert call.json["allowed_mentions"] == {"parse": []}


async def test_a_refused_token_stops_the_start_with_a_clear_error(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    fake.fail_next("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    with pytest.raises(runtime.DiscordUnavailable, match="refused the bot token") as caught:
        await runtime.start(Services(store, config), token="wrong-token", settings=settings)
    assert "wrong-token" not in str(caught.value)
    assert not fake.requests("PUT", rf"/applications/{APP_ID}/commands")


# --- gateway closes --------------------------------------------------------------------------


@pytest.mark.parametrize("code", [4004, 4010, 4011, 4012, 4013, 4014])
async def test_a_gateway_closed_for_good_stops_the_bot_with_one_line(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings, code: int
) -> None:
    fatal: list[BaseException] = []
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=settings,
        client_options={"guild_ready_timeout": 0.01},
        on_fatal=fatal.append,
    )
    try:
        await rt.wait_ready(5)
        await fake.close_gateway(code)
        await asyncio.wait_for(asyncio.wait({rt.gateway}), 5)
        (error,) = fatal
        assert isinstance(error, runtime.DiscordUnavailable)
        assert error.code == ExitCode.CREDENTIALS
        assert str(error).startswith(f"Discord closed the gateway for good ({code}): ")
        assert "\n" not in str(error) and TOKEN not in str(error)
    finally:
        await rt.close()


async def test_a_resumable_close_keeps_the_gateway_running(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    fatal: list[BaseException] = []
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=settings,
        client_options={"guild_ready_timeout": 0.01},
        on_fatal=fatal.append,
    )
    try:
        await rt.wait_ready(5)
        await fake.close_gateway(4000)
        for _ in range(100):  # discord.py reconnects (and resumes) by itself
            if fake.connections >= 2:
                break
            await asyncio.sleep(0.05)
        assert fake.connections >= 2
        assert not rt.gateway.done() and fatal == []
    finally:
        await rt.close()
