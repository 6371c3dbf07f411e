"""The store after a year of daily polls with 1,000 channels: its size on disk and how long it
takes to open.

Production wiring, a year compressed: the real `OpenRouterSource` polls the loopback Data API
fake once per simulated day (`shapes.year_of_days`: 50 models a day, day/week/month
snapshots), the poller plans for 1,000 subscribed channels (`shapes.subscription_mix`), the
outbox stores every post (charts drawn and stored as blobs while they wait), delivery sends
them (to a sender that accepts at once: the platforms are not what is measured here) and
records every outcome, sent posts are pruned after `[store] keep_sent_days` (30), and the
store compacts itself when its journal outgrows the base. Then the database is opened the way
`rankbot run` opens it (`bot.app.open_store`), in a fresh process, five times.

Goal (issue 12): ≤ 20 MB and ≤ 0.5 s to open. The baseline printed beside: the same data as
one plain JSON file (what the snapshots and events alone take), and `json.loads` of it.

Run: .venv/bin/python benchmarks/store_year.py [--channels 1000] [--days 365]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from bot import app
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.render.chart_pool import default_pool
from bot.sources.openrouter.limiter import RequestLimiter
from bot.sources.openrouter.source import OpenRouterSource

OPEN = """
import sys, time
sys.path.insert(0, sys.argv[2])
t0 = time.perf_counter()
from bot import app
t1 = time.perf_counter()
store = app.open_store(__import__("pathlib").Path(sys.argv[1]))
t2 = time.perf_counter()
store.close_now()
print(t2 - t1, t1 - t0)
"""


class Accepting:
    """A platform that takes every post at once."""

    def __init__(self) -> None:
        self.posts = 0

    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        self.posts += 1
        return SendResult(SendStatus.SENT, platform_id=f"m{self.posts}")


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if "lock" not in f.name)


async def simulate(path: Path, api: shapes.ApiServer, channels: int, days: int) -> dict[str, float]:
    os.environ.setdefault("OPENROUTER_API_KEY", shapes.KEY)
    year = shapes.year_of_days()
    first = min(year)
    clock = [shapes.as_of_now(first)]
    config = app.config_from_mapping(
        {
            "source": {
                "base_url": api.base_url,
                "backfill_since": first.isoformat(),
                "periods": ["day", "week", "month"],
            }
        },
        base=path.parent,
    )
    sender = Accepting()
    began = time.perf_counter()
    async with app.open_database(path) as store:
        await shapes.add_subscriptions(store, shapes.subscription_mix(channels, now=clock[0]))
        # the request budget counts on the simulated clock (a year of polls in minutes)
        source = OpenRouterSource(
            config.section("source"),
            api_key=shapes.KEY,
            limiter=RequestLimiter(clock=lambda: clock[0].timestamp()),
        )
        bot = await app.build_bot(
            config,
            store,
            source,
            {"slack": sender, "discord": sender},
            settings=DeliverySettings(limits={}),
            clock=lambda: clock[0],
        )
        for day in range(days):
            clock[0] = shapes.as_of_now(first + timedelta(days=day))
            bot.poller.next_poll = None  # each simulated day's 02:30 poll
            await app.one_cycle(bot)
        pending = await store.outbox.count()
        sent = await store.outbox.count(state="sent")
    return {
        "seconds": time.perf_counter() - began,
        "posts": sender.posts,
        "pending": pending,
        "sent_kept": sent,
    }


def plain_json_baseline(path: Path, tmp: Path) -> tuple[int, float]:
    """The snapshots and events alone as one JSON file, and the time to parse it."""

    async def dump() -> bytes:
        async with app.open_database(path, readonly=True) as store:
            data = {
                "snapshots": [
                    s.to_dict()
                    for source, period in await store.history.streams()
                    for s in await store.history.snapshots(source, period)
                ],
                "events": [e.to_dict() for e in await store.history.events()],
            }
        return json.dumps(data, separators=(",", ":")).encode()

    raw = asyncio.run(dump())
    t0 = time.perf_counter()
    json.loads(raw)
    return len(raw), time.perf_counter() - t0


def main(channels: int, days: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rankbot-year-") as tmp:
        path = Path(tmp) / "rankbot.db.json"
        print(f"a year of daily polls, {channels:,} channels; {shapes.load()}")
        with shapes.ApiServer() as api:
            figures = asyncio.run(simulate(path, api, channels, days))
        default_pool().close()
        size = disk_bytes(path)
        opens = []
        root = str(Path(__file__).resolve().parents[1])
        for _ in range(5):
            out = subprocess.run(
                [sys.executable, "-c", OPEN, str(path), root],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            opens.append(float(out[0]))
        plain, parse = plain_json_baseline(path, Path(tmp))
        open_s = statistics.median(opens)
        print(
            f"{days} daily polls in {figures['seconds']:.0f} s: {figures['posts']:,.0f} posts "
            f"delivered, {figures['sent_kept']:,.0f} sent posts kept (30 days), "
            f"{figures['pending']:,.0f} pending"
        )
        print(
            f"store on disk: {size / 1e6:.1f} MB (goal ≤ 20 MB: {shapes.verdict(size <= 20e6)});"
            f" the snapshots and events alone as plain JSON: {plain / 1e6:.1f} MB "
            f"(×{size / plain:.2f})"
        )
        print(
            f"open as `rankbot run` does: median {open_s * 1e3:.0f} ms of 5 (min "
            f"{min(opens) * 1e3:.0f}, max {max(opens) * 1e3:.0f}; goal ≤ 0.5 s: "
            f"{shapes.verdict(open_s <= 0.5)}); json.loads of the plain JSON: "
            f"{parse * 1e3:.0f} ms (×{open_s / parse:.1f})"
        )
        print(f"after the run: {shapes.load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    main(args.channels, args.days)
