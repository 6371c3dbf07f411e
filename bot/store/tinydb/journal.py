"""The journal: every commit appended to `P.journal`, written and fsynced off the event loop.

Why a journal: rewriting the whole database file per commit costs what the database holds
(tens of MB after a year), on every delivered post. Appending costs what changed. Each commit
is its changed documents, one JSON line each, then a commit marker:

    {"t": "outbox", "i": 812, "d": {...}}     a document as it is now
    {"t": "held", "i": 17}                    a document removed
    {"t": "outbox", "s": {...}, "f": ["key", "channel"], "r": [[813, "k1", "c1"], ...]}
                                              new documents alike (`Alike`): each row is an
                                              id and its `f` values, `s` the fields they share
    {"c": 4711}                               commit 4711 is complete

Crash atomicity comes from the marker: on open, entries count only once their marker is read,
so a commit cut short by a kill (a torn last line, entries without a marker) is discarded as
a whole, and the torn tail is cut off before anything is appended after it. Commits are
numbered; the base (`P`) records the last one it contains (`meta.seq`), so entries already in
the base are skipped.

`JournalWriter` is one thread that owns the file. Commits queue up while it writes and
fsyncs, and it takes all that queued in one go: one write and one fsync for many commits
(group commit). Encoding happens in the thread too, one small `json.dumps` per document, so
the GIL changes hands between them and the event loop is never held up by a large encode
(the same JSON of one big object would hold the GIL for its whole length). A future per
commit tells the loop when it is durable.

Compaction writes the base anew (the state at some commit S, encoded document by document)
and empties the journal. It runs in the same thread, in commit order, so the journal holds
exactly the commits up to S when it is emptied; a kill in between leaves the new base and
entries it already contains, which replay skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from bot.errors import StoreCorrupt, StoreIOError
from bot.store.tinydb.files import io_error, journal_path, write_atomically
from bot.store.tinydb.table import Alike, Doc, Op

Tables = dict[str, dict[str, Doc]]

COMPACT_AT_BYTES = 8 * 1_048_576
"""The journal is compacted once it exceeds both this and the base's size."""

_in_flight = 0
_in_flight_lock = threading.Lock()


def writes_in_flight() -> int:
    """Commits and compactions queued or being written, in every store of the process: an
    event loop on virtual time waits for them instead of jumping ahead (tests)."""
    return _in_flight


def _count(delta: int) -> None:
    global _in_flight
    with _in_flight_lock:
        _in_flight += delta


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""One encoder for every line (`json.dumps` with options builds a new one per call)."""


def _not_json(value: object) -> object:
    raise TypeError(f"a {type(value).__name__} is not JSON: not stored")


_c_encoder = (
    c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None
)
"""The C encoder `_encode` runs, called directly: `JSONEncoder.encode` builds it anew on every
call (~1 µs of a 2 µs line), and a busy poll writes one line per post. Same output (no
indent, compact separators, keys in order, non-ASCII as is); no check for cycles, which a
document (made of JSON) cannot have."""


def _line(obj: Any) -> bytes:
    return _encode(obj).encode() + b"\n"


def _entry(op: Op) -> str:
    """One journal line without its newline."""
    entry: dict[str, Any]
    if isinstance(op, Alike):
        entry = {"t": op.table.name, "s": op.same, "f": op.fields, "r": op.rows()}
    else:
        table, doc_id, doc = op
        entry = {"t": table, "i": doc_id} if doc is None else {"t": table, "i": doc_id, "d": doc}
    return "".join(_c_encoder(entry, 0)) if _c_encoder is not None else _encode(entry)


def encode_base(tables: Mapping[str, Mapping[str, Doc]]) -> Iterator[bytes]:
    """A TinyDB JSON document, one document per chunk (see the module docstring on the GIL)."""
    yield b"{"
    first_table = True
    for name, docs in tables.items():
        yield (b"" if first_table else b",") + json.dumps(name).encode() + b":{"
        first_table = False
        first = True
        for doc_id, doc in docs.items():
            body = _encode(doc).encode()
            yield (b"" if first else b",") + b'"' + doc_id.encode() + b'":' + body
            first = False
        yield b"}"
    yield b"}"


@dataclass(frozen=True, slots=True)
class Replayed:
    seq: int
    """The last commit applied (or the base's own)."""
    good_bytes: int
    """Where the last complete commit ends: anything after it is a torn tail."""
    size: int


class JournalGap(StoreCorrupt):
    """The journal does not continue the base (a compaction happened while reading)."""


def replay(path: Path, tables: Tables, base_seq: int) -> Replayed:
    """Apply every complete commit after `base_seq` to `tables`, in order."""
    journal = journal_path(path)
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return Replayed(base_seq, 0, 0)
    seq = base_seq
    good = 0
    pending: list[dict[str, Any]] = []
    position = 0
    line_no = 0
    while position < len(raw):
        end = raw.find(b"\n", position)
        if end < 0:
            break  # a torn last line: its commit never completed
        line_no += 1
        try:
            entry = json.loads(raw[position:end])
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError):
            if raw.find(b"\n", end + 1) < 0 and not raw[end + 1 :].strip(b"\x00 \t\r\n"):
                break  # the last line, cut and then followed by nothing: torn
            raise StoreCorrupt(
                f"{journal} line {line_no} is not valid JSON: the journal is damaged "
                f"(restore a backup, or move {journal.name} away to lose the recent commits)"
            ) from None
        position = end + 1
        if "c" not in entry:
            pending.append(entry)
            continue
        number = int(entry["c"])
        if number > seq + 1:
            raise JournalGap(f"{journal} continues at commit {number}, after {seq}")
        if number == seq + 1:
            for op in pending:
                docs = tables.setdefault(op["t"], {})
                if "r" in op:  # new documents alike (`Alike`)
                    fields, same = op["f"], op["s"]
                    for row in op["r"]:
                        doc = dict(zip(fields, row[1:], strict=True))
                        doc.update(same)
                        docs[str(row[0])] = doc
                elif "d" in op:
                    docs[str(op["i"])] = op["d"]
                else:
                    docs.pop(str(op["i"]), None)
            seq = number
        pending = []
        good = position
    return Replayed(seq, good, len(raw))


@dataclass
class _Commit:
    seq: int
    ops: list[Op]
    done: Callable[[BaseException | None], None]


@dataclass
class _Compaction:
    seq: int
    tables: dict[str, dict[str, Doc]]
    meta: Doc
    done: Callable[[BaseException | None], None]


class JournalWriter:
    """The one thread that appends to the journal (see the module docstring)."""

    def __init__(self, path: Path, *, journal_bytes: int, base_bytes: int) -> None:
        self.path = path
        self.journal = journal_path(path)
        self.journal_bytes = journal_bytes
        self.base_bytes = base_bytes
        self.failed: StoreIOError | None = None
        self._queue: list[_Commit | _Compaction] = []
        self._cond = threading.Condition()
        self._closing = False
        self._busy = 0
        try:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise io_error("open", self.journal, exc) from exc
        self._thread = threading.Thread(target=self._run, name="rankbot-journal", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Work is queued or being written (tests on virtual time wait for it)."""
        return self._busy > 0

    def wants_compaction(self) -> bool:
        return self.journal_bytes > max(COMPACT_AT_BYTES, self.base_bytes)

    def submit(self, seq: int, ops: list[Op]) -> asyncio.Future[None]:
        """Queue a commit; the future completes on the calling loop once it is durable."""
        future, done = _future()
        self._put(_Commit(seq, ops, done))
        return future

    def compact(
        self, seq: int, tables: dict[str, dict[str, Doc]], meta: Doc
    ) -> asyncio.Future[None]:
        """Queue a compaction to the state `tables` (shallow copies taken at commit `seq`)."""
        future, done = _future()
        self._put(_Compaction(seq, tables, meta, done))
        return future

    def _put(self, job: _Commit | _Compaction) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the store is closed")
            self._queue.append(job)
            self._busy += 1
            _count(1)
            self._cond.notify()

    def close(self) -> None:
        """Finish what is queued, then stop (waits for the thread)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()
        os.close(self._fd)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                jobs, self._queue = self._queue, []
            for batch in _batches(jobs):
                if isinstance(batch, _Compaction):
                    self._finish([batch], self._run_compaction(batch))
                else:
                    self._finish(batch, self._append(batch))

    def _finish(self, jobs: list[Any], error: BaseException | None) -> None:
        for job in jobs:
            job.done(error)
        with self._cond:
            self._busy -= len(jobs)
        _count(-len(jobs))

    def _append(self, commits: list[_Commit]) -> BaseException | None:
        if self.failed is not None:
            return self.failed
        parts: list[str] = []
        for commit in commits:
            parts.extend(_entry(op) for op in commit.ops)
            parts.append(f'{{"c":{commit.seq}}}')
        parts.append("")
        payload = "\n".join(parts).encode()
        try:
            written = 0
            while written < len(payload):
                written += os.write(self._fd, payload[written:])
            os.fsync(self._fd)
        except OSError as exc:
            self.failed = io_error("write", self.path, exc)
            return self.failed
        self.journal_bytes += len(payload)
        return None

    def _run_compaction(self, job: _Compaction) -> BaseException | None:
        if self.failed is not None:
            return self.failed
        tables = {"meta": {"1": {**job.meta, "seq": job.seq}}}
        tables.update((name, docs) for name, docs in job.tables.items() if name != "meta")
        try:
            self.base_bytes = write_atomically(self.path, encode_base(tables))
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        except OSError as exc:
            self.failed = io_error("write", self.path, exc)
            return self.failed
        self.journal_bytes = 0
        return None


def _batches(jobs: list[_Commit | _Compaction]) -> Iterator[list[_Commit] | _Compaction]:
    """Runs of commits (each written with one fsync), with compactions between them."""
    run: list[_Commit] = []
    for job in jobs:
        if isinstance(job, _Compaction):
            if run:
                yield run
                run = []
            yield job
        else:
            run.append(job)
    if run:
        yield run


def _future() -> tuple[asyncio.Future[None], Callable[[BaseException | None], None]]:
    """A future of the running loop, and a thread-safe way to complete it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def done(error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle, error)

    return future, done
