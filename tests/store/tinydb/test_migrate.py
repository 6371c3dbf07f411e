"""A schema 2 database (one TinyDB file, written by rankbot before the journal) is upgraded on
first open: a backup is kept, nothing is lost, posts keep their place in the outbox.

`tests/fixtures/store/schema2.db.json` was written by the schema 2 rankbot itself: two weekly
snapshots and their event, four subscriptions (one holding alerts in quiet hours), an outbox
with a sent post, a pending post with a chart, a failed one and a retry, a raw OpenRouter day
and a Slack install.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bot.core.messages import ChannelRef
from bot.store.tinydb import TinyStore

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "store" / "schema2.db.json"
NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


def copy(tmp_path: Path) -> Path:
    path = tmp_path / "rankbot.db.json"
    shutil.copyfile(FIXTURE, path)
    return path


async def test_an_old_database_is_upgraded_with_a_backup(tmp_path: Path) -> None:
    path = copy(tmp_path)
    old = json.loads(FIXTURE.read_text())
    async with TinyStore.open(path) as store:
        assert store.schema_version == 4
    backup = tmp_path / "rankbot.db.json.schema2.bak"
    assert backup.read_bytes() == FIXTURE.read_bytes()
    meta = json.loads(path.read_text())["meta"]["1"]
    assert (meta["schema"], meta["migrated_from"]) == (4, 2)
    async with TinyStore.open(path) as store:  # and again: already upgraded, nothing to do
        history = store.history
        assert await history.snapshot_count() == len(old["snapshots"])
        logged = [e.key for e in await history.events()]
        assert logged[: len(old["events"])] == [d["key"] for d in old["events"].values()]
        assert await history.detector_state("openrouter", "week") is not None
        assert await store.subscriptions.count() == 4
        days = await store.days.load("openrouter")
        assert days["2026-02-15"]["rows"] == {"google/g": "5", "openai/o": "3", "other": "9"}
        found = await store.slack.find("bot", None, "T1")
        assert found is not None and found["bot_token"] == "xoxb-test"


async def test_posts_keep_their_state_their_body_and_their_order(tmp_path: Path) -> None:
    path = copy(tmp_path)
    old = {d["key"]: d for d in json.loads(FIXTURE.read_text())["outbox"].values()}
    async with TinyStore.open(path) as store:
        outbox = store.outbox
        states = {key: await outbox.state_of(key) for key in old}
        assert states == {key: doc["status"] for key, doc in old.items()}
        pending = await outbox.pending(ChannelRef("slack", "T1", "C-pending"))
        assert [i.key for i in pending] == ["post:b", "notice:b"]
        first, second = pending
        message = old["post:b"]["message"]
        assert [e.key for e in first.message.events] == [e["key"] for e in message["events"]]
        assert first.message.title == "Weekly"
        assert [a.content for a in first.message.attachments] == [b"\x89PNG old chart"]
        assert (second.attempts, second.last_error, second.message.notice) == (
            1,
            "HTTP 500",
            "later",
        )
        failed = await outbox.item("post:c")
        assert failed is not None and (failed.failure, failed.last_error) == (
            "access",
            "channel_not_found",
        )
        sent = await outbox.item("post:a")
        assert sent is not None and sent.finished_at is not None


async def test_held_alerts_refer_to_logged_events(tmp_path: Path) -> None:
    path = copy(tmp_path)
    old = [d["event"] for d in json.loads(FIXTURE.read_text())["held"].values()]
    async with TinyStore.open(path) as store:
        held = await store.held.of(ChannelRef("discord", "G1", "quiet"))
        assert [h.event.to_dict() for h in held] == old
        logged = {e.key for e in await store.history.events()}
        assert {h.event.key for h in held} <= logged


async def test_a_read_only_open_upgrades_in_memory_and_writes_nothing(tmp_path: Path) -> None:
    path = copy(tmp_path)
    async with TinyStore.open(path, readonly=True) as store:
        assert await store.outbox.state_of("post:a") == "sent"
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert not (tmp_path / "rankbot.db.json.schema2.bak").exists()
