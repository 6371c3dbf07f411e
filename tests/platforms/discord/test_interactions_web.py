"""`rankbot run --role web` and `--role all` with `[discord] interactions = "http"`: the
HTTP endpoints wired by the composition root (`bot.app.start_web`, `start_chat_adapters`)
against the loopback fakes of Discord and Slack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot import app
from bot.config.file import Config
from bot.delivery.sender import Sender
from bot.engine.ingest import ingest
from bot.errors import ExitCode, UsageError
from bot.ops.health import Health
from bot.sources.replay import ReplaySource
from bot.store.protocols import Store
from tests.fakes.discord_fake import CHANNEL_ID, FakeDiscord, command_interaction
from tests.fakes.slack_env import SECRETS
from tests.fakes.slack_fake import SlackFake, slash_payload
from tests.platforms.discord.conftest import TOKEN
from tests.platforms.discord.test_runtime import ADMIN, BASELINE, FLIP
from tests.platforms.slack.test_http import FORM, _post, _signed

PING = {"id": "1", "application_id": "1", "type": 1, "token": "t", "version": 1}


@pytest.fixture
async def slack_fake() -> AsyncIterator[SlackFake]:
    fake = await SlackFake().start()
    yield fake
    await fake.close()


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "DISCORD_BOT_TOKEN": TOKEN,
        "SLACK_BOT_TOKEN": SECRETS.bot_token or "",
        "SLACK_SIGNING_SECRET": SECRETS.signing_secret or "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def web_config(
    tmp_path: Path, fake: FakeDiscord, slack: SlackFake | None, **discord: Any
) -> Config:
    data: dict[str, Any] = {
        "discord": {
            "api_base": fake.api_base,
            "gateway_url": fake.gateway_url,
            "public_key": fake.public_key,
            "host": "127.0.0.1",
            "port": 0,
            **discord,
        }
    }
    if slack is not None:
        data["slack"] = {"api_url": slack.api_url, "mode": "http", "host": "127.0.0.1", "port": 0}
    return app.config_from_mapping(data, base=tmp_path)


async def stored(store: Store, config: Config) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)


def endpoint(port: int | None) -> str:
    return f"http://127.0.0.1:{port}/discord/interactions"


async def test_two_web_processes_answer_slack_and_discord_from_one_database(
    tmp_path: Path,
    fake: FakeDiscord,
    slack_fake: SlackFake,
    store: Store,
    environ: dict[str, str],
    settings: object,  # restores discord.py's process-wide endpoints afterwards
) -> None:
    config = web_config(tmp_path, fake, slack_fake)
    await stored(store, config)
    async with contextlib.AsyncExitStack() as stack:
        # two web "processes" on one store: on TinyDB only inside one test process
        healths = [Health(), Health()]
        webs = [await app.start_web(config, store, stack, environ, h) for h in healths]
        assert webs[0].started == ["Slack (HTTP)", "Discord (interactions endpoint)"]
        for health in healths:  # /readyz: both endpoints listen
            readiness = await health.publish()
            assert readiness.ready and set(health.conditions) == {"slack", "discord"}
        for web in webs:
            top = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 2}])
            status, answer = await fake.post_interaction(endpoint(web.discord_port), top)
            assert status == 200
            fields = answer["data"]["embeds"][0]["fields"]
            assert [f["name"].split(" ", 2)[-1] for f in fields] == ["GPT-5", "DeepSeek V3"]

            body = urlencode(slash_payload("/top", "5", response_url=slack_fake.response_url()))
            status, text = await _post(web.slack_port or 0, body, _signed(body), FORM)
            assert status == 200
            assert "1. 🇺🇸 GPT-5" in json.loads(text)["text"]
        # a bad signature gets 401 from either
        stranger = {"X-Signature-Ed25519": "00" * 64, "X-Signature-Timestamp": "1"}
        for web in webs:
            status, _ = await fake.post_interaction(
                endpoint(web.discord_port), PING, headers=stranger
            )
            assert status == 401
    assert not fake.identify  # no gateway connection at all
    assert not fake.requests("GET", "/gateway/bot")


async def test_the_web_role_wants_http_endpoints_only(
    tmp_path: Path,
    fake: FakeDiscord,
    slack_fake: SlackFake,
    store: Store,
    environ: dict[str, str],
    settings: object,
) -> None:
    socket = app.config_from_mapping(
        {"slack": {"api_url": slack_fake.api_url, "mode": "socket"}}, base=tmp_path
    )
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(
            UsageError, match=r'--role web serves Slack over HTTP: set \[slack\] mode = "http"'
        ):
            await app.start_web(socket, store, stack, environ)
        with pytest.raises(UsageError, match="--role web has nothing to serve"):
            await app.start_web(app.config_from_mapping({}, base=tmp_path), store, stack, {})
        no_key = app.config_from_mapping(
            {"discord": {"api_base": fake.api_base, "port": 0}}, base=tmp_path
        )
        with pytest.raises(UsageError, match=r"\[discord\] public_key is needed"):
            await app.start_web(no_key, store, stack, {"DISCORD_BOT_TOKEN": TOKEN})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_role_all_with_http_interactions_serves_the_endpoint_and_still_delivers(
    tmp_path: Path,
    fake: FakeDiscord,
    store: Store,
    environ: dict[str, str],
    settings: object,
) -> None:
    port = free_port()
    config = web_config(tmp_path, fake, None, interactions="http", port=port)
    senders: dict[str, Sender] = {}
    bot = await app.build_bot(config, store, ReplaySource([]), senders)
    async with contextlib.AsyncExitStack() as stack:
        only_discord = {"DISCORD_BOT_TOKEN": TOKEN}
        assert await app.start_chat_adapters(config, bot, senders, stack, only_discord) == [
            "Discord"
        ]
        admin = command_interaction(fake, "subscribe", permissions=ADMIN)
        status, answer = await fake.post_interaction(endpoint(port), admin)
        assert status == 200 and "Subscribed" in answer["data"]["embeds"][0]["description"]
        # the command released the confirmation; this process's delivery sends it over REST
        await bot.delivery.run_until_idle()
        (confirmation,) = fake.channel_messages(CHANNEL_ID)
        assert confirmation.json["embeds"][0]["title"] == "Subscribed"
    assert not fake.identify  # interactions come over HTTP: no gateway connection


def test_the_web_role_refuses_a_tinydb_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text('[store]\npath = "bot.db.json"\n')
    cli = "import sys; from bot.cli.main import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", cli, "run", "--role", "web", "--config", str(config)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == ExitCode.USAGE
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--role web needs a database several processes share (PostgreSQL)" in done.stderr


SERVE_WEB = """
import sys
from bot import app
from bot.cli.main import main
app.require_shared_database = lambda store, role: None  # TinyDB: one web process, no poller
sys.exit(main(sys.argv[1:]))
"""


async def test_rankbot_run_role_web_serves_until_sigterm_and_stops_cleanly(
    tmp_path: Path, fake: FakeDiscord, config: Config, store: Store
) -> None:
    """The CLI path of `rankbot run --role web` in a process of its own: it answers signed
    interactions over HTTP with no gateway connection and stops on SIGTERM with exit 0.
    (On TinyDB the role refuses to start; the child skips only that check, the PostgreSQL
    scenario runs it as it is.)"""
    await stored(store, config)
    await store.close()
    port = free_port()
    conf = tmp_path / "rankbot.toml"
    conf.write_text(
        f'[store]\npath = "{store.path}"\n\n[discord]\napi_base = "{fake.api_base}"\n'
        f'public_key = "{fake.public_key}"\nhost = "127.0.0.1"\nport = {port}\n'
    )
    env = {**os.environ, "DISCORD_BOT_TOKEN": TOKEN}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_WEB, "run", "--role", "web", "--config", str(conf),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(200):  # until it listens
            with contextlib.suppress(aiohttp.ClientError):
                status, pong = await fake.post_interaction(endpoint(port), PING)
                break
            await asyncio.sleep(0.05)
        assert (status, pong) == (200, {"type": 1})
        top = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 1}])
        status, answer = await fake.post_interaction(endpoint(port), top)
        assert status == 200
        assert answer["data"]["embeds"][0]["fields"][0]["name"].endswith("GPT-5")
        child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(child.wait(), 30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    err = (await child.stderr.read()).decode() if child.stderr else ""
    assert code == 0, err
    assert "rankbot web running: Discord (interactions endpoint)" in err
    assert "rankbot web stopped" in err
    assert "Traceback" not in err and TOKEN not in err
    assert not fake.identify
