"""A `--role worker` process delivers to Slack and Discord bot channels, not only webhooks.

Workers hold no chat connection (commands are the web role's), so their Slack sender calls
the Web API with the bot token and their Discord sender is logged in over REST only: these
tests run the real slack_sdk and discord.py code against the loopback fakes, with the outbox
on a real PostgreSQL (skipped, saying why, when none can be started)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import discord
import discord.gateway
import discord.http
import httpx
import pytest

from bot import app
from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.store.postgres import PgStore
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.postgres import PostgresServer
from tests.fakes.slack_fake import SlackFake
from tests.store.postgres.database import empty_database

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
ENV = {"SLACK_BOT_TOKEN": "xoxb-worker-test", "DISCORD_BOT_TOKEN": "fake-bot-token"}


@pytest.fixture
def discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # the REST login points these process-wide class attributes at the fake; restore them
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)


async def test_a_worker_delivers_to_slack_and_discord_bot_channels_without_a_connection(
    postgres_server: PostgresServer, tmp_path: Path, discord_endpoints: None
) -> None:
    slack = await SlackFake().start()
    fake_discord = FakeDiscord()
    await fake_discord.start()
    url = empty_database(postgres_server, "worker_senders")
    store = await PgStore.open(url)
    config = app.config_from_mapping(
        {
            "slack": {"api_url": slack.api_url},
            "discord": {
                "api_base": fake_discord.api_base,
                "gateway_url": fake_discord.gateway_url,
            },
        },
        base=tmp_path,
    )
    slack_channel = ChannelRef("slack", "T1", "C1")
    discord_channel = ChannelRef("discord", "G1", "111")
    try:
        posts = [
            Planned(ch, Message(notice=f"hello {ch.platform}"), f"k-{ch.platform}")
            for ch in (slack_channel, discord_channel)
        ]
        await store.outbox.enqueue(posts, now=NOW)
        async with httpx.AsyncClient() as client, contextlib.AsyncExitStack() as stack:
            senders = await app.worker_senders(config, store, client, stack, environ=ENV)
            assert {"slack", "discord"} <= set(senders)
            delivery = app.worker_delivery(config, store, senders)
            await asyncio.wait_for(delivery.run_until_idle(), 60)
        assert delivery.stats.sent == 2
        [posted] = slack.called("chat.postMessage")
        assert posted.params["channel"] == "C1" and "hello slack" in posted.params["text"]
        [message] = fake_discord.channel_messages("111")
        assert "hello discord" in str(message.json)
        assert fake_discord.requests("GET", r".*/gateway.*") == []  # no gateway: REST only
        assert await store.outbox.count() == 0
    finally:
        await store.close()
        await slack.close()
        await fake_discord.close()


def test_a_worker_without_the_slack_token_says_which_variable(tmp_path: Path) -> None:
    from bot.platforms.slack.runtime import SlackStartError, worker_sender

    config = app.config_from_mapping({"slack": {}}, base=tmp_path)
    with pytest.raises(SlackStartError, match="SLACK_BOT_TOKEN"):
        worker_sender(config, store=None, environ={})  # type: ignore[arg-type]
