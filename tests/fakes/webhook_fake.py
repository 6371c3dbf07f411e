"""A generic JSON webhook endpoint on loopback: records every POST and answers with the
status a test sets (`status`), e.g. 404 to make rankbot pause the channel, then 200."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve


@dataclass
class WebhookFake:
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)
    """Every request body, with the status it was answered with under `_status`."""
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/secret-token"

    def delivered(self) -> list[dict[str, Any]]:
        return [p for p in self.posts if 200 <= p["_status"] < 300]

    async def start(self) -> WebhookFake:
        app = web.Application()
        app.router.add_post("/hook/{token}", self._post)
        self._runner, self.port = await serve(app)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text())
        status = self.status
        self.posts.append({**body, "_status": status})
        return web.json_response({}, status=status)
