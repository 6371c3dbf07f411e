"""A writer killed (SIGKILL) at random moments never leaves a database that does not load, and
never loses a snapshot it reported stored."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import read_store

WRITER = r"""
import asyncio, sys
from bot.core.countries import shipped_table
from bot.core.events import DetectParams
from bot.engine.ingest import ingest
from bot.store.tinydb import TinyStore
from bot.core.model import Snapshot
path, start = sys.argv[1], int(sys.argv[2])

async def main():
    async with TinyStore.open(path) as store:
        for i in range(start, start + 100000):
            entries = [{"model": f"openai/m{j}", "tokens": (i * 7 + j * 13) % 1000 + 1}
                       for j in range(40)]
            s = Snapshot.create(source="openrouter", period="day", as_of=f"{2000 + i:04d}-01-01",
                                entries=entries)
            await ingest(store, s, params=DetectParams(), countries=shipped_table())
            print(s.as_of.isoformat(), flush=True)

asyncio.run(main())
"""


def test_killing_a_writer_at_random_moments_never_breaks_the_file(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    rng = random.Random(20260216)
    done: list[str] = []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for round_ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(round_ * 1000)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(0.4 + rng.random() * 0.6)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        done += out.split()
        # loads, whatever the moment of the kill
        stream = read_store(path, lambda store: store.history.snapshots("openrouter", "day"))
        stored = {s.as_of.isoformat() for s in stream}
        missing = [d for d in done if d not in stored]
        assert not missing, f"round {round_}: completed snapshots lost: {missing[:5]}"
    assert len(done) > 8, "the writer never completed a snapshot: the test proved nothing"
    print(f"{len(done)} snapshots completed across 8 kills, all present after each")
