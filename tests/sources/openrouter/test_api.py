"""The Data API client through the real httpx stack (respx): payload shapes, errors, retries,
and that the API key never leaks into logs or messages."""

from __future__ import annotations

import logging
from datetime import date

import httpx
import pytest
import respx

from bot.sources.openrouter.api import (
    BAD_KEY,
    AuthError,
    BadResponse,
    OpenRouterApi,
    RequestRejected,
    Unavailable,
)
from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.rows import SuspectPayload, parse_payload
from tests.fakes.openrouter_api import (
    BASE_URL,
    KEY,
    Clock,
    FakeApi,
    error,
    history,
    sample_payload,
)

TODAY = date(2026, 8, 1)
DAY = date(2026, 7, 31)


@pytest.fixture
def fake(router: respx.MockRouter, clock: Clock) -> FakeApi:
    api = FakeApi(
        {DAY: [(r["model_permaslug"], int(r["total_tokens"])) for r in sample_payload()["data"]]},
        clock,
    )
    api.mount(router)
    return api


def client(clock: Clock, key: str | None = KEY) -> OpenRouterApi:
    return OpenRouterApi(
        base_url=BASE_URL,
        api_key=key,
        contact="ops@example.org",
        timeout=5,
        limiter=RequestLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
    )


async def get(clock: Clock, start: date = DAY, end: date = DAY, key: str | None = KEY) -> dict:
    async with client(clock, key) as api:
        return await api.rankings_daily(start, end)  # type: ignore[no-any-return]


async def test_one_day_parses_to_50_models_the_other_row_and_free_variants(
    fake: FakeApi, clock: Clock
) -> None:
    parsed = parse_payload(await get(clock), today=TODAY)
    assert parsed.rejected == ()
    (day,) = parsed.days
    assert day.date == DAY and day.as_of == "2026-08-01T02:00:00Z"
    assert len(day.tokens) == 50 and "other" not in day.tokens
    assert day.other == 641_967_083_670
    assert day.total == sum(day.tokens.values()) + 641_967_083_670
    assert day.tokens["deepseek/deepseek-v4-flash-20260423"] == 1_014_960_281_148
    free = [m for m in day.tokens if m.endswith(":free")]
    assert "poolside/laguna-s-2.1-20260720:free" in free and len(free) == 6
    (_, path, params) = fake.calls[0]
    assert path == "/api/v1/datasets/rankings-daily"
    assert params == {"start_date": "2026-07-31", "end_date": "2026-07-31"}


async def test_headers_carry_the_key_and_a_user_agent_naming_rankbot_and_the_contact(
    fake: FakeApi, clock: Clock
) -> None:
    await get(clock)
    headers = fake.headers[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["User-Agent"].startswith("rankbot/")
    assert "ops@example.org" in headers["User-Agent"]


async def test_a_range_of_several_days_splits_into_days_in_order(
    router: respx.MockRouter, clock: Clock
) -> None:
    fake = FakeApi(history(date(2026, 7, 20), DAY), clock)
    fake.mount(router)
    parsed = parse_payload(await get(clock, date(2026, 7, 25), DAY), today=TODAY)
    assert [d.date for d in parsed.days] == [date(2026, 7, d) for d in range(25, 32)]
    assert all(len(d.tokens) == 50 for d in parsed.days)


async def test_token_strings_beyond_2_53_stay_exact(router: respx.MockRouter, clock: Clock) -> None:
    huge = 2**63 - 1
    rows = [(f"lab/model-{i}", huge - i) for i in range(12)] + [("other", huge)]
    FakeApi({DAY: rows}, clock).mount(router)
    (day,) = parse_payload(await get(clock), today=TODAY).days
    assert day.tokens["lab/model-0"] == huge
    assert day.total == sum(huge - i for i in range(12)) + huge
    assert float(huge) != huge  # a float round trip would have lost it


async def test_400_is_refused_without_retrying(fake: FakeApi, clock: Clock) -> None:
    with pytest.raises(RequestRejected, match="end_date must be on or after 2025-01-01"):
        await get(clock, date(2024, 12, 1), date(2024, 12, 31))
    assert len(fake.calls) == 1


async def test_401_says_the_key_is_missing_or_wrong_in_operator_words(
    fake: FakeApi, clock: Clock
) -> None:
    with pytest.raises(AuthError) as info:
        await get(clock, key="sk-or-v1-wrong")
    assert str(info.value) == BAD_KEY
    assert "openrouter.ai/keys" in str(info.value)
    assert len(fake.calls) == 1


async def test_a_missing_key_fails_before_any_request(fake: FakeApi, clock: Clock) -> None:
    with pytest.raises(AuthError, match="OPENROUTER_API_KEY is missing or wrong"):
        await get(clock, key=None)
    assert fake.calls == []


async def test_429_honours_retry_after(fake: FakeApi, clock: Clock) -> None:
    fake.script = [error(429, "Rate limit exceeded", **{"Retry-After": "45"})]
    parsed = parse_payload(await get(clock), today=TODAY)
    assert len(parsed.days) == 1
    assert clock.sleeps == [45]
    assert len(fake.calls) == 2


async def test_500s_back_off_exponentially_then_succeed(fake: FakeApi, clock: Clock) -> None:
    fake.script = [error(500, "Internal Server Error"), error(502, "Bad Gateway")]
    await get(clock)
    assert clock.sleeps == [2.0, 4.0]
    assert len(fake.calls) == 3


async def test_5xx_retry_after_longer_than_the_backoff_wins(fake: FakeApi, clock: Clock) -> None:
    fake.script = [error(503, "Service Unavailable", **{"Retry-After": "30"})]
    await get(clock)
    assert clock.sleeps == [30]


async def test_persistent_500_gives_up_after_five_attempts(fake: FakeApi, clock: Clock) -> None:
    fake.script = [error(500, "Internal Server Error")] * 5
    with pytest.raises(Unavailable, match=r"failed after 5 attempts \(last: HTTP 500"):
        await get(clock)
    assert clock.sleeps == [2.0, 4.0, 8.0, 16.0]


async def test_timeouts_are_retried(fake: FakeApi, clock: Clock) -> None:
    fake.script = [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect")]
    assert len(parse_payload(await get(clock), today=TODAY).days) == 1
    assert len(fake.calls) == 3


async def test_only_timeouts_give_up_with_a_readable_reason(fake: FakeApi, clock: Clock) -> None:
    fake.script = [httpx.ReadTimeout("read timed out")] * 5
    with pytest.raises(Unavailable, match="no answer within 5 s"):
        await get(clock)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"date": "2026-07-31", "model_permaslug": "openai/gpt-4o", "total_tok',
        b"<html><body>502 Bad Gateway</body></html>",
        b"\xff\xfe\x00garbage",
        b"",
    ],
    ids=["truncated", "html", "binary", "empty"],
)
async def test_truncated_and_garbage_bodies_are_rejected(
    fake: FakeApi, clock: Clock, body: bytes
) -> None:
    fake.script = [httpx.Response(200, content=body)]
    with pytest.raises(BadResponse, match="not"):
        await get(clock)


async def test_json_that_is_not_an_object_is_rejected(fake: FakeApi, clock: Clock) -> None:
    fake.script = [httpx.Response(200, json=[1, 2, 3])]
    with pytest.raises(BadResponse, match="not an object"):
        await get(clock)


async def test_an_unknown_meta_version_is_suspect(fake: FakeApi, clock: Clock) -> None:
    body = sample_payload()
    body["meta"]["version"] = "v2"
    fake.script = [httpx.Response(200, json=body)]
    with pytest.raises(SuspectPayload, match=r"unknown meta\.version 'v2'"):
        parse_payload(await get(clock), today=TODAY)


async def test_the_key_never_appears_in_logs_or_errors(
    fake: FakeApi, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.script = [
        error(500, f"upstream rejected Bearer {KEY}"),
        httpx.ConnectError(f"could not connect for {KEY}"),
        httpx.ReadTimeout("timeout"),
        error(503, f"key {KEY} throttled"),
        error(500, "boom"),
    ]
    with pytest.raises(Unavailable) as info:
        await get(clock)
    messages = [str(info.value), caplog.text, *(r.getMessage() for r in caplog.records)]
    assert not any(KEY in m for m in messages)
    assert "***" in caplog.text
    fake.script = [error(401, f"invalid key {KEY}")]
    with pytest.raises(AuthError) as auth:
        await get(clock)
    assert KEY not in str(auth.value) and KEY not in caplog.text


class _Endless:
    """A body of `megabytes` MB, made on demand; counts what was asked for."""

    def __init__(self, megabytes: int) -> None:
        self.megabytes, self.pulled = megabytes, 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for _ in range(self.megabytes):
            self.pulled += 1
            yield b" " * 2**20


async def test_an_answer_far_beyond_any_real_one_is_not_read(fake: FakeApi, clock: Clock) -> None:
    body = _Endless(1024)  # 1 GB
    fake.script = [httpx.Response(200, content=body)]
    with pytest.raises(BadResponse, match="answered more than 64 MB"):
        await get(clock)
    assert body.pulled <= 65  # it stopped reading at 64 MB


async def test_an_error_page_is_read_only_in_part(fake: FakeApi, clock: Clock) -> None:
    body = _Endless(1024)
    fake.script = [httpx.Response(400, content=body)]
    with pytest.raises(RequestRejected):
        await get(clock)
    assert body.pulled <= 1
