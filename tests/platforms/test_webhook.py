"""The generic JSON webhook sender against a mocked endpoint (respx): no network."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, Event, baseline, detect
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendStatus
from bot.delivery.webhook_urls import env_name
from bot.platforms.webhook import WebhookSender
from bot.render.templates import Renderer
from tests.helpers import snap

URL = "https://hooks.example.test/services/T0/B0/s3cr3t"
OPS = ChannelRef("webhook", "config", "ops-alerts")
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


def detected(new_models: int = 0) -> tuple[Event, ...]:
    """Real events from the detector: a new #1, plus `new_models` newcomers."""
    before = snap("2026-02-09", {"google/gemini-3-flash": 997, "minimax/minimax-m2.5": 900})
    figures = {"google/gemini-3-flash": 997, "minimax/minimax-m2.5": 1700}
    figures |= {f"lab/model-{i}": 10 + i for i in range(new_models)}
    after = snap("2026-02-16", figures, attribution="Source: OpenRouter, as of 2026-02-16.")
    params, countries = DetectParams(), shipped_table()
    events, _ = detect(
        baseline(before, params, countries),
        before,
        after,
        params=params,
        countries=countries,
        known_models={e.model for e in before.entries},
    )
    return tuple(events)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as c:
        yield c


def sender(client: httpx.AsyncClient, **kwargs: object) -> WebhookSender:
    return WebhookSender(
        client,
        Renderer(),
        environ={"RANKBOT_WEBHOOK_OPS_ALERTS": URL},
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )


@respx.mock
async def test_200_is_sent_with_the_rendered_text(client: httpx.AsyncClient) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, text="ok"))
    result = await sender(client).send(OPS, Message(events=detected()), idempotency_key="k")
    assert result.status is SendStatus.SENT
    body = json.loads(route.calls.last.request.content)
    assert list(body) == ["text"]
    assert "minimax/minimax-m2.5" in body["text"]
    assert body["text"].endswith("Source: OpenRouter, as of 2026-02-16.")


@respx.mock
@pytest.mark.parametrize(
    ("header", "seconds"), [("12", 12.0), ("Mon, 16 Feb 2026 09:00:30 GMT", 30.0), (None, None)]
)
async def test_429_is_a_retry_after_the_servers_delay(
    client: httpx.AsyncClient, header: str | None, seconds: float | None
) -> None:
    headers = {"Retry-After": header} if header else {}
    respx.post(URL).mock(return_value=httpx.Response(429, headers=headers))
    result = await sender(client).send(OPS, Message(notice="hi"), idempotency_key="k")
    assert (result.status, result.retry_after) == (SendStatus.RETRY, seconds)


@respx.mock
async def test_500_and_timeouts_are_retried(client: httpx.AsyncClient) -> None:
    respx.post(URL).mock(
        side_effect=[httpx.Response(500), httpx.ReadTimeout("slow"), httpx.ConnectError(URL)]
    )
    results = [
        await sender(client).send(OPS, Message(notice="hi"), idempotency_key="k") for _ in "abc"
    ]
    assert [r.status for r in results] == [SendStatus.RETRY] * 3
    assert [r.retry_after for r in results] == [None] * 3
    assert all("s3cr3t" not in (r.reason or "") for r in results)  # the URL is a secret


@respx.mock
@pytest.mark.parametrize("status", [404, 410, 401, 403])
async def test_a_deleted_or_forbidden_webhook_is_permanent(
    client: httpx.AsyncClient, status: int
) -> None:
    respx.post(URL).mock(return_value=httpx.Response(status))
    result = await sender(client).send(OPS, Message(notice="hi"), idempotency_key="k")
    assert result.status is SendStatus.PERMANENT and result.failure == "access"
    assert result.reason == f"webhook deleted or forbidden (HTTP {status})"


@respx.mock
@pytest.mark.parametrize("status", [400, 413, 422])
async def test_a_refused_body_is_a_content_failure(client: httpx.AsyncClient, status: int) -> None:
    respx.post(URL).mock(return_value=httpx.Response(status))
    result = await sender(client).send(OPS, Message(notice="hi"), idempotency_key="k")
    assert (result.status, result.failure) == (SendStatus.PERMANENT, "content")


class Huge:
    """A 1 GB body made on demand, counting the megabytes anyone asked for."""

    def __init__(self) -> None:
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(1024):
            self.pulled += 1
            yield b"x" * 2**20


@respx.mock
@pytest.mark.parametrize("status", [200, 400, 500])
async def test_a_huge_answer_is_not_read(client: httpx.AsyncClient, status: int) -> None:
    huge = Huge()
    respx.post(URL).mock(return_value=httpx.Response(status, content=huge))
    result = await sender(client).send(OPS, Message(notice="hi"), idempotency_key="k")
    assert result.status is not None
    assert huge.pulled <= 1  # at most the first megabyte of 1,024, of which 16 KiB are kept


async def test_a_missing_url_names_the_variable_to_set(client: httpx.AsyncClient) -> None:
    lost = ChannelRef("webhook", "config", "lost")
    result = await sender(client).send(lost, Message(notice="hi"), idempotency_key="k")
    assert (result.status, result.reason) == (
        SendStatus.PERMANENT,
        "no webhook URL: set RANKBOT_WEBHOOK_LOST",
    )
    assert (
        env_name(ChannelRef("webhook", "config", "ops.alerts-2")) == "RANKBOT_WEBHOOK_OPS_ALERTS_2"
    )


@respx.mock
async def test_a_long_group_is_cut_to_the_limit_with_a_more_line(
    client: httpx.AsyncClient,
) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(204))
    events = detected(new_models=30)
    await sender(client, max_chars=600).send(OPS, Message(events=events), idempotency_key="k")
    text = json.loads(route.calls.last.request.content)["text"]
    assert len(text) <= 600
    assert "more." in text
