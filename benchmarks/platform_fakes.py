"""The chat platforms of the test suite's loopback fakes, run in a process of their own for the
fan-out benchmarks: the platform's work (parsing posts, counting) is not rankbot's CPU.

`python benchmarks/platform_fakes.py KIND [--latency S] [--limits] [--hang N]` prints one JSON
line (the URLs to use) and serves until killed. KIND:

- `discord`: `tests/fakes/discord_fake.FakeDiscord` (REST + gateway); with `--limits` it
  answers 429 as Discord does past 50 requests in any second for the whole bot and past 5
  messages in any 5 s per channel (with `retry_after`, `Retry-After`, `X-RateLimit-Global`);
- `slack`: `tests/fakes/slack_fake.SlackFake`; with `--limits`, 429 past 1 message per second
  per channel (Slack's `chat.postMessage` limit);
- `webhook`: a sink taking `POST /hook/<name>` with 200; the first `--hang` names
  (`hang0000`, ...) never answer.

Every platform waits `--latency` seconds (a network round trip) before answering. `GET
/_bench/stats` returns what was accepted per channel (duplicates show as counts above 1), the
429s, and the first and last acceptance time (this process's monotonic clock, seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.slack_fake import SlackFake


class Window:
    """At most `limit` acceptances in any `seconds` (the platform's own count)."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        return 0.0 if len(self.times) < self.limit else self.times[0] + self.seconds - now


class Stats:
    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()
        self.limited = 0
        self.first: float | None = None
        self.last: float | None = None

    def accept(self, key: str) -> None:
        now = time.monotonic()
        self.accepted[key] += 1
        self.first = now if self.first is None else self.first
        self.last = now

    def response(self) -> web.Response:
        body = {
            "accepted": dict(self.accepted),
            "limited": self.limited,
            "first": self.first,
            "last": self.last,
            "now": time.monotonic(),
        }
        return web.json_response(body)


async def discord(latency: float, limits: bool, stats: Stats) -> dict[str, Any]:
    everything = Window(50, 1.0)
    channels: dict[str, Window] = {}

    class Limited(FakeDiscord):
        async def _rest(self, request: web.Request) -> web.Response:
            path = "/" + request.match_info["tail"]
            if path == "/_bench/stats":
                return stats.response()
            posting = request.method == "POST" and path.startswith("/channels/")
            if posting:
                now = time.monotonic()  # counted when it arrives, as Discord's edge does
                channel = channels.setdefault(path, Window(5, 5.0))
                wait = max(everything.wait(now), channel.wait(now)) if limits else 0.0
                if wait <= 0:
                    everything.times.append(now)
                    channel.times.append(now)
                await asyncio.sleep(latency)
                if wait > 0:
                    stats.limited += 1
                    body = {"message": "You are being rate limited.", "retry_after": wait}
                    return web.Response(  # the exact content type, as discord.py needs
                        status=429,
                        body=json.dumps(body).encode(),
                        headers={
                            "Content-Type": "application/json",
                            "Retry-After": f"{wait:.3f}",
                            "X-RateLimit-Global": str(everything.wait(now) > 0).lower(),
                            "Via": "1.1 google",
                        },
                    )
                self.calls.clear()  # 2,000 charts are not worth keeping in memory
            response = await super()._rest(request)
            if posting and response.status == 200:
                stats.accept(path.split("/")[2])
            return response

    fake = Limited()
    await fake.start()
    stats_url = f"{fake.api_base}/_bench/stats"
    return {"api_base": fake.api_base, "gateway_url": fake.gateway_url, "stats": stats_url}


async def slack(latency: float, limits: bool, stats: Stats) -> dict[str, Any]:
    per_channel: dict[str, Window] = {}

    class Limited(SlackFake):
        async def _api(self, request: web.Request) -> web.StreamResponse:
            if request.match_info["method"] == "_bench.stats":
                return stats.response()
            if request.match_info["method"] != "chat.postMessage":
                return await super()._api(request)
            raw = await request.read()
            if request.content_type == "application/json":
                params = json.loads(raw or b"{}")
            else:
                params = dict(parse_qsl(raw.decode()))
            now = time.monotonic()
            await asyncio.sleep(latency)
            channel = str(params.get("channel", ""))
            window = per_channel.setdefault(channel, Window(1, 1.0))
            if limits and (wait := window.wait(now)) > 0:
                stats.limited += 1
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
            window.times.append(now)
            stats.accept(channel)
            return web.json_response(
                {"ok": True, "channel": channel, "ts": f"{now:.6f}", "message": {}}
            )

    fake = Limited()
    await fake.start()
    return {"api_url": fake.api_url, "stats": f"{fake.api_url}_bench.stats"}


async def webhook(latency: float, hang: int, stats: Stats) -> dict[str, Any]:
    hanging = {f"hang{i:04d}" for i in range(hang)}

    async def hook(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        await request.read()
        if name in hanging:
            await asyncio.Event().wait()
        await asyncio.sleep(latency)
        stats.accept(name)
        return web.Response(text="ok")

    async def report(request: web.Request) -> web.Response:
        return stats.response()

    app = web.Application()
    app.router.add_post("/hook/{name}", hook)
    app.router.add_get("/_bench/stats", report)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    return {"base": base, "stats": f"{base}/_bench/stats"}


async def main(args: argparse.Namespace) -> None:
    stats = Stats()
    if args.kind == "discord":
        urls = await discord(args.latency, args.limits, stats)
    elif args.kind == "slack":
        urls = await slack(args.latency, args.limits, stats)
    else:
        urls = await webhook(args.latency, args.hang, stats)
    print(json.dumps(urls), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["discord", "slack", "webhook"])
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--hang", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
