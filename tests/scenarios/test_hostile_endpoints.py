"""`rankbot run` as a real process against hostile endpoints (issue 13's "done when").

One loopback webhook sink (tests/fakes/webhook_sink.py) serves every channel: three answer
429 with Retry-After 1e400, 1e20 and 1e9, eighteen never answer, one streams a 300 MB body,
a `slack-webhook` channel gets a model named like a mass mention, every URL carries a
recognisable secret, and three channels are healthy. rankbot must stay up, the healthy
channels must get their alert, its memory must stay small, nothing it prints may show a
traceback, a URL or the secret, and the Slack payload must hold no live mention. Then
SIGTERM: the hanging sends are cut off after `drain_seconds`, the store is written, and the
process exits 0 saying so in one line.

The figures (delivery times, peak RSS) are printed (`pytest -s`); the test asserts only what
no machine's load can excuse: the healthy channels are not held up by the hanging sends, and
the memory stays far below the 1 GB rankbot once read.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.history_format import write_history
from bot.core.messages import ChannelRef
from bot.core.model import Snapshot
from tests.fakes.webhook_sink import WebhookSink
from tests.helpers import read_store

ROOT = Path(__file__).resolve().parents[2]
SECRET = "xoxb-123456789012-987654321098-Zq8SeCrEtToKeN4ev1L"
HOSTILE = "<!channel> @everyone <@U123> <http://evil|click>"
LIVE = ("<!channel>", "<!everyone>", "<!here>", "<@U123>", "<http://evil|click>")
HEALTHY = ("healthy-1", "healthy-2", "healthy-3")
RETRY_AFTER = {"ra-1e400": "1e400", "ra-1e20": "1e20", "ra-1e9": "1000000000"}
HANGING = tuple(f"hang-{i:02d}" for i in range(18))
HUGE_MB = 300


def week(as_of: str, evil_tokens: int) -> Snapshot:
    entries = [
        {"model": "openai/gpt-5", "name": "GPT-5", "tokens": 1000},
        {"model": "evil/model", "name": HOSTILE, "tokens": evil_tokens},
    ]
    attribution = f"Source: OpenRouter (openrouter.ai/rankings), as of {as_of}."
    return Snapshot.create(
        source="openrouter", period="week", as_of=as_of, entries=entries, attribution=attribution
    )


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    server = WebhookSink().start()
    yield server
    server.close()


def channel(name: str, platform: str, variable: str) -> str:
    return (
        f'[[channels]]\nname = "{name}"\nplatform = "{platform}"\nurl_env = "{variable}"\n'
        'kinds = ["new_leader"]\ncharts = false\n\n'
    )


def setup(tmp_path: Path, sink: WebhookSink) -> tuple[list[str], dict[str, str]]:
    history = tmp_path / "history.jsonl"
    with history.open("w") as out:
        write_history([week("2026-02-09", 10), week("2026-02-16", 5000)], out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    config = '[store]\npath = "bot.db.json"\n\n[delivery]\ndrain_seconds = 2\n\n'

    def add(name: str, platform: str, path: str) -> None:
        nonlocal config
        variable = f"HOOK_{name.upper().replace('-', '_')}"  # no "secret" name: the URL must
        env[variable] = sink.url(f"{path}/{SECRET}/{name}?token={SECRET}")  # be masked as a URL
        config += channel(name, platform, variable)

    for name in HEALTHY:
        add(name, "webhook", "ok/-")
    add("slack-hostile", "slack-webhook", "ok/-")
    for name, value in RETRY_AFTER.items():
        add(name, "webhook", f"retry-after/{value}")
    for name in HANGING:
        add(name, "webhook", "hang/-")
    add("huge", "webhook", f"huge/{HUGE_MB}")
    (tmp_path / "rankbot.toml").write_text(config)
    argv = [
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(tmp_path / "rankbot.toml"),
        "--history",
        str(history),
        "--log-level",
        "debug",
    ]
    return argv, env


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the RSS")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_rankbot_run_survives_hostile_endpoints(
    tmp_path: Path, sink: WebhookSink, log_format: str
) -> None:
    argv, env = setup(tmp_path, sink)
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(
            [*argv, "--log-format", log_format], cwd=tmp_path, env=env, stdout=out, stderr=err
        )
        try:
            healthy = wait_for(lambda: all(len(sink.payloads(n)) >= 2 for n in HEALTHY), 60)
            arrived = {n: sink.arrivals(n)[-1] - started for n in HEALTHY if sink.arrivals(n)}
            # every hostile endpoint has been tried; a few more seconds of hanging and retrying
            tried = (*RETRY_AFTER, *HANGING, "huge")
            wait_for(lambda: all(sink.hits[n] for n in tried), 30)
            time.sleep(3)
            alive = child.poll() is None
            rss = peak_rss_mb(child.pid) if alive else float("nan")
            child.send_signal(signal.SIGTERM)
            code = child.wait(30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    output = out_path.read_text(errors="replace") + err_path.read_text(errors="replace")
    print(
        f"\n[{log_format}] healthy alert after (s, from process start): "
        + ", ".join(f"{n} {t:.2f}" for n, t in sorted(arrived.items()))
        + f"; peak RSS {rss:.0f} MB; huge body sent before rankbot hung up: "
        f"{sink.huge_bytes_sent / 2**20:.0f} MB of {HUGE_MB}"
    )

    assert healthy, f"healthy channels did not get their alert:\n{output[-3000:]}"
    assert alive, f"rankbot died:\n{output[-3000:]}"
    # not held up by the hanging sends (they time out after send_timeout, 30 s); the issue's
    # 10 s is a figure to read in the output above, not a timed assertion on a shared machine
    assert max(arrived.values()) < 30, arrived
    assert rss < 400
    assert code == 0, output[-3000:]

    # nothing leaked, nothing crashed
    assert "Traceback" not in output
    assert SECRET not in output and "xoxb-1" not in output
    for path in ("/ok/", "/hang/", "/huge/", "/retry-after/", f":{sink.port}"):
        assert path not in output
    assert "RuntimeError" not in output and "OverflowError" not in output
    lines = output.splitlines()
    if log_format == "json":
        assert all(json.loads(line) for line in lines)  # every line is a JSON record
    stopped = [line for line in lines if "rankbot stopped" in line]
    assert len(stopped) == 1 and "cut off" in stopped[0]

    # the Slack webhook got blocks with every mention escaped
    (_, alert) = sink.payloads("slack-hostile")[:2]
    payload = json.dumps(alert)
    assert alert["blocks"] and "&lt;!channel&gt;" in payload
    assert not any(live in payload for live in LIVE)

    # the posts that got a Retry-After wait at most an hour; the hanging ones stay pending
    def pending(store):  # type: ignore[no-untyped-def]
        return store.outbox.items(state="pending")

    items = read_store(tmp_path / "bot.db.json", pending)
    by_channel = {}
    for item in items:  # each channel's head: its confirmation, the post that was tried
        by_channel.setdefault(item.channel.channel, item)
    for name in RETRY_AFTER:
        item = by_channel[name]
        assert item.not_before is not None
        assert (item.not_before - item.enqueued_at).total_seconds() <= 3600 + 60
        assert item.attempts >= 1 and item.last_error == "rate limited (HTTP 429)"
    assert all(by_channel[n].channel == ChannelRef("webhook", "config", n) for n in HANGING)
    assert not any(n in by_channel for n in HEALTHY)
