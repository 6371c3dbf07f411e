"""Exactly once through crashes: SIGKILL a process delivering one alert to 200 channels.

A child process enqueues the alert for 200 channels (again at every start: the outbox refuses
keys it has seen) and delivers it through a fake sender that appends one fsynced line per
post to a file: what the "platform" received. The parent kills the child at random moments,
then restarts it until it finishes. After each kill it counts the posts that reached the
platform but were not yet recorded as sent: those were in flight, and are the only ones the
next start may send again. At the end every channel must hold the alert, and the extra
copies must be exactly those in-flight sends.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.helpers import read_store

CHANNELS = 200

CHILD = """
import asyncio, os, random, sys
from datetime import UTC, datetime
from bot.core.messages import ChannelRef, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.workers import Delivery
from bot.delivery.settings import DeliverySettings
from bot.core.planning import Planned
from bot.delivery.rate_limits import Limit, PlatformLimits
from bot.store.tinydb import TinyStore

db, received, seed, channels = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)


class RecordingSender:
    def __init__(self):
        self.fd = os.open(received, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def send(self, channel, message, *, idempotency_key):
        await asyncio.sleep(rng.random() * 0.03)  # the request on its way
        os.write(self.fd, (idempotency_key + "\\n").encode())
        os.fsync(self.fd)
        await asyncio.sleep(rng.random() * 0.01)  # the answer on its way back
        return SendResult(SendStatus.SENT)


async def main():
    async with TinyStore.open(db) as store:
        outbox = store.outbox
        now = datetime.now(UTC)
        message = Message(notice="MiniMax M2.5 is the new #1")
        posts = [
            Planned(
                ChannelRef("webhook", "crash", f"c{i:03d}"),
                message,
                f"new_leader:2026-02-16|c{i:03d}",
            )
            for i in range(channels)
        ]
        fresh = await outbox.enqueue(posts, now=now)
        print("enqueued", fresh, flush=True)
        # 5 posts per 1/8 s: the 200 posts take 5 s of steady sending, time to be killed
        settings = DeliverySettings(limits={"webhook": PlatformLimits(platform=Limit(5, 0.125))})
        delivery = Delivery(outbox, {"webhook": RecordingSender()}, settings)
        await delivery.run_until_idle()
        print("done", flush=True)


asyncio.run(main())
"""


def received_counts(path: Path) -> Counter[str]:
    if not path.exists():
        return Counter()
    lines = path.read_text().splitlines()
    return Counter(line for line in lines if line.startswith("new_leader:"))


def outbox_status(db: Path) -> dict[str, str]:
    items = read_store(db, lambda store: store.outbox.items())
    return {item.key: item.state for item in items}


def test_sigkill_at_random_moments_never_loses_or_doubles_a_recorded_post(
    tmp_path: Path,
) -> None:
    db, received = tmp_path / "db.json", tmp_path / "received.log"
    rng = random.Random(20260216)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    in_flight_at_kills: list[int] = []
    enqueued: list[int] = []
    for round_ in range(16):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(received), str(round_), str(CHANNELS)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        first = child.stdout.readline().split()
        assert first[0] == "enqueued", first
        enqueued.append(int(first[1]))
        if round_ < 12:  # kill during delivery; the last rounds run to the end
            time.sleep(rng.uniform(0.1, 0.6))
            child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
        if "done" in out:
            break
        status = outbox_status(db)
        counts = received_counts(received)
        unrecorded = [key for key in counts if status[key] == "pending"]
        in_flight_at_kills.append(len(unrecorded))
    else:
        raise AssertionError("delivery never finished")

    counts = received_counts(received)
    status = outbox_status(db)
    assert enqueued[0] == CHANNELS and set(enqueued[1:]) <= {0}  # the restarts added nothing
    assert len(counts) == CHANNELS, "a channel never got the alert"
    assert set(status.values()) == {"sent"}
    duplicates = sum(counts.values()) - CHANNELS
    kills = len(in_flight_at_kills)
    assert kills >= 4, f"only {kills} kills landed during delivery: the test proved little"
    # Every extra copy was a send in flight at a kill (reached the platform, not yet
    # recorded); nothing recorded as sent was ever sent again.
    assert duplicates == sum(in_flight_at_kills)
    print(
        f"\n{kills} kills during delivery; sends in flight at each kill: {in_flight_at_kills}; "
        f"duplicates: {duplicates} of {sum(counts.values())} posts to {CHANNELS} channels"
    )
