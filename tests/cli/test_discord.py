"""`rankbot discord-sync` and `rankbot discord-invite` against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import discord.gateway
import discord.http
import pytest

from bot.cli.main import main
from bot.store import keys
from tests.fakes.discord_fake import APP_ID, GUILD_ID, FakeDiscord
from tests.helpers import read_store


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    """The fake on a loop of its own thread: the CLI runs `asyncio.run` in the test's thread."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeDiscord()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    yield server
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def config_file(tmp_path: Path, fake: FakeDiscord) -> Path:
    path = tmp_path / "rankbot.toml"
    path.write_text(
        f'[store]\npath = "db.json"\n\n[discord]\napi_base = "{fake.api_base}"\n'
        f'gateway_url = "{fake.gateway_url}"\n'
    )
    return path


def test_discord_sync_registers_the_commands_in_a_server_and_records_the_hash(
    fake: FakeDiscord,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "cli-token")
    assert main(["discord-sync", "--guild", GUILD_ID, "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"synced 15 commands in server {GUILD_ID}: /top, /model")
    assert "cli-token" not in out
    (put,) = fake.requests("PUT", rf"/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    assert put.headers["Authorization"] == "Bot cli-token"
    assert "global" not in fake.commands
    key = keys.discord_commands(int(GUILD_ID))
    assert read_store(config_file.parent / "db.json", lambda store: store.state.get(key))


def test_discord_invite_reads_the_application_id_with_the_token(
    fake: FakeDiscord,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "cli-token")
    assert main(["discord-invite", "--config", str(config_file)]) == 0
    assert capsys.readouterr().out == (
        f"https://discord.com/oauth2/authorize?client_id={APP_ID}"
        "&scope=bot+applications.commands&permissions=52224\n"
    )


def test_without_a_token_the_commands_say_what_to_set(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    assert main(["discord-sync", "--config", str(config_file)]) == 2
    assert "set DISCORD_BOT_TOKEN" in capsys.readouterr().err
    assert main(["discord-invite", "--config", str(config_file)]) == 2
    assert "application_id" in capsys.readouterr().err
