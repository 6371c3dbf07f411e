"""Gateway sharding: the bot runs discord.py's `AutoShardedClient`, with as many shards as
Discord recommends (GET /gateway/bot) or as `[discord] shards` says, against the fake."""

from __future__ import annotations

from dataclasses import replace

import discord

from bot.commands.execute import Services
from bot.config.file import Config
from bot.platforms.discord import runtime
from bot.platforms.discord.settings import DiscordSettings
from bot.store.protocols import Store
from tests.fakes.discord_fake import FakeDiscord, command_interaction
from tests.platforms.discord.conftest import TOKEN
from tests.platforms.discord.test_runtime import interact


async def test_auto_connects_with_the_shard_count_discord_recommends(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    fake.shards = 2  # what Discord answers a bot in 2,500 to 4,999 servers
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=settings,
        client_options={"guild_ready_timeout": 0.01},
    )
    try:
        await rt.wait_ready(20)  # discord.py identifies the second shard 5 s after the first
        assert isinstance(rt.client, discord.AutoShardedClient)
        assert len(fake.requests("GET", "/gateway/bot")) == 1
        assert sorted(tuple(i["shard"]) for i in fake.identify) == [(0, 2), (1, 2)]
        assert rt.client.shard_count == 2
        # commands are answered whichever shard's socket the interaction came on
        answer = await interact(fake, command_interaction(fake, "help"))
        assert answer.json["type"] == 4
    finally:
        await rt.close()


async def test_a_configured_shard_count_is_used_as_it_is(
    fake: FakeDiscord, store: Store, config: Config, settings: DiscordSettings
) -> None:
    rt = await runtime.start(
        Services(store, config),
        token=TOKEN,
        settings=replace(settings, shards=1),
        client_options={"guild_ready_timeout": 0.01},
    )
    try:
        fake.shards = 4  # not asked
        await rt.wait_ready(10)
        assert [i["shard"] for i in fake.identify] == [[0, 1]]
        assert not fake.requests("GET", "/gateway/bot")
    finally:
        await rt.close()


async def test_one_recommended_shard_is_one_connection(
    fake: FakeDiscord, discord_rt: runtime.DiscordRuntime
) -> None:
    assert [i["shard"] for i in fake.identify] == [[0, 1]]
