"""Discord interactions over HTTP: what `rankbot run --role web` answers per second.

Production wiring: a year of daily, weekly and monthly rankings backfilled through the real
`OpenRouterSource` into a TinyDB store (`shapes.build_year_store`); `rankbot run --role web`
in a process of its own (the CLI, logged in to the loopback Discord fake of the test suite,
no gateway), serving the Interactions Endpoint; this process signs interactions with the
application's Ed25519 key as Discord does and POSTs them with a fixed concurrency.

Rows, each against the baseline measured in the same run:
- ping: a signed PING (signature check + HTTP, no command): the baseline;
- top: `/top n:10` (week), answered in the HTTP response (embed rendered from the store);
- autocomplete: `/model query:gpt` (type 4), choices from the stored models;
- bad signature: a request signed with another key (401).
Figures: requests per second, latency p50/p95, and the web process's CPU per request.

The web role refuses the TinyDB file (one writer); this benchmark's web process is the only
one on its copy of the store, so it skips that check, as the test of the CLI path does.

Run: .venv/bin/python benchmarks/interactions.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from nacl.signing import SigningKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from tests.fakes.discord_fake import FakeDiscord, command_interaction

TOKEN = "bench-bot-token"
SERVE_WEB = """
import sys
from bot import app
from bot.cli.main import main
app.require_shared_database = lambda store, role: None
sys.exit(main(sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def signed(key: SigningKey, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + body).signature.hex()
    return body, {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


async def drive(
    url: str,
    make: Callable[[], tuple[bytes, dict[str, str]]],
    requests: int,
    concurrency: int,
    expect: int,
    pid: int,
) -> dict[str, float]:
    """`requests` POSTs, `concurrency` at a time; latencies, throughput, the server's CPU."""
    latencies: list[float] = []
    todo = iter(range(requests))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for _ in todo:
                body, headers = make()
                began = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == expect, (response.status, await response.text())
                latencies.append(time.perf_counter() - began)

        cpu0 = shapes.children_cpu([pid])
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
        cpu = shapes.children_cpu([pid]) - cpu0
    latencies.sort()
    return {
        "rps": requests / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1] * 1000,
        "cpu_ms": cpu / requests * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rankbot-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        db = tmp / "rankbot.db.json"
        with shapes.ApiServer() as api:
            built = await shapes.build_year_store(db, api)
        size = sum(f.stat().st_size for f in tmp.glob("rankbot.db.json*"))
        print(
            f"year store: {shapes.DAYS} days x 50 models, day/week/month snapshots, backfilled "
            f"through the real source in {built:.1f} s ({size / 1e6:.1f} MB)"
        )

        fake = FakeDiscord()
        await fake.start()
        port = free_port()
        conf = tmp / "rankbot.toml"
        conf.write_text(
            f'[store]\npath = "{db}"\n\n[discord]\napi_base = "{fake.api_base}"\n'
            f'public_key = "{fake.public_key}"\nhost = "127.0.0.1"\nport = {port}\n'
        )
        env = {**os.environ, "DISCORD_BOT_TOKEN": TOKEN}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SERVE_WEB, "run", "--role", "web", "--config", str(conf),
            "--log-level", "warning", env=env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/discord/interactions"
        try:
            ping = {"id": "1", "application_id": "1", "type": 1, "token": "t", "version": 1}
            for _ in range(400):
                try:
                    status, _ = await fake.post_interaction(url, ping)
                    if status == 200:
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            key, stranger = fake.signing_key, SigningKey.generate()
            top = [{"name": "n", "type": 4, "value": 10}]
            query = [{"name": "query", "type": 3, "value": "gpt", "focused": True}]
            rows: dict[str, tuple[Callable[[], tuple[bytes, dict[str, str]]], int]] = {
                "ping (baseline)": (lambda: signed(key, ping), 200),
                "top n:10": (lambda: signed(key, command_interaction(fake, "top", top)), 200),
                "autocomplete": (
                    lambda: signed(
                        key, command_interaction(fake, "model", query, interaction_type=4)
                    ),
                    200,
                ),
                "bad signature": (lambda: signed(stranger, ping), 401),
            }
            # warm up: templates compiled, first reads of the store
            await drive(url, rows["top n:10"][0], 20, 2, 200, child.pid)
            print(
                f"{args.requests} requests per row, {args.concurrency} at a time; {shapes.load()}"
            )
            baseline: dict[str, float] | None = None
            for name, (make, expect) in rows.items():
                figures = await drive(url, make, args.requests, args.concurrency, expect, child.pid)
                baseline = baseline or figures
                print(
                    f"  {name:16} {figures['rps']:7.0f} req/s  p50 {figures['p50_ms']:6.1f} ms"
                    f"  p95 {figures['p95_ms']:6.1f} ms  web CPU {figures['cpu_ms']:5.2f} ms/req"
                    f"  (x{figures['cpu_ms'] / baseline['cpu_ms']:.1f} the ping's CPU)"
                )
        finally:
            child.terminate()
            await child.wait()
            await fake.close()


if __name__ == "__main__":
    asyncio.run(main())
