"""The OpenRouter Data API as a real HTTP server on 127.0.0.1 (aiohttp), for whole-CLI tests.

`tests.fakes.openrouter_api.FakeApi` sits behind respx inside one process; a command run
through `rankbot`'s own `asyncio.run` (`rankbot backtest`) needs a server it reaches over
the loopback, pointed at with `[source] base_url`. This one answers like the real API: the
rankings endpoint checks the bearer key, clamps `start_date` to 2025-01-01 and returns the
rows of the days it holds (sorted as OpenRouter sorts them), with one `meta.as_of` for the
whole server (the real API's says when its data was last refreshed, whatever range is asked).

`visible` (a callable returning the newest published day) makes it answer as the API did at
a virtual moment, for a test that runs the real poller on a faked clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve
from tests.fakes.openrouter_api import FIRST, KEY, Rows, models_payload, payload


class OpenRouterHttpFake:
    def __init__(self, days: dict[date, Rows], *, as_of: str = "2026-06-01T02:00:00Z") -> None:
        self.days = days
        self.as_of = as_of
        self.visible: Callable[[], date] | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ranking_requests(self) -> list[dict[str, str]]:
        return [params for path, params in self.requests if path.endswith("rankings-daily")]

    @property
    def open_connections(self) -> int:
        """Connections the clients keep open to this server right now."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    async def start(self) -> OpenRouterHttpFake:
        app = web.Application()
        app.router.add_get("/api/v1/datasets/rankings-daily", self._rankings)
        app.router.add_get("/api/v1/models", self._models)
        self._runner, self.port = await serve(app)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        return web.json_response(models_payload())

    async def _rankings(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        self.requests.append((request.path, params))
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return _error(401, "No auth credentials found")
        end = date.fromisoformat(params["end_date"])
        if end < FIRST:
            return _error(400, "end_date must be on or after 2025-01-01")
        start = max(date.fromisoformat(params["start_date"]), FIRST)
        if self.visible is not None:
            end = min(end, self.visible())
        body: dict[str, Any] = payload(self.days, start, end)
        body["meta"]["as_of"] = self.as_of
        return web.json_response(body)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message}}, status=status)
