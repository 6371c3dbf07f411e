"""The `[ops]` listener on its own: `[ops] listen` parsing, `/healthz` answered from outside a
stuck event loop, readiness reasons, and the admin channel's refusals."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot import app
from bot.errors import ConfigError
from bot.ops.health import Health
from bot.ops.service import Ops, serve
from bot.ops.settings import OpsSettings, parse_listen


def test_listen_accepts_host_and_port_and_names_the_key_when_wrong() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen(":9464") == ("0.0.0.0", 9464)
    assert parse_listen("localhost:1") == ("127.0.0.1", 1)
    assert OpsSettings(("0.0.0.0", 9464)).url == "http://127.0.0.1:9464"
    for bad in ("9464", "127.0.0.1:http", "127.0.0.1:70000", "example.org:9464"):
        with pytest.raises(ConfigError, match=r"^\[ops\] listen: "):
            parse_listen(bad)
    with pytest.raises(ConfigError, match=r"\[ops\] heartbeat_stale_seconds"):
        app.config_from_mapping({"ops": {"heartbeat_stale_seconds": 0}}, base=Path())


def test_health_goes_stale_and_readiness_says_why() -> None:
    now = [100.0]
    health = Health(stale_after=30, clock=lambda: now[0])
    assert not health.live() and "event_loop" in health.readiness().reasons
    health.beat()
    health.expect("discord")

    async def publish() -> None:
        await health.publish()

    asyncio.run(publish())
    assert health.live()
    assert health.readiness().reasons == {"discord": "not started yet"}

    async def connected() -> str | None:
        return None

    health.add_check("discord", connected)
    asyncio.run(publish())
    assert health.readiness().ready
    now[0] += 31
    assert not health.live()
    assert "stalled for 31 s" in health.readiness().reasons["event_loop"]


class LoopThread:
    """An event loop in a thread of its own, running the listener like a bot would."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[LoopThread, Ops, str]]:
    runner = LoopThread()
    settings = OpsSettings(("127.0.0.1", 0), heartbeat_stale_seconds=1.0)
    started: asyncio.Future[Ops] = runner.loop.create_future()
    stop = asyncio.Event()

    async def main() -> None:
        async with (
            app.open_database(tmp_path / "db.json") as store,
            serve(settings, store, lambda: datetime.now(UTC)) as ops,
        ):
            started.set_result(ops)
            await stop.wait()

    done = asyncio.run_coroutine_threadsafe(main(), runner.loop)
    ready = asyncio.run_coroutine_threadsafe(_wait(started), runner.loop).result(10)
    try:
        yield runner, ready, f"http://127.0.0.1:{ready.port}"
    finally:
        runner.loop.call_soon_threadsafe(stop.set)
        done.result(10)
        runner.close()


async def _wait(future: asyncio.Future[Ops]) -> Ops:
    return await future


def test_healthz_says_503_while_the_loop_is_stuck_and_200_again_after(
    listener: tuple[LoopThread, Ops, str],
) -> None:
    runner, _, base = listener
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").json() == {"ready": True, "reasons": {}}

    blocked = threading.Event()

    def block() -> None:
        blocked.set()
        time.sleep(2.5)  # the loop is stuck in a blocking call

    runner.loop.call_soon_threadsafe(block)
    blocked.wait(5)
    time.sleep(1.5)
    stuck = httpx.get(f"{base}/healthz", timeout=5)  # answered by the listener's thread
    assert stuck.status_code == 503 and stuck.json()["status"] == "stalled"
    not_ready = httpx.get(f"{base}/readyz", timeout=5)
    assert not_ready.status_code == 503 and "event_loop" in not_ready.json()["reasons"]
    deadline = time.monotonic() + 10
    while httpx.get(f"{base}/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the heartbeat never came back"
        time.sleep(0.1)
    metrics = httpx.get(f"{base}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    lag = next(
        line for line in metrics.text.splitlines() if line.startswith("rankbot_event_loop_lag")
    )
    assert float(lag.split()[-1]) >= 0.0
    assert "rankbot_outbox_pending 0.0" in metrics.text


def test_admin_requests_need_the_header_and_json(listener: tuple[LoopThread, Ops, str]) -> None:
    _, _, base = listener
    plain = httpx.post(f"{base}/admin/status", content=b"{}")
    assert plain.status_code == 403 and "X-Rankbot-Admin" in plain.json()["error"]
    form = httpx.post(f"{base}/admin/status", content=b"a=1", headers={"X-Rankbot-Admin": "1"})
    assert form.status_code == 403 and "JSON" in form.json()["error"]
    assert httpx.get(f"{base}/admin/status").status_code == 404
    # this listener was started without admin operations
    ok = httpx.post(f"{base}/admin/status", json={}, headers={"X-Rankbot-Admin": "1"})
    assert ok.status_code == 404


def test_a_refused_bot_token_makes_the_bot_not_ready(tmp_path: Path) -> None:
    from bot.sources.replay import ReplaySource

    now = datetime(2026, 3, 2, 12, tzinfo=UTC)

    async def main() -> None:
        config = app.config_from_mapping({}, base=tmp_path)
        async with app.open_database(tmp_path / "db.json") as store:
            bot = await app.build_bot(config, store, ReplaySource([]), {})
            async with app.ops_listener(config, bot) as ops:
                assert (await ops.health.publish()).ready
                bot.delivery.tokens.hold(("discord", ""), "HTTP 401", now)
                readiness = await ops.health.publish()
                assert not readiness.ready
                assert readiness.reasons == {
                    "tokens": "the Discord bot token was refused (HTTP 401)"
                }
                assert app.tokens_held(bot) == [("discord", "the Discord bot token", "HTTP 401")]
                bot.delivery.tokens.release(("discord", ""))
                assert (await ops.health.publish()).ready

    asyncio.run(main())
