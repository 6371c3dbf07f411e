"""Delivery throughput on PostgreSQL with 1, 2 and 3 worker processes, against a bare client.

Each run: a fresh database on a throwaway PostgreSQL server (`tests/fakes/postgres.py`),
`--posts` webhook posts enqueued to `--channels` channels, then N `rankbot run --role worker`
processes (production wiring: the claimed delivery loop, the webhook sender, leases and
outcomes in the database) deliver them to the loopback webhook sink of
`platform_fakes.py webhook`, which answers each post after a fixed `--latency` (50 ms). Every
worker has the same `[delivery] concurrency` (`--concurrency`), so the work is I/O-bound and
more workers should mean more posts per second. The webhook's per-channel limit is lifted:
the sink's latency, not a rate limit, is what is measured.

The baseline, in the same run: a bare httpx client posting the same number of bodies to the
same sink with the same concurrency (what one process could do with no outbox at all).
Throughput is counted at the sink, from its first to its last acceptance (process start-up
is not counted). Goal (issue 16): ≥ 2× from 1 to 3 workers.

Run: .venv/bin/python benchmarks/pg_delivery.py [--posts 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from bot.core.messages import ChannelRef
from bot.store.postgres import PgStore, migrate_schema
from tests.fakes import postgres
from tests.store.postgres.database import fill_outbox, process_env

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Run:
    label: str
    posts: int
    seconds: float
    worker_cpu: float = 0.0
    """CPU seconds of the worker processes (all of them)."""
    database_cpu: float = 0.0
    """CPU seconds of the PostgreSQL server's processes."""

    @property
    def rate(self) -> float:
        return self.posts / self.seconds if self.seconds else float("nan")


class WebhookSink:
    """`platform_fakes.py webhook` in a process of its own."""

    def __init__(self, latency: float) -> None:
        self._latency = latency

    def __enter__(self) -> WebhookSink:
        script = Path(__file__).with_name("platform_fakes.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "webhook", "--latency", str(self._latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        urls = json.loads(self.proc.stdout.readline())
        self.base, self.stats_url = urls["base"], urls["stats"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def stats(self) -> dict:
        return shapes.harness_http().get(self.stats_url).json()


async def bare_client(sink: WebhookSink, posts: int, channels: int, concurrency: int) -> Run:
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient() as client:

        async def one(n: int) -> None:
            async with slots:
                url = f"{sink.base}/hook/b{n % channels:04d}"
                (await client.post(url, json={"text": f"p{n:05d}"})).raise_for_status()

        await asyncio.gather(*(one(n) for n in range(posts)))
    stats = sink.stats()
    return Run("bare client", sum(stats["accepted"].values()), stats["last"] - stats["first"])


async def workers_run(
    server: postgres.PostgresServer,
    workers: int,
    posts: int,
    channels: int,
    concurrency: int,
    latency: float,
    tmp: Path,
) -> Run:
    url = server.create_database(f"bench_{workers}")
    await migrate_schema(url)
    refs = [ChannelRef("webhook", "w", f"s{n:04d}") for n in range(channels)]
    config = tmp / "rankbot.toml"
    config.write_text(
        f"[delivery]\nconcurrency = {concurrency}\n\n[delivery.limits.webhook]\n"
        "channel_messages = 0\n"
    )
    with WebhookSink(latency) as sink:
        env = process_env(url, config, refs, sink.base)
        async with await PgStore.open(url) as store:
            await fill_outbox(store, refs, posts)
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bot",
                        "run",
                        "--role",
                        "worker",
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                )
                for _ in range(workers)
            ]
            database0 = shapes.children_cpu(server.pids())
            try:
                while await store.outbox.count():
                    await asyncio.sleep(0.1)
                worker_cpu = shapes.children_cpu([p.pid for p in procs])
                database_cpu = shapes.children_cpu(server.pids()) - database0
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(10)
        stats = sink.stats()
    accepted = sum(stats["accepted"].values())
    label = f"{workers} worker{'s' if workers > 1 else ''}"
    return Run(label, accepted, stats["last"] - stats["first"], worker_cpu, database_cpu)


async def main(args: argparse.Namespace) -> None:
    server = postgres.start_server()
    if server is None:
        sys.exit(postgres.SKIP_REASON)
    try:
        with tempfile.TemporaryDirectory(prefix="rankbot-bench-") as tmp:
            print(
                f"{args.posts} webhook posts to {args.channels} channels, sink latency "
                f"{args.latency * 1e3:.0f} ms, concurrency {args.concurrency} per process; "
                f"{shapes.load()}"
            )
            with WebhookSink(args.latency) as sink:
                bare = await bare_client(sink, args.posts, args.channels, args.concurrency)
            runs = []
            for n in (1, 2, 3):
                runs.append(
                    await workers_run(
                        server,
                        n,
                        args.posts,
                        args.channels,
                        args.concurrency,
                        args.latency,
                        Path(tmp),
                    )
                )
            ideal = args.concurrency / args.latency
            print(
                f"{bare.label:12}: {bare.rate:7.1f} posts/s ({bare.posts} in "
                f"{bare.seconds:.2f} s; the latency allows {ideal:.0f}/s)"
            )
            for run in runs:
                print(
                    f"{run.label:12}: {run.rate:7.1f} posts/s ({run.posts} in {run.seconds:.2f} s)"
                    f"; ×{run.rate / bare.rate:4.2f} the bare client; CPU per post: workers "
                    f"{run.worker_cpu / run.posts * 1e3:.2f} ms (start-up included), PostgreSQL "
                    f"{run.database_cpu / run.posts * 1e3:.2f} ms"
                )
            scale = runs[-1].rate / runs[0].rate
            print(
                f"3 workers / 1 worker: ×{scale:.2f} (goal ≥ 2×: {shapes.verdict(scale >= 2)}); "
                f"after the runs: {shapes.load()}"
            )
    finally:
        postgres.stop_server(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--channels", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.05)
    asyncio.run(main(parser.parse_args()))
