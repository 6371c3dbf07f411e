"""Fixtures of the Discord adapter tests: the loopback fake, a store, and the adapter
started with `bot.platforms.discord.runtime.start` exactly as the bot does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.gateway
import discord.http
import pytest

from bot.commands.execute import Services
from bot.config.file import Config
from bot.platforms.discord import runtime
from bot.platforms.discord.settings import DiscordSettings
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore
from tests.fakes.discord_fake import FakeDiscord

TOKEN = "fake-bot-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TinyStore]:
    async with TinyStore.open(tmp_path / "db.json") as s:
        yield s


@pytest.fixture
def settings(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> DiscordSettings:
    # the runtime sets these process-wide class attributes; monkeypatch restores them after
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    return DiscordSettings(api_base=fake.api_base, gateway_url=fake.gateway_url)


@pytest.fixture
def config(store: TinyStore) -> Config:
    return Config(db_path=store.path)


@pytest.fixture
async def discord_rt(
    store: Store, config: Config, settings: DiscordSettings
) -> AsyncIterator[runtime.DiscordRuntime]:
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=settings,
        client_options={"guild_ready_timeout": 0.01},
    )
    await rt.wait_ready(5)
    yield rt
    await rt.close()
