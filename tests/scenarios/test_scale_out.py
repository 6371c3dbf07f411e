"""Scaling out on one PostgreSQL: 2 pollers and 3 workers, real `rankbot run --role ...`
processes, deliver `RANKBOT_SCALE_POSTS` webhook posts to a loopback sink while the harness
SIGKILLs a random worker every 2 s and starts it again. The suite runs 10,000 (under a minute
on 2 shared cores); issue 16's full size is `RANKBOT_SCALE_POSTS=20000` (docs/scaling.md has
the figures of both).

- nothing is lost: every post arrives, and every post ends `sent`;
- duplicates are at most the posts in flight at the kills (leased by the killed worker and
  not recorded, counted in the database right after each kill);
- each channel's posts arrive in enqueue order (first arrivals);
- killing the leading poller hands the lead to the other within 30 s, and the new leader
  (which reads the whole history again) stores, logs and plans nothing twice.

- 2 `web` processes (Discord's Interactions Endpoint over HTTP, logged in to a loopback
  Discord fake) run on the same database throughout and answer signed `/top` interactions.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.core.messages import ChannelRef
from bot.store.postgres import PgStore
from tests.fakes.discord_fake import FakeDiscord, command_interaction
from tests.fakes.loopback import serve
from tests.fakes.postgres import PostgresServer, free_port
from tests.platforms.discord.conftest import TOKEN
from tests.store.postgres.database import empty_database, fill_outbox, process_env

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bot" / "data" / "demo-history.jsonl"
POSTS = int(os.environ.get("RANKBOT_SCALE_POSTS", "10000"))
CHANNELS = 400
WORKERS = 3
KILL_EVERY_SECONDS = 2.0
CONFIG = """
[delivery]
concurrency = 16
lease_seconds = 3
send_timeout = 10

[delivery.limits.webhook]
channel_messages = 0
"""


class Sink:
    """Webhook endpoints `/hook/<channel>`: what arrived, per channel, in arrival order."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[str]] = {}

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(0.005)  # a network round trip
        self.arrivals.setdefault(request.match_info["name"], []).append(body["text"])
        return web.Response(text="ok")

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((ch, text) for ch, texts in self.arrivals.items() for text in texts)


class Process:
    """One `rankbot run --role ROLE` process, its stderr in a file."""

    def __init__(self, role: str, env: dict[str, str], logs: Path, n: int) -> None:
        self.role = role
        self.log = logs / f"{role}-{n}.log"
        args = [sys.executable, "-m", "bot", "run", "--role", role]
        if role == "poller":
            args += ["--history", str(DEMO)]
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(args, env=env, stderr=err, stdout=subprocess.DEVNULL)

    @property
    def name(self) -> str:
        """The worker's name in the leases (`bot.delivery.claimed.worker_name`)."""
        import socket

        return f"{socket.gethostname()}:{self.proc.pid}"

    def says(self, text: str) -> bool:
        return text in self.log.read_text()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, str]]:
    fake = Sink()
    app = web.Application()
    app.router.add_post("/hook/{name}", fake.hook)
    runner, port = await serve(app)
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.close()


async def web_answers(fake: FakeDiscord, port: int) -> bool:
    """A signed `/top` interaction to a web process, answered with the leaderboard."""
    top = command_interaction(fake, "top", [{"name": "n", "type": 4, "value": 3}])
    try:
        status, answer = await fake.post_interaction(endpoint(port), top)
    except aiohttp.ClientError:
        return False
    return status == 200 and answer.get("type") == 4 and bool(answer["data"].get("embeds"))


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}/discord/interactions"


async def wait_for(check: object, timeout: float, what: str) -> float:
    """Seconds until `check()` is true (fails the test after `timeout`)."""
    began = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - began > timeout:
            pytest.fail(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - began


async def test_pollers_and_workers_survive_kills_and_lose_nothing(
    tmp_path: Path,
    postgres_server: PostgresServer,
    sink: tuple[Sink, str],
    discord: FakeDiscord,
) -> None:
    fake, base = sink
    url = empty_database(postgres_server, "scale_out")
    channels = [ChannelRef("webhook", "w", f"s{n:04d}") for n in range(CHANNELS)]
    config = tmp_path / "rankbot.toml"
    config.write_text(CONFIG)
    env = process_env(url, config, channels, base)

    async with await PgStore.open(url) as store:
        await fill_outbox(store, channels, POSTS)

        logs = tmp_path / "logs"
        logs.mkdir()
        pollers = [Process("poller", env, logs, n) for n in range(2)]
        workers = [Process("worker", env, logs, n) for n in range(WORKERS)]
        webs, ports = [], [free_port() for _ in range(2)]
        for n, port in enumerate(ports):
            web_config = tmp_path / f"web-{n}.toml"
            web_config.write_text(
                f'{CONFIG}\n[discord]\ninteractions = "http"\napi_base = "{discord.api_base}"\n'
                f'public_key = "{discord.public_key}"\nhost = "127.0.0.1"\nport = {port}\n'
            )
            web_env = {**env, "RANKBOT_CONFIG": str(web_config), "DISCORD_BOT_TOKEN": TOKEN}
            webs.append(Process("web", web_env, logs, n))
        started = len(pollers) + len(workers) + len(webs)
        answered = 0
        rng = random.Random(16)
        in_flight_at_kills = 0
        kills = 0
        handover: float | None = None
        try:
            await wait_for(lambda: any(p.says("poll: TickReport") for p in pollers), 60, "a lead")
            leader = next(p for p in pollers if p.says("this poller leads"))
            standby = next(p for p in pollers if p is not leader)
            planned = sum((await store.outbox.counts()).values())  # one query: no race
            events = len(await store.history.events())
            snapshots = await store.history.snapshot_count()
            assert planned > POSTS and events > 0  # the leader planned the demo's alerts

            leader.kill()
            handover = await wait_for(
                lambda: standby.says("this poller leads"), 30, "the standby taking the lead"
            )
            await wait_for(lambda: standby.says("poll: TickReport"), 30, "the new leader's tick")
            pollers.append(Process("poller", env, logs, 2))  # the killed one comes back
            started += 1

            running = "rankbot web running"
            await wait_for(lambda: all(w.says(running) for w in webs), 60, "the web processes")
            for port in ports:  # both web processes answer from the database
                answered += await web_answers(discord, port)

            last_kill = time.monotonic() - KILL_EVERY_SECONDS  # the first kill at once
            while await store.outbox.count(state="pending"):
                if time.monotonic() - last_kill >= KILL_EVERY_SECONDS:
                    victim = rng.randrange(len(workers))
                    workers[victim].kill()
                    in_flight_at_kills += await store_in_flight(store, workers[victim].name)
                    kills += 1
                    workers[victim] = Process("worker", env, logs, started)
                    started += 1
                    last_kill = time.monotonic()
                    answered += await web_answers(discord, ports[kills % 2])
                await asyncio.sleep(0.2)
                assert time.monotonic() - last_kill < 120, "delivery stalled"

            # the new leader read the whole history again: nothing stored, logged or planned twice
            assert await store.history.snapshot_count() == snapshots
            assert len(await store.history.events()) == events
            total = await store.outbox.count(state="sent")
            assert total == planned and await store.outbox.count(state="failed") == 0
            asked = len(ports) + kills
        finally:
            for process in [*pollers, *workers, *webs]:
                process.stop()

    counts = fake.counts()
    duplicates = sum(n - 1 for n in counts.values())
    print(
        f"\n{total} posts delivered by {WORKERS} workers, {kills} worker kills; "
        f"{duplicates} duplicate(s), {in_flight_at_kills} post(s) in flight at the kills; "
        f"poller handover in {handover:.1f} s; {answered} of {asked} interactions answered by "
        "the 2 web processes"
    )
    assert answered == asked
    assert len(counts) == total  # every post arrived: none lost
    assert kills >= 2 and duplicates <= in_flight_at_kills
    for ch in channels:  # each channel in enqueue order (first arrivals)
        firsts = list(dict.fromkeys(t for t in fake.arrivals[ch.channel] if t.startswith("p")))
        assert firsts == sorted(firsts), ch
    assert handover is not None and handover <= 30


async def store_in_flight(store: PgStore, worker: str) -> int:
    """Posts `worker` had leased and not recorded when it was killed."""
    return await store.leases.in_flight(worker)
