"""`[ops]` in the processes of a split deployment: a poller or a worker answers `/healthz`
like `--role all` does, so a supervisor or an orchestrator can watch every process, and its
`/metrics` counts its own work (on a real PostgreSQL; skipped, saying why, when none can be
started)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.postgres import PostgresServer, free_port
from tests.store.postgres.database import empty_database, process_env


@pytest.mark.parametrize("role", ["poller", "worker"])
def test_a_poller_and_a_worker_answer_healthz(
    postgres_server: PostgresServer, tmp_path: Path, role: str
) -> None:
    url = empty_database(postgres_server, f"ops_{role}")
    port = free_port()
    config = tmp_path / "rankbot.toml"
    config.write_text(f'[ops]\nlisten = "127.0.0.1:{port}"\n')
    args = [sys.executable, "-m", "bot", "run", "--role", role]
    if role == "poller":
        args += [
            "--history",
            str(Path(__file__).resolve().parents[2] / "bot/data/demo-history.jsonl"),
        ]
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            args, env=process_env(url, config, [], ""), stderr=err, stdout=subprocess.DEVNULL
        )
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, log.read_text()
        # a poller counts its polls; a worker has its platforms' delivery series
        wanted = (
            'rankbot_polls_total{source="replay"} 1.0'
            if role == "poller"
            else 'rankbot_posts_sent_total{platform="webhook"} 0.0'
        )
        metrics = ""
        while time.monotonic() < deadline and wanted not in metrics:
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            time.sleep(0.2)
        assert wanted in metrics, metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
