"""Slack incoming webhooks get Slack's blocks and escaping in every bot, with a `[slack]`
section or without: data can never ping a channel or disguise a link."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot import app
from bot.core.countries import shipped_table
from bot.core.events import DetectParams, baseline, detect
from bot.core.messages import ChannelRef, Message
from bot.core.model import Snapshot
from bot.delivery.sender import SendStatus
from bot.render.templates import Renderer
from tests.fakes.slack_fake import SlackFake

HOSTILE = "<!channel> @everyone <@U123> <http://evil|click>"
HOOK = ChannelRef("slack-webhook", "config", "alerts")
LIVE = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<http://evil|click>")


@pytest.fixture
async def fake() -> AsyncIterator[SlackFake]:
    fake = await SlackFake().start()
    yield fake
    await fake.close()


def hostile_leader() -> Message:
    """A real new-#1 event for a model whose name is a mention and a disguised link."""

    def week(as_of: str, tokens: int) -> Snapshot:
        entries = [
            {"model": "openai/gpt-5", "tokens": 1000},
            {"model": "evil/model", "name": HOSTILE, "tokens": tokens},
        ]
        return Snapshot.create(source="openrouter", period="week", as_of=as_of, entries=entries)

    before, after = week("2026-02-09", 10), week("2026-02-16", 5000)
    params, countries = DetectParams(), shipped_table()
    events, _ = detect(
        baseline(before, params, countries),
        before,
        after,
        params=params,
        countries=countries,
        known_models={"openai/gpt-5", "evil/model"},
    )
    assert any(e.kind == "new_leader" for e in events)
    return Message(events=tuple(events))


async def test_a_bot_without_slack_escapes_slack_webhook_posts(
    fake: SlackFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANKBOT_WEBHOOK_ALERTS", fake.webhook_url())
    config = app.config_from_mapping({}, base=tmp_path)  # no [slack] section at all
    async with httpx.AsyncClient() as client:
        senders = app.default_senders(config, client, Renderer())
        result = await senders["slack-webhook"].send(HOOK, hostile_leader(), idempotency_key="k")
    assert result.status is SendStatus.SENT
    (hook,) = fake.called("webhook")
    payload = json.dumps(hook.params)
    assert hook.params["blocks"], "the same Block Kit blocks as the bot's posts"
    assert "&lt;!channel&gt;" in payload
    for live in LIVE:
        assert live not in payload
