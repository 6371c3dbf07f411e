"""The OpenRouter Data API fake of the test suite, served over loopback HTTP from a process
of its own, so a benchmark's CPU figures are rankbot's alone (the fake's answers are built in
this other process, as the real API's are built elsewhere).

Run by `shapes.ApiServer`: `python benchmarks/openrouter_server.py SEED` prints the port it
listens on, then serves `shapes.year_of_days(seed=SEED)` like the real API (the same
handlers as `tests/fakes/openrouter_api.py`) and the real model catalogue
(`shapes.catalogue_payload`). `POST /_bench/day` with `{"date": ..., "rows":
[[model, tokens], ...]}` adds or replaces a day (the benchmark publishing tomorrow's data).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from tests.fakes.openrouter_api import FIRST, KEY, payload


def application(days: dict[date, shapes.Rows]) -> web.Application:
    models = json.dumps(shapes.catalogue_payload()).encode()

    async def rankings(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"code": 401}}, status=401)
        end = date.fromisoformat(request.query["end_date"])
        start = max(date.fromisoformat(request.query["start_date"]), FIRST)
        body = json.dumps(payload(days, start, end)).encode()
        return web.Response(body=body, content_type="application/json")

    async def catalogue(request: web.Request) -> web.Response:
        return web.Response(body=models, content_type="application/json")

    async def add_day(request: web.Request) -> web.Response:
        data = await request.json()
        days[date.fromisoformat(data["date"])] = [(m, int(t)) for m, t in data["rows"]]
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/api/v1/datasets/rankings-daily", rankings)
    app.router.add_get("/api/v1/models", catalogue)
    app.router.add_post("/_bench/day", add_day)
    return app


async def main(seed: int) -> None:
    runner = web.AppRunner(application(shapes.year_of_days(seed=seed)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
