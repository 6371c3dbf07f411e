"""Discord's Interactions Endpoint URL: interactions POSTed over HTTP, signed with Ed25519.

The fake Discord plays both sides: it signs each interaction with the application's key pair
(`nacl.signing.SigningKey.generate()`) and POSTs it to the endpoint as Discord does, and it
serves the REST API the endpoint edits deferred answers in through. The endpoint runs the
real discord.py command tree (`interactions.serve`, as `rankbot run --role web` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.engine.ingest import ingest
from bot.platforms.discord import commands, runtime
from bot.platforms.discord.interactions import InteractionsServer
from bot.platforms.discord.settings import DiscordSettings
from bot.store.protocols import Store
from tests.fakes.discord_fake import (
    APP_ID,
    VIEW_AND_SEND,
    Call,
    FakeDiscord,
    command_interaction,
)
from tests.platforms.discord.conftest import TOKEN
from tests.platforms.discord.test_runtime import ADMIN, BASELINE, CHANNEL, EPHEMERAL, FLIP

PING = {"id": "1", "application_id": APP_ID, "type": 1, "token": "t", "version": 1}


@pytest.fixture
def http_settings(settings: DiscordSettings, fake: FakeDiscord) -> DiscordSettings:
    return replace(
        settings, interactions="http", public_key=fake.public_key, host="127.0.0.1", port=0
    )


@contextlib.asynccontextmanager
async def serving(
    store: Store, config: Config, settings: DiscordSettings
) -> AsyncIterator[InteractionsServer]:
    """The Discord side of a web process: logged in over REST, no gateway, the endpoint."""
    rt = await runtime.start(Services(store, config), token=TOKEN, settings=settings)
    try:
        assert rt.gateway is None and rt.interactions is not None
        yield rt.interactions
    finally:
        await rt.close()


@pytest.fixture
async def web(
    store: Store, config: Config, http_settings: DiscordSettings
) -> AsyncIterator[InteractionsServer]:
    async with serving(store, config, http_settings) as server:
        yield server


def url(server: InteractionsServer, settings: DiscordSettings) -> str:
    return f"http://127.0.0.1:{server.port}{settings.path}"


async def stored(store: Store, config: Config) -> None:
    for snapshot in (BASELINE, FLIP):
        await ingest(store, snapshot, params=config.detect, countries=config.countries)


async def original_edit(fake: FakeDiscord, payload: dict[str, Any]) -> Call:
    """The one PATCH of the interaction's original answer (a deferred answer's content)."""
    edit = rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    await fake.wait_for(lambda: bool(fake.requests("PATCH", edit)), timeout=30)
    (patch,) = fake.requests("PATCH", edit)
    return patch


def top_names(embed: dict[str, Any]) -> list[str]:
    return [f["name"].split(" ", 2)[-1] for f in embed["fields"]]


# --- the signature ---------------------------------------------------------------------------


async def test_ping_is_answered_with_pong(
    fake: FakeDiscord, web: InteractionsServer, http_settings: DiscordSettings
) -> None:
    status, answer = await fake.post_interaction(url(web, http_settings), PING)
    assert (status, answer) == (200, {"type": 1})


async def test_a_bad_or_missing_signature_gets_401_and_runs_nothing(
    fake: FakeDiscord,
    store: Store,
    web: InteractionsServer,
    http_settings: DiscordSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = url(web, http_settings)
    subscribe = command_interaction(fake, "subscribe", permissions=ADMIN)
    stranger = SigningKey.generate()
    calls = len(fake.calls)  # the login and the command sync at start

    assert (await fake.post_interaction(endpoint, PING, key=stranger))[0] == 401
    assert (await fake.post_interaction(endpoint, subscribe, key=stranger))[0] == 401
    assert (await fake.post_interaction(endpoint, subscribe, headers={}))[0] == 401
    not_hex = {"X-Signature-Ed25519": "zz", "X-Signature-Timestamp": str(int(time.time()))}
    assert (await fake.post_interaction(endpoint, subscribe, headers=not_hex))[0] == 401
    # signed as a member without Manage Channels, then changed on the way to claim it
    member = command_interaction(fake, "subscribe", permissions=VIEW_AND_SEND)
    forged = {**member, "member": {**member["member"], "permissions": str(ADMIN)}}
    status, _ = await fake.post_interaction(endpoint, member, body=json.dumps(forged).encode())
    assert status == 401
    assert await store.subscriptions.get(CHANNEL) is None  # none of them ran
    assert len(fake.calls) == calls  # nor answered anything through Discord
    # one warning for the lot (at most one a minute), not one per request
    (warning,) = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert warning.startswith("refused 1 interaction request(s)")
    assert "check [discord] public_key" in warning


async def test_a_stale_timestamp_is_refused_even_when_the_signature_is_right(
    fake: FakeDiscord, web: InteractionsServer, http_settings: DiscordSettings
) -> None:
    endpoint = url(web, http_settings)
    old = str(int(time.time()) - 301)  # signature_max_age_seconds defaults to 300
    assert (await fake.post_interaction(endpoint, PING, timestamp=old))[0] == 401
    recent = str(int(time.time()) - 200)
    assert (await fake.post_interaction(endpoint, PING, timestamp=recent))[0] == 200
    future = str(int(time.time()) + 301)
    assert (await fake.post_interaction(endpoint, PING, timestamp=future))[0] == 401


# --- commands --------------------------------------------------------------------------------


async def test_top_5_over_http_is_answered_in_the_http_response(
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    await stored(store, config)
    top = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 5}])
    status, answer = await fake.post_interaction(url(web, http_settings), top)

    assert status == 200
    assert answer["type"] == 4  # CHANNEL_MESSAGE_WITH_SOURCE, in the HTTP answer itself
    data = answer["data"]
    assert data["flags"] & EPHEMERAL  # only the caller sees it, as over the gateway
    assert data["allowed_mentions"] == {"parse": []}
    (embed,) = data["embeds"]
    assert embed["title"].startswith("Top 5 by tokens")
    assert top_names(embed) == ["GPT-5", "DeepSeek V3", "MiniMax M2", "Qwen3", "Claude 4"]
    assert embed["footer"]["text"] == FLIP.attribution
    assert not fake.requests("POST", r"/interactions/.*")  # nothing went to the callback


async def test_a_deferred_command_answers_thinking_then_edits_the_original_through_the_webhook(
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    await stored(store, config)
    payload = command_interaction(fake, "countries")
    status, answer = await fake.post_interaction(url(web, http_settings), payload)

    assert status == 200
    assert answer == {"type": 5, "data": {"flags": EPHEMERAL}}
    patch = await original_edit(fake, payload)
    assert "China" in patch.json["embeds"][0]["description"]
    assert patch.json["allowed_mentions"] == {"parse": []}
    assert "Authorization" not in patch.headers  # the interaction token is the credential


async def test_a_chart_is_deferred_publicly_and_its_png_goes_with_the_edit(
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    await stored(store, config)
    options = [{"name": "kind", "type": 3, "value": "countries"}]
    payload = command_interaction(fake, "chart", options)
    status, answer = await fake.post_interaction(url(web, http_settings), payload)

    assert status == 200 and answer["type"] == 5
    assert not answer.get("data", {}).get("flags", 0) & EPHEMERAL  # the channel sees it
    patch = await original_edit(fake, payload)
    [png] = patch.files.values()
    assert png.startswith(b"\x89PNG")


async def test_a_command_slower_than_discords_3_s_is_deferred_and_edited_in(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    await stored(store, config)

    async def slow_execute(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.5)
        return await execute(*args, **kwargs)

    monkeypatch.setattr(commands, "execute", slow_execute)
    web.endpoint.answer_within = 0.1  # Discord's 3 s, scaled down
    payload = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 3}])
    status, answer = await fake.post_interaction(url(web, http_settings), payload)

    assert (status, answer) == (200, {"type": 5, "data": {"flags": EPHEMERAL}})
    patch = await original_edit(fake, payload)
    assert top_names(patch.json["embeds"][0]) == ["GPT-5", "DeepSeek V3", "MiniMax M2"]
    assert "flags" not in patch.json  # fixed when it was acknowledged
    assert not fake.requests("POST", r"/interactions/.*")


async def test_autocomplete_is_answered_from_stored_models(
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    await ingest(store, BASELINE, params=config.detect, countries=config.countries)
    options = [{"name": "query", "type": 3, "value": "deep", "focused": True}]
    payload = command_interaction(fake, "model", options, interaction_type=4)
    status, answer = await fake.post_interaction(url(web, http_settings), payload)

    assert status == 200
    assert answer == {
        "type": 8,
        "data": {
            "choices": [
                {"name": "DeepSeek V3 (deepseek/deepseek-v3)", "value": "deepseek/deepseek-v3"}
            ]
        },
    }


async def test_permissions_come_from_the_payload_member_and_app_permissions(
    fake: FakeDiscord, store: Store, web: InteractionsServer, http_settings: DiscordSettings
) -> None:
    endpoint = url(web, http_settings)
    # a member without Manage Channels (a server admin overrode the command's default)
    member = command_interaction(fake, "subscribe", permissions=VIEW_AND_SEND)
    _, refused = await fake.post_interaction(endpoint, member)
    assert refused["data"]["flags"] & EPHEMERAL
    assert "Manage Channels" in refused["data"]["embeds"][0]["description"]
    # an admin, in a channel where the bot may not embed links nor attach files
    lacking = command_interaction(
        fake, "subscribe", permissions=ADMIN, app_permissions=VIEW_AND_SEND
    )
    _, named = await fake.post_interaction(endpoint, lacking)
    assert "Embed Links" in named["data"]["embeds"][0]["description"]
    assert await store.subscriptions.get(CHANNEL) is None
    # an admin where the bot has what it needs: subscribed, in the store the workers read
    admin = command_interaction(fake, "subscribe", permissions=ADMIN)
    _, done = await fake.post_interaction(endpoint, admin)
    assert "Subscribed" in done["data"]["embeds"][0]["description"]
    assert await store.subscriptions.get(CHANNEL) is not None


async def test_an_unknown_command_gets_a_polite_error_not_a_timeout(
    fake: FakeDiscord, web: InteractionsServer, http_settings: DiscordSettings
) -> None:
    status, answer = await fake.post_interaction(
        url(web, http_settings), command_interaction(fake, "no-such-command")
    )
    assert status == 200
    assert answer["type"] == 4 and answer["data"]["flags"] & EPHEMERAL
    assert "went wrong" in answer["data"]["embeds"][0]["description"]


async def test_two_web_endpoints_answer_from_the_same_database(
    fake: FakeDiscord,
    store: Store,
    config: Config,
    http_settings: DiscordSettings,
) -> None:
    async with (
        serving(store, config, http_settings) as first,
        serving(store, config, http_settings) as second,
    ):
        assert first.port != second.port
        admin = command_interaction(fake, "subscribe", permissions=ADMIN)
        _, done = await fake.post_interaction(url(first, http_settings), admin)
        assert "Subscribed" in done["data"]["embeds"][0]["description"]
        # what one process wrote, the other reads
        status = command_interaction(fake, "subscriptions", permissions=ADMIN)
        _, listed = await fake.post_interaction(url(second, http_settings), status)
        described = listed["data"]["embeds"][0]["description"]
        assert "alerts: new_leader, country_flip" in described
        await stored(store, config)
        for server in (first, second):
            top = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 2}])
            _, answer = await fake.post_interaction(url(server, http_settings), top)
            assert top_names(answer["data"]["embeds"][0]) == ["GPT-5", "DeepSeek V3"]


async def test_a_first_answer_with_files_is_acknowledged_then_uploaded_with_the_edit(
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeDiscord,
    store: Store,
    config: Config,
    web: InteractionsServer,
    http_settings: DiscordSettings,
) -> None:
    # Discord's HTTP answer is JSON only: were a chart answered at once (not deferred, as the
    # gateway may), its PNG has to follow as the edit of an acknowledged answer
    await stored(store, config)
    monkeypatch.setattr(commands, "DEFERRED", frozenset())
    web.endpoint.answer_within = 30  # never auto-deferred: the files alone decide
    options = [{"name": "kind", "type": 3, "value": "countries"}]
    payload = command_interaction(fake, "chart", options)
    status, answer = await fake.post_interaction(url(web, http_settings), payload)

    assert status == 200 and answer["type"] == 5
    patch = await original_edit(fake, payload)
    [png] = patch.files.values()
    assert png.startswith(b"\x89PNG")
    assert patch.json["attachments"][0]["filename"].endswith(".png")
    assert "flags" not in patch.json
