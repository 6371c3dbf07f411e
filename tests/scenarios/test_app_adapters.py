"""`rankbot run`'s wiring: Slack and Discord started in one loop beside the poller, and one
replayed snapshot reaching a subscribed channel on each platform exactly once."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import discord
import httpx
import pytest

from bot import app, logs
from bot.app import build_bot, default_senders, start_chat_adapters
from bot.commands.execute import Services, execute
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.engine.ingest import ingest
from bot.render.templates import Renderer
from bot.sources.replay import ReplaySource
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_env import WEEK_1, WEEK_2, week
from tests.fakes.slack_fake import SlackFake

NOW = datetime(2026, 2, 16, 12, tzinfo=UTC)


@pytest.fixture
def discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # the runtime points these process-wide class attributes at the fake; restore them after
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)


SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1234567890-0987654321-AbCdEfSeCrEt",
    "SLACK_APP_TOKEN": "xapp-1-A0SECRET-1234567890-abcdef0123",
    "DISCORD_BOT_TOKEN": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA.GaBcDe.SeCrEtDiScOrDtOkEnAbCdEfGhIjKl",
}


@pytest.fixture(params=["text", "json"])
def debug_log(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Every record at DEBUG, through rankbot's own log setup, into a buffer."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


async def test_run_starts_both_adapters_and_each_channel_gets_one_post(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    discord_endpoints: None,
    debug_log: io.StringIO,
    request: pytest.FixtureRequest,
) -> None:
    slack_fake = await SlackFake().start()
    discord_fake = FakeDiscord()
    await discord_fake.start()
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    # no token in any line at any level, from rankbot or the libraries (slack_sdk, discord.py,
    # aiohttp): the secrets above have the platforms' shapes, so the redactor's patterns and
    # its environment rule both stand between them and the log
    logs.configure("debug", request.node.callspec.params["debug_log"], stream=debug_log)
    config = app.config_from_mapping(
        {
            "slack": {"api_url": slack_fake.api_url},
            "discord": {"api_base": discord_fake.api_base, "gateway_url": discord_fake.gateway_url},
        },
        base=tmp_path,
    )
    admin = Caller("U1", "admin", can_manage=True)
    slack_channel = ChannelRef("slack", "T1", "C1")
    discord_channel = ChannelRef("discord", "G1", "111")
    try:
        async with app.open_database(tmp_path / "db.json") as store:
            await ingest(
                store, week("2026-02-09", WEEK_1), params=config.detect, countries=config.countries
            )
            for channel in (slack_channel, discord_channel):
                reply = await execute(
                    "subscribe new_leader",
                    CommandContext(channel, admin, NOW),
                    Services(store, config),
                )
                assert reply.ok, reply.text
            async with httpx.AsyncClient() as client:
                senders = default_senders(config, client, Renderer())
                source = ReplaySource([week("2026-02-16", WEEK_2)])
                bot = await build_bot(config, store, source, senders)
                async with contextlib.AsyncExitStack() as stack:
                    started = await start_chat_adapters(config, bot, senders, stack)
                    assert started == ["Slack", "Discord"]
                    await app.one_cycle(bot)
                    # a second tick finds nothing new: nothing more is sent
                    await app.one_cycle(bot)
            slack_posts = [
                c for c in slack_fake.called("chat.postMessage") if c.params["channel"] == "C1"
            ]
            discord_posts = discord_fake.channel_messages("111")
            # one confirmation ("watching from now on") and one alert per channel
            assert len(slack_posts) == 2 and len(discord_posts) == 2
            assert "MiniMax" in str(slack_posts[-1].params["blocks"]) or "minimax" in str(
                slack_posts[-1].params["blocks"]
            )
            assert "minimax" in str(discord_posts[-1].json).lower()
    finally:
        await slack_fake.close()
        await discord_fake.close()
    written = debug_log.getvalue()
    assert written.count("\n") > 20, "debug logging wrote next to nothing"
    assert "slack_sdk" in written and "discord." in written  # the libraries did speak
    for value in SECRETS.values():
        for part in value.split("-")[-1:] + value.split(".")[-1:]:
            assert part not in written
    assert "xoxb-1" not in written and "xapp-1-" not in written
