"""The Slack senders against the loopback fake: outcomes, fallbacks and chart uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.events import Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.delivery.sender import SendStatus
from bot.platforms.slack.blocks import slack_renderer
from bot.platforms.slack.sender import SlackSender
from bot.platforms.slack.webhook import SlackWebhookSender
from tests.fakes.slack_fake import TEAM_ID, SlackFake

CHANNEL = ChannelRef("slack", TEAM_ID, "C0ALERTS")
HOOK = ChannelRef("slack-webhook", "config", "alerts")
ENV = "RANKBOT_WEBHOOK_ALERTS"
EVENT = Event(
    kind="new_leader",
    source="openrouter",
    period="week",
    as_of=date(2026, 2, 16),
    subject="minimax/minimax-m2.5",
    fields={
        "model": "minimax/minimax-m2.5",
        "name": "MiniMax M2.5",
        "author": "minimax",
        "country": "CN",
        "rank": 1,
        "tokens": 1_700_000_000_000,
        "lower_bound": False,
        "share": 0.15,
        "previous_model": "google/gemini-3-flash",
        "previous_name": "Gemini 3 Flash",
        "previous_tokens": 990_000_000_000,
        "previous_tokens_now": 997_000_000_000,
    },
)
NOTICE = Message(notice="rankbot is watching this channel")


@pytest.fixture
async def fake() -> AsyncIterator[SlackFake]:
    fake = await SlackFake().start()
    yield fake
    await fake.close()


def _sender(fake: SlackFake) -> SlackSender:
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)

    async def client_for(team_id: str) -> AsyncWebClient:
        return client

    return SlackSender(client_for, slack_renderer())


async def test_a_post_has_blocks_text_and_no_unfurls(fake: SlackFake) -> None:
    result = await _sender(fake).send(CHANNEL, NOTICE, idempotency_key="k")
    (post,) = fake.called("chat.postMessage")
    assert result.status is SendStatus.SENT and result.platform_id
    assert post.params["channel"] == "C0ALERTS"
    assert post.params["text"] == "rankbot is watching this channel"
    assert post.params["blocks"][0]["type"] == "section"
    assert post.params["unfurl_links"] is False and post.params["unfurl_media"] is False


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
async def test_errors_that_mean_cannot_post_are_permanent(fake: SlackFake, error: str) -> None:
    fake.fail("chat.postMessage", error=error)
    result = await _sender(fake).send(CHANNEL, NOTICE, idempotency_key="k")
    assert (result.status, result.reason, result.failure) == (SendStatus.PERMANENT, error, "access")
    assert len(fake.called("chat.postMessage")) == 1


@pytest.mark.parametrize("error", ["msg_too_long", "no_text", "invalid_arguments"])
async def test_a_refused_message_is_a_content_failure(fake: SlackFake, error: str) -> None:
    fake.fail("chat.postMessage", error=error)
    result = await _sender(fake).send(CHANNEL, NOTICE, idempotency_key="k")
    assert (result.status, result.failure) == (SendStatus.PERMANENT, "content")


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive", "token_revoked"])
async def test_a_dead_token_holds_the_workspace_and_auth_test_says_when_it_works(
    fake: SlackFake, error: str
) -> None:
    sender = _sender(fake)
    fake.fail("chat.postMessage", error=error)
    result = await sender.send(CHANNEL, NOTICE, idempotency_key="k")
    assert (result.status, result.reason) == (SendStatus.HELD, error)
    fake.fail("auth.test", error=error)
    assert await sender.check_token(TEAM_ID) is False
    assert await sender.check_token(TEAM_ID) is True
    assert len(fake.called("auth.test")) == 2


async def test_429_carries_retry_after_and_server_errors_retry(fake: SlackFake) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=2)
    fake.fail("chat.postMessage", status=503, error="service_unavailable")
    fake.fail("chat.postMessage", error="internal_error")
    sender = _sender(fake)
    limited = await sender.send(CHANNEL, NOTICE, idempotency_key="k")
    down = await sender.send(CHANNEL, NOTICE, idempotency_key="k")
    odd = await sender.send(CHANNEL, NOTICE, idempotency_key="k")
    assert (limited.status, limited.retry_after) == (SendStatus.RETRY, 2.0)
    assert down.status is SendStatus.RETRY and down.retry_after is None
    assert odd.status is SendStatus.RETRY and "internal_error" in (odd.reason or "")


async def test_refused_blocks_fall_back_to_the_text(fake: SlackFake) -> None:
    fake.fail("chat.postMessage", error="invalid_blocks")
    result = await _sender(fake).send(CHANNEL, NOTICE, idempotency_key="k")
    first, second = fake.called("chat.postMessage")
    assert result.status is SendStatus.SENT
    assert "blocks" in first.params and "blocks" not in second.params
    assert second.params["text"] == first.params["text"]


async def test_charts_are_uploaded_into_the_alerts_thread(fake: SlackFake) -> None:
    chart = Attachment("top.png", b"\x89PNG fake", title="Top 10")
    result = await _sender(fake).send(
        CHANNEL, Message(notice="weekly", attachments=(chart,)), idempotency_key="k"
    )
    (url,) = fake.called("files.getUploadURLExternal")
    (done,) = fake.called("files.completeUploadExternal")
    assert result.status is SendStatus.SENT
    assert url.params["filename"] == "top.png" and int(url.params["length"]) == len(chart.content)
    assert fake.uploads and chart.content in fake.uploads[0]
    assert done.params["channel_id"] == "C0ALERTS"
    assert done.params["thread_ts"] == result.platform_id


async def test_a_failed_upload_still_delivers_the_text(fake: SlackFake) -> None:
    fake.fail("files.completeUploadExternal", error="not_allowed_token_type")
    chart = Attachment("top.png", b"png")
    result = await _sender(fake).send(
        CHANNEL, Message(notice="weekly", attachments=(chart,)), idempotency_key="k"
    )
    assert result.status is SendStatus.SENT
    assert len(fake.called("chat.postMessage")) == 1


def webhook_sender(environ: dict[str, str]) -> SlackWebhookSender:
    return SlackWebhookSender(httpx.AsyncClient(), slack_renderer(), environ=environ)


async def test_webhook_sender_posts_the_same_blocks(fake: SlackFake) -> None:
    sender = webhook_sender({ENV: fake.webhook_url()})
    result = await sender.send(HOOK, NOTICE, idempotency_key="k")
    (hook,) = fake.called("webhook")
    assert result.status is SendStatus.SENT
    assert hook.params["text"] == "rankbot is watching this channel"
    assert hook.params["blocks"][0]["type"] == "section"


async def test_webhook_outcomes(fake: SlackFake) -> None:
    sender = webhook_sender({ENV: fake.webhook_url()})
    fake.fail("webhook", status=429, retry_after=3)
    fake.fail("webhook", status=404, error="no_service")
    fake.fail("webhook", status=400, error="invalid_blocks")
    limited = await sender.send(HOOK, NOTICE, idempotency_key="k")
    gone = await sender.send(HOOK, NOTICE, idempotency_key="k")
    fallback = await sender.send(HOOK, NOTICE, idempotency_key="k")
    assert (limited.status, limited.retry_after) == (SendStatus.RETRY, 3.0)
    assert gone.status is SendStatus.PERMANENT and "no_service" in (gone.reason or "")
    assert fallback.status is SendStatus.SENT
    assert "blocks" not in fake.called("webhook")[-1].params


async def test_webhook_without_url_names_the_variable() -> None:
    sender = webhook_sender({})
    result = await sender.send(HOOK, NOTICE, idempotency_key="k")
    assert result.status is SendStatus.PERMANENT
    assert result.reason == "no webhook URL: set RANKBOT_WEBHOOK_ALERTS"


async def test_a_broken_override_template_posts_the_text_alone(
    fake: SlackFake, tmp_path: Path
) -> None:
    (tmp_path / "slack").mkdir()
    (tmp_path / "slack" / "grouped.j2").write_text("[{not json")
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)

    async def client_for(team_id: str) -> AsyncWebClient:
        return client

    sender = SlackSender(client_for, slack_renderer(tmp_path))
    result = await sender.send(CHANNEL, Message(events=(EVENT,)), idempotency_key="k")
    (post,) = fake.called("chat.postMessage")
    assert result.status is SendStatus.SENT
    assert "blocks" not in post.params and "New #1" in post.params["text"]
