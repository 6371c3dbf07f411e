"""A loopback webhook sink that misbehaves on request, for whole-process scenarios.

It runs an aiohttp server on 127.0.0.1 (port 0) in a thread of its own, so a test can start
`rankbot run` as a child process and watch what arrives. A path is
`/<kind>/<arg>/…/<name>` (what lies between, e.g. a secret token, is ignored):

- `/ok/-/<name>`: 200, the JSON body recorded under `<name>` with its arrival time;
- `/retry-after/<value>/<name>`: 429 with `Retry-After: <value>` (a 1e400, a 1e9, …);
- `/hang/-/<name>`: never answers (the request stays open until the client gives up);
- `/huge/<megabytes>/<name>`: 200 with a body of that many MB, made on the fly (never held);
- `/slow/<seconds>/<name>`: 200 after that many seconds, recorded when it answers.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from typing import Any

from aiohttp import web

CHUNK = b"x" * 2**20


class WebhookSink:
    def __init__(self) -> None:
        self.received: dict[str, list[tuple[float, Any]]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)
        """Requests per name, answered or not."""
        self.huge_bytes_sent = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def start(self) -> WebhookSink:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def close(self) -> None:
        if self._runner is not None:
            runner = self._runner
            future = asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop)
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def payloads(self, name: str) -> list[Any]:
        with self._lock:
            return [body for _, body in self.received.get(name, [])]

    def arrivals(self, name: str) -> list[float]:
        with self._lock:
            return [t for t, _ in self.received.get(name, [])]

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _record(self, name: str, body: Any) -> None:
        with self._lock:
            self.received[name].append((time.monotonic(), body))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        parts = request.match_info["tail"].split("/")
        kind, name = parts[0], parts[-1]
        with self._lock:
            self.hits[name] += 1
        raw = await request.read()
        body = json.loads(raw) if raw else None
        if kind == "ok":
            self._record(name, body)
            return web.Response(status=200, text="ok")
        if kind == "retry-after":
            return web.Response(status=429, headers={"Retry-After": parts[1]})
        if kind == "hang":
            await asyncio.sleep(3600)
        if kind == "slow":
            await asyncio.sleep(float(parts[1]))
            self._record(name, body)
            return web.Response(status=200, text="ok")
        if kind == "huge":
            self._record(name, body)
            response = web.StreamResponse(status=200)
            response.content_length = int(parts[1]) * len(CHUNK)
            await response.prepare(request)
            try:
                for _ in range(int(parts[1])):
                    await response.write(CHUNK)
                    self.huge_bytes_sent += len(CHUNK)
            except (ConnectionError, RuntimeError):
                pass  # the client stopped reading: what rankbot should do
            return response
        return web.Response(status=404)
