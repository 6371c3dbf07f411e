"""`rankbot run` as a service: the `[ops]` listener of a real bot process, and the admin
command line acting on it while it runs.

One bot, started as `python -m bot run` with `[ops] listen` on a free loopback port, a
Discord fake that holds back READY, and a webhook channel whose endpoint first answers 404:

- `/healthz` answers 200 while the loop beats; `/readyz` 503 (with the reason: Discord is
  not connected) until the fake sends READY, then 200;
- the webhook's first post fails, the channel is paused, `rankbot status --json` shows it;
- `rankbot channels resume ops` un-pauses it in the running bot: its waiting alert goes out
  within 5 s, without a restart, and `/metrics` shows the sent counter move;
- every log line of the bot (`--log-format json`) parses as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.core.history_format import write_history
from tests.engine.test_poller import weeks
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.threaded import threaded
from tests.fakes.webhook_fake import WebhookFake

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
RUN = (sys.executable, "-m", "bot", "run")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    secret = ("RANKBOT_", "SLACK_", "DISCORD_", "OPENROUTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(secret)}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Ask `probe` until it returns something (polling, bounded: fails the test after
    `timeout` seconds, saying what did not happen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


def metric(base: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.fixture
def service(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with threaded(FakeDiscord()) as discord, threaded(WebhookFake(status=404)) as hook:
        discord.hold_ready()
        history = tmp_path / "history.jsonl"
        with history.open("w") as out:
            write_history(weeks(), out)
        port = free_port()
        config = tmp_path / "rankbot.toml"
        config.write_text(
            f'[store]\npath = "{tmp_path / "bot.db.json"}"\n\n'
            f'[ops]\nlisten = "127.0.0.1:{port}"\n\n'
            f'[discord]\napi_base = "{discord.api_base}"\n'
            f'gateway_url = "{discord.gateway_url}"\n\n'
            '[[channels]]\nname = "ops"\nplatform = "webhook"\nurl_env = "OPS_HOOK"\n'
            'kinds = ["new_leader"]\n'
        )
        env = clean_env(DISCORD_BOT_TOKEN="discord-test-token", OPS_HOOK=hook.url)
        log = (tmp_path / "bot.log").open("w")
        proc = subprocess.Popen(
            [*RUN, "--config", str(config), "--history", str(history), "--log-format", "json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            yield {
                "base": f"http://127.0.0.1:{port}",
                "config": config,
                "env": env,
                "discord": discord,
                "hook": hook,
                "proc": proc,
                "log": tmp_path / "bot.log",
            }
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            log.close()


def rankbot(env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_running_bot_reports_health_readiness_metrics_and_takes_a_resume(
    service: dict[str, Any],
) -> None:
    base, hook, discord = service["base"], service["hook"], service["discord"]
    config, env = str(service["config"]), service["env"]

    health = wait_for(lambda: get(f"{base}/healthz"), 90, "/healthz answers")
    assert health.status_code == 200 and health.json()["status"] == "ok"

    def not_ready_for_discord() -> httpx.Response | None:
        answer = get(f"{base}/readyz")
        reason = answer.json()["reasons"].get("discord", "") if answer is not None else ""
        return answer if "not connected" in reason else None

    # logged in, gateway open, READY held back by the fake: not ready, and why
    ready = wait_for(not_ready_for_discord, 30, "/readyz says Discord is not connected")
    assert ready.status_code == 503
    assert ready.json()["ready"] is False

    # the webhook answered 404: the first post failed and the channel is paused
    wait_for(lambda: hook.posts or None, 60, "the webhook is tried")
    assert hook.delivered() == []

    def paused_status() -> dict[str, Any] | None:
        code, out = rankbot(env, "status", "--json", "--config", config)
        assert code == 0, out
        doc: dict[str, Any] = json.loads(out)
        return doc if doc["paused"] else None

    before = wait_for(paused_status, 30, "status shows the paused channel")
    assert before["bot"]["running"] is True
    assert before["paused"][0]["channel"] == "webhook:config:ops"
    assert "404" in before["paused"][0]["reason"]
    assert before["outbox"]["failed"] == 1 and before["outbox"]["pending"] >= 1
    assert metric(base, "rankbot_posts_failed_total", platform="webhook") == 1
    assert metric(base, "rankbot_posts_sent_total", platform="webhook") == 0
    # the store-backed gauges are sampled every few seconds
    wait_for(lambda: metric(base, "rankbot_channels_paused") == 1 or None, 25, "paused gauge")
    assert metric(base, "rankbot_outbox_failed") == 1

    discord.release_ready()
    wait_for(
        lambda: ((r := get(f"{base}/readyz")) is not None and r.status_code == 200) or None,
        30,
        "/readyz answers 200 once Discord said READY",
    )

    hook.status = 200
    code, out = rankbot(env, "channels", "resume", "ops", "--config", config)
    assert code == 0, out
    assert "resumed (was paused)" in out and "go out now" in out
    resumed_at = time.monotonic()
    # the confirmation that failed and the alert that waited behind it, in order
    wait_for(lambda: len(hook.delivered()) >= 2 or None, 5, "the waiting alerts go out")
    assert time.monotonic() - resumed_at < 5
    texts = [p["text"] for p in hook.delivered()]
    assert texts[0].startswith("Subscribed") and "New #1" in texts[1]

    wait_for(
        lambda: metric(base, "rankbot_posts_sent_total", platform="webhook") >= 2 or None,
        10,
        "the sent counter moves",
    )
    assert metric(base, "rankbot_delivery_latency_seconds_count", platform="webhook") >= 2
    assert metric(base, "rankbot_polls_total", source="replay") >= 1
    assert metric(base, "rankbot_events_total", kind="new_leader") >= 1

    code, out = rankbot(env, "status", "--json", "--config", config)
    after = json.loads(out)
    assert after["paused"] == [] and after["outbox"]["pending"] == 0
    assert after["bot"]["ready"] is True
    assert after["platforms"] == [
        {"platform": "discord", "connected": True, "problem": None, "tokens_held": {}}
    ]

    service["proc"].send_signal(signal.SIGINT)
    service["proc"].wait(30)
    lines = service["log"].read_text().splitlines()
    assert lines, "the bot logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"level", "message"} <= set(record) for record in records)
    paused = [r for r in records if "deliveries are paused" in r["message"]]
    assert paused and paused[0]["channel"] == "webhook:config:ops"  # structured context
    assert paused[0]["platform"] == "webhook" and paused[0]["level"] == "warning"
    assert hook.url not in service["log"].read_text()  # the webhook URL is a secret
