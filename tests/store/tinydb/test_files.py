"""The TinyDB backend's files: the lock, the base and its journal, schema versions, damage."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.planning import Planned
from bot.errors import StoreBusy, StoreCorrupt, StoreReadOnly
from bot.store.tinydb import TinyStore
from bot.store.tinydb.files import journal_path
from bot.store.tinydb.journal import JournalGap
from tests.helpers import snap

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)


async def test_a_second_writer_gets_a_clear_error_and_readers_never_block(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("k", 1)
        with pytest.raises(StoreBusy, match=r"in use by another rankbot process \(pid \d+\)"):
            TinyStore.open(path)
        async with TinyStore.open(path, readonly=True) as reader:  # sees the journal too
            assert await reader.state.get("k") == 1
            with pytest.raises(StoreReadOnly):
                await reader.state.set("k", 2)
    async with TinyStore.open(path):  # released on close
        pass


async def test_writes_append_what_changed_not_the_database(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        for day in range(1, 29):
            entries = {f"openai/m{i}": 1000 * (i + day) for i in range(50)}
            await store.history.add_snapshot(snap(f"2026-02-{day:02d}", entries, period="day"))
        base = path.stat().st_size
        journal = journal_path(path).stat().st_size
        await store.state.set("health:openrouter", {"consecutive_failures": 1})
        grew = journal_path(path).stat().st_size - journal
    assert path.stat().st_size == base  # the base is not rewritten per commit
    assert 0 < grew < 200, f"one small value appended {grew} bytes"
    assert journal > 28 * 2000  # the snapshots themselves are in the journal


async def test_a_commit_cut_short_is_discarded_and_the_torn_tail_cut(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("a", 1)
        await store.state.set("b", 2)
    journal = journal_path(path)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[-1]) == {"c": 2}
    # a kill in the middle of commit 2: its entry written, no marker, half of a next line
    journal.write_bytes(b"".join(lines[:-1]) + b'{"t":"state","i":9,"d":{"ke')
    async with TinyStore.open(path) as store:
        assert await store.state.get("a") == 1 and await store.state.get("b") is None
        await store.state.set("c", 3)  # appended after the cut, not after the garbage
    async with TinyStore.open(path) as store:
        assert (await store.state.get("a"), await store.state.get("c")) == (1, 3)


async def test_a_damaged_journal_line_is_reported_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("a", 1)
        await store.state.set("b", 2)
    journal = journal_path(path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"garbage\n" + b"".join(lines))
    with pytest.raises(StoreCorrupt, match="line 1 is not valid JSON"):
        TinyStore.open(path)


async def test_compaction_rewrites_the_base_and_empties_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        for i in range(20):
            await store.state.set("counter", i)
        before = path.stat().st_size + journal_path(path).stat().st_size
        done = await store.compact()
        assert done.before == before and done.after < before
        assert journal_path(path).stat().st_size == 0
        assert json.loads(path.read_bytes())["meta"]["1"]["seq"] == 20
        await store.state.set("after", True)
    async with TinyStore.open(path) as store:
        assert await store.state.get("counter") == 19 and await store.state.get("after")


async def test_entries_already_in_the_base_are_skipped(tmp_path: Path) -> None:
    """A kill between writing the new base and emptying the journal."""
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("x", 1)
        await store.state.set("x", 2)
    journal = journal_path(path).read_bytes()
    async with TinyStore.open(path) as store:
        await store.compact()
    journal_path(path).write_bytes(journal)  # the old journal is back
    async with TinyStore.open(path) as store:
        assert await store.state.get("x") == 2
        await store.state.set("x", 3)
    async with TinyStore.open(path) as store:
        assert await store.state.get("x") == 3


async def test_a_journal_that_does_not_continue_the_base_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("x", 1)
    journal_path(path).write_bytes(b'{"t":"state","i":1,"d":{"key":"x","value":5}}\n{"c":7}\n')
    with pytest.raises(JournalGap):
        TinyStore.open(path)


def test_schema_versions(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    TinyStore.open(path).close_now()
    data = json.loads(path.read_text())
    assert data["meta"]["1"]["schema"] == 4  # where an older rankbot looks, and refuses
    data["meta"]["1"]["schema"] = 99
    path.write_text(json.dumps(data))
    refusal = "schema version 99; this rankbot reads versions 1, 2, 3, 4 (a newer rankbot wrote"
    with pytest.raises(StoreCorrupt, match=re.escape(refusal)):
        TinyStore.open(path)


async def test_a_schema_3_database_is_upgraded_with_its_journal(tmp_path: Path) -> None:
    """Schema 4's journal writes a fan-out as one line, which a schema 3 rankbot cannot read:
    the upgrade takes the schema 3 journal in and keeps the whole old database as the backup."""
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("in-base", 1)
        await store.compact()
        await store.state.set("in-journal", 2)  # schema 3 journals hold lines like this one
    data = json.loads(path.read_text())
    data["meta"]["1"]["schema"] = 3
    path.write_text(json.dumps(data))
    assert journal_path(path).stat().st_size > 0

    async with TinyStore.open(path) as store:
        assert store.schema_version == 4
        assert (await store.state.get("in-base"), await store.state.get("in-journal")) == (1, 2)
        await store.state.set("after", 3)
    async with TinyStore.open(path) as store:
        assert [await store.state.get(k) for k in ("in-base", "in-journal", "after")] == [1, 2, 3]
    backup = json.loads((tmp_path / "db.json.schema3.bak").read_text())
    assert backup["meta"]["1"]["schema"] == 3
    assert {d["key"] for d in backup["state"].values()} == {"in-base", "in-journal"}
    meta = json.loads(path.read_text())["meta"]["1"]
    assert (meta["schema"], meta["migrated_from"]) == (4, 3)


def fan_out(count: int, message: Message, prefix: str = "k") -> list[Planned]:
    return [
        Planned(ChannelRef("webhook", "config", f"c{i}"), message, f"{prefix}{i}")
        for i in range(count)
    ]


async def test_a_fan_out_is_one_journal_line_per_body_and_reads_back_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.compact()
        posts = fan_out(300, Message(notice="n")) + fan_out(5, Message(notice="other"), "o")
        assert await store.outbox.enqueue(posts, now=NOW) == 305
        before = store.documents()["outbox"]
    lines = [json.loads(line) for line in journal_path(path).read_text().splitlines()]
    outbox_lines = [line for line in lines if line.get("t") == "outbox"]
    assert [len(line["r"]) for line in outbox_lines] == [300, 5]
    assert outbox_lines[0]["f"] == ["key", "channel"]
    fields = ["key", "channel", "state", "enqueued_at", "body"]
    async with TinyStore.open(path) as store:
        assert store.documents()["outbox"] == before
        assert {tuple(d) for d in before.values()} == {tuple(fields)}
        assert all(list(d) == fields for d in store.documents()["outbox"].values())
        head = await store.outbox.head(ChannelRef("webhook", "config", "c7"))
        assert head is not None and (head.key, head.message.notice) == ("k7", "n")
        assert await store.outbox.count() == 305


async def test_a_rolled_back_fan_out_leaves_nothing_and_a_changed_post_is_read_back_changed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        with pytest.raises(RuntimeError, match="planned to fail"):
            async with store.transaction():
                await store.outbox.enqueue(fan_out(50, Message(notice="n")), now=NOW)
                assert await store.outbox.state_of("k3") == "pending"
                raise RuntimeError("planned to fail")
        assert await store.outbox.state_of("k3") is None
        assert await store.outbox.count() == 0 and store.documents()["outbox"] == {}
        async with store.transaction():  # the same keys again; one of them dropped at once
            assert await store.outbox.enqueue(fan_out(50, Message(notice="n")), now=NOW) == 50
            assert await store.outbox.drop(["k3"], NOW) == 1
    async with TinyStore.open(path) as store:
        assert await store.outbox.state_of("k3") == "dropped"
        assert await store.outbox.state_of("k4") == "pending"
        assert await store.outbox.count() == 49


def test_garbage_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    path.write_text("{not json")
    with pytest.raises(StoreCorrupt, match="not valid JSON"):
        TinyStore.open(path)
    assert path.read_text() == "{not json"
    journal_only = tmp_path / "other.json"
    journal_path(journal_only).write_text('{"c":1}\n')
    with pytest.raises(StoreCorrupt, match=r"its base .* does not"):
        TinyStore.open(journal_only)


async def test_a_full_disk_stops_writes_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from bot.errors import StoreIOError
    from bot.store.tinydb import journal as journal_module

    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("a", 1)

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(journal_module.os, "fsync", full)
        with pytest.raises(StoreIOError, match="disk is full"):
            await store.outbox.enqueue(
                [Planned(ChannelRef("webhook", "config", "x"), Message(notice="n"), "k")], now=NOW
            )
        monkeypatch.setattr(journal_module.os, "fsync", os.fsync)
        with pytest.raises(StoreIOError):  # memory and disk no longer agree: no more writes
            await store.state.set("b", 2)
        assert await store.outbox.head(ChannelRef("webhook", "config", "x")) is None


async def test_commits_are_encoded_and_written_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from bot.store.tinydb import journal as journal_module

    where: set[str] = set()
    encode = journal_module._encode

    def spying(value: object) -> str:
        where.add(threading.current_thread().name)
        return encode(value)

    async with TinyStore.open(tmp_path / "db.json") as store:  # (creating it: at start-up)
        monkeypatch.setattr(journal_module, "_encode", spying)
        posts = [
            Planned(ChannelRef("webhook", "config", f"c{i}"), Message(notice="n"), f"k{i}")
            for i in range(200)
        ]
        await store.outbox.enqueue(posts, now=NOW)
        await store.compact()
    assert where == {"rankbot-journal"}


# --- modes, symlinks, files that are not a database (issue 13) ---------------------------------


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_new_files_are_0600_and_a_rewrite_keeps_the_operators_mode(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    old_umask = os.umask(0o022)
    try:
        async with TinyStore.open(path) as store:
            await store.state.set("a", 1)
        assert {mode(p) for p in (path, journal_path(path), tmp_path / "db.json.lock")} == {0o600}
        os.chmod(path, 0o640)  # the operator's choice (a backup group may read it)
        async with TinyStore.open(path) as store:
            await store.state.set("b", 2)
            await store.compact()  # the base is rewritten: temporary file renamed over it
        assert mode(path) == 0o640
    finally:
        os.umask(old_umask)


async def test_every_name_of_one_database_shares_one_lock(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    alias = tmp_path / "alias.json"
    alias.symlink_to(path.name)
    async with TinyStore.open(path) as store:
        await store.state.set("a", 1)
        with pytest.raises(StoreBusy, match="in use by another rankbot process"):
            TinyStore.open(alias)
    async with TinyStore.open(alias) as store:  # the same data, the same journal
        assert await store.state.get("a") == 1
        await store.state.set("b", 2)
    assert not journal_path(alias).exists() and alias.is_symlink()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"meta": "\xe9t\xe9"}', "is not UTF-8 JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"outbox": [1, 2]}', "does not hold a rankbot database"),
        (b'{"outbox": {"1": 5}}', "does not hold a rankbot database"),
        (  # valid JSON of the current schema, a post without its fields
            b'{"meta": {"1": {"schema": 4, "seq": 0}}, "outbox": {"1": {"key": "k"}}}',
            "a record has the wrong shape",
        ),
        (  # an old schema: the upgrade must not be written for a file that does not load
            b'{"outbox": {"1": {"key": "k"}}}',
            "does not hold a rankbot database",
        ),
    ],
)
def test_a_file_that_is_not_a_database_is_refused_untouched(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "db.json"
    path.write_bytes(content)
    with pytest.raises(StoreCorrupt, match=message) as refused:
        TinyStore.open(path)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.json", "db.json.lock"]


async def test_a_full_disk_during_compaction_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from bot.errors import StoreIOError
    from bot.store.tinydb import files

    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("a", 1)
    before = path.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(StoreIOError, match=f"database {path}: the disk is full"):
        store = TinyStore.open(path)
        try:
            await store.compact()
        finally:
            monkeypatch.setattr(files.os, "fsync", os.fsync)
            store.close_now()
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


async def test_a_schema_3_database_opened_read_only_is_read_whole_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.json"
    async with TinyStore.open(path) as store:
        await store.state.set("in-base", 1)
        await store.compact()
        await store.state.set("in-journal", 2)
    data = json.loads(path.read_text())
    data["meta"]["1"]["schema"] = 3
    path.write_text(json.dumps(data))
    base, journal = path.read_bytes(), journal_path(path).read_bytes()
    async with TinyStore.open(path, readonly=True) as reader:
        assert (await reader.state.get("in-base"), await reader.state.get("in-journal")) == (1, 2)
    assert (path.read_bytes(), journal_path(path).read_bytes()) == (base, journal)
    assert not (tmp_path / "db.json.schema3.bak").exists()
