"""An in-memory OpenRouter Data API built from the real fixtures, served through respx.

The real httpx client of `bot.sources.openrouter.api` talks to it as to openrouter.ai: the rankings
endpoint checks the bearer key, clamps `start_date` to 2025-01-01, answers 400 for an
`end_date` before it, and returns rows sorted by date, tokens descending, `other` last.
`script` queues responses (or exceptions) served before the normal behaviour, one per request.
Every request is recorded with the injected clock's time, so tests can count them per minute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import respx

from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.core.model import Snapshot
from bot.engine.ingest import store_baseline
from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.source import OpenRouterSource
from bot.store.protocols import Store

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "openrouter"
BASE_URL = "https://openrouter.test"
KEY = "sk-or-v1-test-secret-5f3a9c0d2e7b"
FIRST = date(2025, 1, 1)

Rows = list[tuple[str, int]]
"""A day's (permaslug, tokens), `other` included."""


def sample_payload() -> dict[str, Any]:
    return json.loads((HERE / "rankings-daily-2026-07-31.json").read_text())


def models_payload() -> dict[str, Any]:
    return json.loads((HERE / "models-2026-08-01.trimmed.json").read_text())


def sample_rows() -> Rows:
    return [(r["model_permaslug"], int(r["total_tokens"])) for r in sample_payload()["data"]]


def varied_rows(day: date) -> Rows:
    """The real day's figures, wobbling ±5 % day to day (the leader stays put)."""
    out = []
    for index, (model, tokens) in enumerate(sample_rows()):
        factor = 1 + 0.05 * math.sin(day.toordinal() * 0.7 + index)
        out.append((model, int(tokens * factor)))
    return out


def history(start: date, end: date, rows: Callable[[date], Rows] = varied_rows) -> dict[date, Rows]:
    days = (end - start).days + 1
    return {start + timedelta(days=i): rows(start + timedelta(days=i)) for i in range(days)}


def as_of(day: date) -> str:
    return f"{(day + timedelta(days=1)).isoformat()}T02:00:00Z"


def payload(days: dict[date, Rows], start: date, end: date, *, version: str = "v1") -> dict:
    data = []
    for day in sorted(d for d in days if start <= d <= end):
        listed = sorted((r for r in days[day] if r[0] != "other"), key=_order)
        other = [r for r in days[day] if r[0] == "other"]
        for model, tokens in listed + other:
            data.append(
                {"date": day.isoformat(), "model_permaslug": model, "total_tokens": str(tokens)}
            )
    newest = max((d for d in days if start <= d <= end), default=end)
    return {
        "data": data,
        "meta": {
            "as_of": as_of(newest),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "version": version,
        },
    }


def _order(row: tuple[str, Any]) -> tuple[int, str]:
    """Tokens descending, ties by permaslug; a malformed figure (a test's) sorts as 0."""
    return (-row[1] if isinstance(row[1], int) else 0, row[0])


def error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": status, "message": message}}, headers=headers
    )


class FakeApi:
    def __init__(self, days: dict[date, Rows], clock: Callable[[], float] = lambda: 0.0) -> None:
        self.days = days
        self.clock = clock
        self.script: list[httpx.Response | Exception] = []
        self.calls: list[tuple[float, str, dict[str, str]]] = []
        self.headers: list[httpx.Headers] = []
        self.fail_after: int | None = None
        """Answer 500 to every rankings request after this many (an outage mid-backfill)."""

    @property
    def ranking_calls(self) -> list[tuple[float, str, dict[str, str]]]:
        return [c for c in self.calls if c[1].endswith("rankings-daily")]

    def mount(self, router: respx.MockRouter) -> None:
        router.get(f"{BASE_URL}/api/v1/datasets/rankings-daily").mock(side_effect=self.rankings)
        router.get(f"{BASE_URL}/api/v1/models").mock(side_effect=self.models)

    def _record(self, request: httpx.Request) -> httpx.Response | None:
        self.calls.append((self.clock(), request.url.path, dict(request.url.params)))
        self.headers.append(request.headers)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return None

    def models(self, request: httpx.Request) -> httpx.Response:
        return self._record(request) or httpx.Response(200, json=models_payload())

    def rankings(self, request: httpx.Request) -> httpx.Response:
        scripted = self._record(request)
        if scripted is not None:
            return scripted
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return error(401, "No auth credentials found")
        if self.fail_after is not None and len(self.ranking_calls) > self.fail_after:
            return error(500, "Internal Server Error")
        params = request.url.params
        end = date.fromisoformat(params["end_date"])
        if end < FIRST:
            return error(400, "end_date must be on or after 2025-01-01")
        start = max(date.fromisoformat(params["start_date"]), FIRST)
        return httpx.Response(200, json=payload(self.days, start, end))


class Clock:
    """A monotonic clock for the limiter whose `sleep` only advances it: no real waiting."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def make_source(clock: Clock, *, key: str | None = KEY, **settings: Any) -> OpenRouterSource:
    """An `OpenRouterSource` on the fake API, with the limiter and backoff on `clock`."""
    config = SourceSettings(base_url=BASE_URL, contact="ops@example.org", **settings)
    return OpenRouterSource(
        config,
        api_key=key,
        limiter=RequestLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
    )


async def fetch(source: OpenRouterSource, store: Store, now: datetime) -> list[Snapshot]:
    """One poll as the poller does it: a backfill's history is stored silently (with the
    default `[detect]`), and the news is returned for the caller to ingest."""
    fetched = await source.fetch_new(store, now)
    await store_baseline(store, fetched, params=DetectParams(), countries=shipped_table())
    return fetched.news
