"""`TinyOutbox`: every planned post, before anything is sent (`bot.store.protocols.Outbox`).

Why an outbox at all: a post planned in memory is lost by a crash, and a post whose sending is
not recorded is sent again after a restart (prometheus/alertmanager#1718, #2370).

Three tables, each document stored once:

- `outbox`: one small document per post: `{key, channel, state, enqueued_at, body}` plus,
  when they apply, `attempts`, `not_before`, `last_error`, `failure`, `finished_at`,
  `platform_id`. A sent or dropped post lets go of its body (it keeps what dedup and `status`
  need) and is pruned after `keep_sent_days`; a failed one keeps its body for `retry` /
  `requeue`, and is never pruned.
- `bodies`: what a post says, shared by every post saying the same: the event keys (the events
  themselves are in the event log), notice, title, attachments, and the chart it waits for.
  One alert to 2,000 channels with the same filters is one body, not 2,000 copies.
- `blobs`: attachments (chart PNGs) as base64, once per content hash, decoded once per
  process.

Delivery sees a post only once its enqueue is durable: the per-channel queues `head` and
`channels` read are updated by a commit listener (`Writes.on_commit`), not by the write
itself, so a crash can never take back a post that was already handed to a sender. Each
body's `Message` is decoded once and shared by its posts, so senders may cache their rendering
per message.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from bot.core.events import Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.planning import Planned
from bot.net.slices import Slices
from bot.store.protocols import (
    ACCESS,
    DROPPED,
    FAILED,
    PENDING,
    SENT,
    ChartSpec,
    Failure,
    OutboxItem,
    Outcome,
    PostState,
    Requeued,
)
from bot.store.tinydb.table import Alike, Database, Doc, Index, UniqueIndex, Watcher, Writes

if TYPE_CHECKING:
    from bot.store.tinydb.history import TinyHistory

OUTBOX = "outbox"
BODIES = "bodies"
BLOBS = "blobs"
_VARYING = ("key", "channel")
"""What sets one post's document apart from the others of its body (the first fields of an
item: `{key, channel, state, enqueued_at, body}`)."""
FINISHED = (SENT, DROPPED)
"""States that let go of their body and are pruned after `keep_sent_days`."""


def chart_spec_of(raw: Mapping[str, Any]) -> ChartSpec:
    """The chart a body waits for, from its document (`body_document`)."""
    return ChartSpec(
        raw["kind"],
        raw["source"],
        raw["period"],
        date.fromisoformat(raw["as_of"]),
        raw.get("lang", "en"),
    )


def _pending_chart(doc: Mapping[str, Any]) -> str | None:
    chart = doc.get("chart")
    return chart_spec_of(chart).key if chart and doc.get("chart_pending") else None


class ItemIndex(Watcher):
    """The outbox's indexes of its items, kept in one pass per change (a busy poll inserts
    thousands): by key (dedup), by (channel, state) (`counts`, `requeue`), by state (`prune`,
    `count`), and how many items refer to each body (a body nobody refers to goes)."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.by_channel_state: dict[tuple[str, PostState], dict[int, None]] = {}
        self.by_state: dict[str, dict[int, None]] = {}
        self.by_body: dict[str, int] = {}

    def ids(self, state: str) -> list[int]:
        """The items in `state`, in id (= enqueue) order."""
        return sorted(self.by_state.get(state, ()))

    def update(
        self, doc_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        if old is not None:
            self._forget(doc_id, old)
        if new is not None:
            self.by_key[new["key"]] = doc_id
            state = new["state"]
            pair = (new["channel"], state)
            group = self.by_channel_state.get(pair)
            if group is None:
                self.by_channel_state[pair] = {doc_id: None}
            else:
                group[doc_id] = None
            group = self.by_state.get(state)
            if group is None:
                self.by_state[state] = {doc_id: None}
            else:
                group[doc_id] = None
            body = new.get("body")
            if body is not None:
                self.by_body[body] = self.by_body.get(body, 0) + 1

    def _forget(self, doc_id: int, old: Mapping[str, Any]) -> None:
        if self.by_key.get(old["key"]) == doc_id:
            del self.by_key[old["key"]]
        pair = (old["channel"], old["state"])
        group = self.by_channel_state[pair]
        del group[doc_id]
        if not group:
            del self.by_channel_state[pair]
        group = self.by_state[old["state"]]
        del group[doc_id]
        if not group:
            del self.by_state[old["state"]]
        body = old.get("body")
        if body is not None:
            left = self.by_body[body] - 1
            if left:
                self.by_body[body] = left
            else:
                del self.by_body[body]


class TinyOutbox:
    def __init__(self, store: Writes, db: Database, history: TinyHistory) -> None:
        self._store = store
        self._history = history
        self.items_table = db.incremental(OUTBOX)
        self.bodies = db.incremental(BODIES)
        self.blobs = db.incremental(BLOBS)
        self._index = self.items_table.add_index(ItemIndex())
        self._body_by_id = self.bodies.add_index(UniqueIndex(lambda d: d["id"]))
        self._waiting_for_chart = self.bodies.add_index(Index(_pending_chart))
        self._blob_by_id = self.blobs.add_index(UniqueIndex(lambda d: d["id"]))
        self._messages: dict[str, tuple[Doc, Message]] = {}
        self._blob_bytes: dict[str, bytes] = {}
        # delivery's view: durable pending posts per channel, in enqueue (= id) order
        self._queues: dict[str, list[int]] = {}
        self._queued: dict[int, str] = {}
        for doc_id in self._index.ids(PENDING):
            doc = self.items_table.doc(doc_id)
            if doc is not None:
                self._queue(doc_id, doc["channel"])
        store.on_commit(OUTBOX, self._committed)

    # --- delivery's view ---------------------------------------------------------------------

    def _queue(self, doc_id: int, channel: str) -> None:
        queue = self._queues.setdefault(channel, [])
        if not queue or queue[-1] < doc_id:
            queue.append(doc_id)
        else:
            bisect.insort(queue, doc_id)
        self._queued[doc_id] = channel

    def _unqueue(self, doc_id: int) -> None:
        channel = self._queued.pop(doc_id, None)
        if channel is None:
            return
        queue = self._queues[channel]
        if queue[0] == doc_id:
            del queue[0]
        else:
            queue.remove(doc_id)
        if not queue:
            del self._queues[channel]

    def _committed(self, entries: list[tuple[int, Doc | None]]) -> None:
        for doc_id, doc in entries:
            pending = doc is not None and doc["state"] == PENDING
            if doc_id in self._queued and not pending:
                self._unqueue(doc_id)
            elif pending and doc_id not in self._queued:
                assert doc is not None
                self._queue(doc_id, doc["channel"])

    async def head(self, channel: ChannelRef) -> OutboxItem | None:
        queue = self._queues.get(channel.key)
        return self._item(queue[0]) if queue else None

    async def pending(self, channel: ChannelRef) -> list[OutboxItem]:
        return [self._item(i) for i in self._queues.get(channel.key, ())]

    async def channels(self) -> list[ChannelRef]:
        keys = sorted(self._queues, key=lambda c: self._queues[c][0])
        return [ChannelRef.from_key(k) for k in keys]

    # --- reading ------------------------------------------------------------------------------

    def _item(self, doc_id: int) -> OutboxItem:
        doc = self.items_table.doc(doc_id)
        assert doc is not None
        body = self._body_doc(doc.get("body"))
        return item_of(doc, body, self._message(body) if body is not None else None)

    def _body_doc(self, body_id: str | None) -> Doc | None:
        if body_id is None:
            return None
        doc_id = self._body_by_id.get(body_id)
        return self.bodies.doc(doc_id) if doc_id is not None else None

    def _message(self, body: Doc) -> Message:
        cached = self._messages.get(body["id"])
        if cached is not None and cached[0] is body:
            return cached[1]
        events = (self._history.by_key(k) for k in body.get("events", ()))
        message = message_of(body, (e for e in events if e is not None), self._blob)
        self._messages[body["id"]] = (body, message)
        return message

    def _blob(self, blob_id: str) -> bytes:
        cached = self._blob_bytes.get(blob_id)
        if cached is None:
            doc_id = self._blob_by_id.get(blob_id)
            doc = self.blobs.doc(doc_id) if doc_id is not None else None
            assert doc is not None, f"blob {blob_id} is missing"
            cached = self._blob_bytes[blob_id] = base64.b64decode(doc["data"])
        return cached

    def _doc(self, key: str) -> tuple[int, Doc] | None:
        doc_id = self._index.by_key.get(key)
        doc = self.items_table.doc(doc_id) if doc_id is not None else None
        return (doc_id, doc) if doc_id is not None and doc is not None else None

    async def state_of(self, key: str) -> PostState | None:
        found = self._doc(key)
        return cast(PostState, found[1]["state"]) if found else None

    async def item(self, key: str) -> OutboxItem | None:
        found = self._doc(key)
        return self._item(found[0]) if found else None

    async def count(self, channel: ChannelRef | None = None, state: PostState = PENDING) -> int:
        if channel is None:
            return len(self._index.by_state.get(state, ()))
        return len(self._index.by_channel_state.get((channel.key, state), ()))

    async def counts(self) -> dict[tuple[ChannelRef, PostState], int]:
        out: dict[tuple[ChannelRef, PostState], int] = {}
        for (channel, state), ids in self._index.by_channel_state.items():
            out[(ChannelRef.from_key(channel), state)] = len(ids)
        return out

    async def items(
        self, channel: ChannelRef | None = None, state: PostState | None = None
    ) -> list[OutboxItem]:
        if channel is not None and state is not None:
            ids = sorted(self._index.by_channel_state.get((channel.key, state), ()))
        elif state is not None:
            ids = self._index.ids(state)
        else:
            ids = sorted(int(k) for k in self.items_table.raw)
            if channel is not None:
                ids = [i for i in ids if self.items_table.raw[str(i)]["channel"] == channel.key]
        return [self._item(i) for i in ids]

    # --- writing ------------------------------------------------------------------------------

    async def enqueue(
        self,
        posts: Iterable[Planned],
        *,
        now: datetime,
        charts: Mapping[str, ChartSpec] | None = None,
    ) -> int:
        stamp = now.isoformat()
        # the posts of one body differ only in key and channel: one `Alike` (one journal
        # line) per body, not a line per post
        bodies: dict[tuple[int, int], Alike] = {}
        alive: list[tuple[Message, ChartSpec | None]] = []  # their ids stay unique meanwhile
        added = 0
        by_key = self._index.by_key
        slices = Slices()
        # a fan-out's posts come one after the other: the body of the post before is tried
        # first, by identity, before a lookup (once per post of a busy poll)
        message: Message | None = None
        chart: ChartSpec | None = None
        add, body_id = None, ""
        async with self._store.write():
            for post in posts:
                if slices.due():
                    await slices.pause()
                key = post.key
                if key in by_key:
                    continue
                chart_of = charts.get(key) if charts else None
                if add is None or post.message is not message or chart_of is not chart:
                    message, chart = post.message, chart_of
                    # by identity: the planner shares one message and one chart among a
                    # fan-out's posts (equal ones that are not the same object only cost a
                    # second lookup)
                    ident = (id(message), id(chart))
                    alike = bodies.get(ident)
                    if alike is None:
                        body = self._store_body(message, chart, now)
                        same = {"state": PENDING, "enqueued_at": stamp, "body": body}
                        alike = bodies[ident] = self.items_table.alike(_VARYING, same)
                        alive.append((message, chart))
                    add, body_id = alike.add, alike.same["body"]
                # a dict display of the Alike's `fields` then its `same` (see `Alike.add`)
                add(
                    {
                        "key": key,
                        "channel": post.channel.key,
                        "state": PENDING,
                        "enqueued_at": stamp,
                        "body": body_id,
                    }
                )
                added += 1
        return added

    def _store_body(self, message: Message, chart: ChartSpec | None, now: datetime) -> str:
        self._history.remember(message.events, now)
        attachments = [attachment_entry(a, self._put_blob(a)) for a in message.attachments]
        body = message_body(message, attachments, chart)
        if self._body_by_id.get(body["id"]) is None:
            self.bodies.add(body)
        return str(body["id"])

    def _put_blob(self, attachment: Attachment) -> str:
        digest = hashlib.sha256(attachment.content).hexdigest()
        if self._blob_by_id.get(digest) is None:
            data = base64.b64encode(attachment.content).decode("ascii")
            self.blobs.add({"id": digest, "data": data})
            self._blob_bytes[digest] = attachment.content
        return digest

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        found = []
        for outcome in outcomes:
            item = self._doc(outcome.key)
            if item is None or item[1]["state"] != PENDING:
                raise KeyError(f"no pending outbox item with key {outcome.key!r}")
            found.append((item[0], outcome))
        async with self._store.write():
            for doc_id, outcome in found:
                doc = self.items_table.doc(doc_id)
                assert doc is not None
                self._replace(doc_id, doc, _after(doc, outcome))

    def _replace(self, doc_id: int, old: Doc, new: Doc) -> None:
        """Write an item's new version; a body nothing refers to any more goes too."""
        self.items_table.put(doc_id, new)
        body = old.get("body")
        if body is not None and body != new.get("body") and body not in self._index.by_body:
            self._drop_body(body)

    def _drop_body(self, body_id: str) -> None:
        doc_id = self._body_by_id.get(body_id)
        body = self.bodies.doc(doc_id) if doc_id is not None else None
        if doc_id is None or body is None:
            return
        self.bodies.delete(doc_id)
        for attachment in body.get("attachments", ()):
            blob = attachment["blob"]
            used = any(
                a["blob"] == blob
                for other in self.bodies.raw.values()
                for a in other.get("attachments", ())
            )
            blob_doc = self._blob_by_id.get(blob)
            if not used and blob_doc is not None:
                self.blobs.delete(blob_doc)
                self._blob_bytes.pop(blob, None)

    async def requeue(self, channel: ChannelRef, newer_than: datetime) -> Requeued:
        cutoff = newer_than.isoformat()
        requeued: list[str] = []
        older: list[str] = []
        async with self._store.write():
            for doc_id in sorted(self._index.by_channel_state.get((channel.key, FAILED), ())):
                doc = self.items_table.doc(doc_id)
                if doc is None or doc.get("failure", ACCESS) != ACCESS:
                    continue
                if doc.get("body") is None or (doc.get("finished_at") or "") <= cutoff:
                    older.append(doc["key"])
                    continue
                self._replace(doc_id, doc, _reopened(doc))
                requeued.append(doc["key"])
        return Requeued(tuple(requeued), tuple(older))

    async def retry(self, keys: Iterable[str]) -> int:
        count = 0
        async with self._store.write():
            for key in keys:
                found = self._doc(key)
                if found and found[1]["state"] == FAILED and found[1].get("body") is not None:
                    self._replace(found[0], found[1], _reopened(found[1]))
                    count += 1
        return count

    async def drop(self, keys: Iterable[str], now: datetime) -> int:
        count = 0
        stamp = now.isoformat()
        async with self._store.write():
            for key in keys:
                found = self._doc(key)
                if found and found[1]["state"] in (PENDING, FAILED):
                    doc_id, doc = found
                    new = {k: v for k, v in doc.items() if k not in ("body", "not_before")}
                    self._replace(doc_id, doc, {**new, "state": DROPPED, "finished_at": stamp})
                    count += 1
        return count

    async def prune(self, now: datetime, keep_sent_days: float) -> int:
        cutoff = (now - timedelta(days=keep_sent_days)).isoformat()
        old = [
            doc_id
            for state in FINISHED
            for doc_id in self._index.ids(state)
            if (self.items_table.raw[str(doc_id)].get("finished_at") or "") < cutoff
        ]
        if old:
            async with self._store.write():
                for doc_id in old:
                    self.items_table.delete(doc_id)
        return len(old)

    # --- charts -------------------------------------------------------------------------------

    async def charts_pending(self) -> list[ChartSpec]:
        specs = []
        for group in sorted(self._waiting_for_chart.groups, key=str):
            doc_id = self._waiting_for_chart.first(group)
            body = self.bodies.doc(doc_id) if doc_id is not None else None
            if body is not None:
                specs.append(chart_spec_of(body["chart"]))
        return specs

    async def attach_chart(self, chart: ChartSpec, attachment: Attachment | None) -> int:
        ids = self._waiting_for_chart.ids(chart.key)
        if not ids:
            return 0
        async with self._store.write():
            for doc_id in ids:
                body = self.bodies.doc(doc_id)
                if body is None:
                    continue
                new = {**body, "chart_pending": False}
                if attachment is not None:
                    entry = attachment_entry(attachment, self._put_blob(attachment))
                    new["attachments"] = [*body.get("attachments", ()), entry]
                self.bodies.put(doc_id, new)
        return len(ids)


def message_body(
    message: Message, attachments: Sequence[Mapping[str, Any]], chart: ChartSpec | None
) -> Doc:
    """The body document of `message`, its attachments already stored as `attachments`
    (`attachment_entry`): what every backend stores for a post (`body_document`)."""
    return body_document(
        [e.key for e in message.events],
        message.notice,
        message.title,
        attachments,
        chart,
        note=message.note,
        lang=message.lang,
        tz=message.tz,
    )


def attachment_entry(attachment: Attachment, blob: str) -> Doc:
    """How a body refers to one attachment, its bytes stored once as blob `blob`."""
    return {
        "filename": attachment.filename,
        "title": attachment.title,
        "mime": attachment.mime,
        "alt": attachment.alt,
        "blob": blob,
    }


def message_of(
    body: Mapping[str, Any], events: Iterable[Event], content: Callable[[str], bytes]
) -> Message:
    """The message a body document says, with its logged `events` (those of the body's keys
    the log holds) and each attachment's bytes from `content(blob)`."""
    return Message(
        events=tuple(events),
        notice=body.get("notice"),
        title=body.get("title"),
        attachments=tuple(
            Attachment(
                filename=a["filename"],
                content=content(a["blob"]),
                title=a.get("title", ""),
                mime=a.get("mime", "image/png"),
                alt=a.get("alt", ""),
            )
            for a in body.get("attachments", ())
        ),
        note=body.get("note"),
        lang=body.get("lang", "en"),
        tz=body.get("tz"),
    )


def item_of(
    doc: Mapping[str, Any], body: Mapping[str, Any] | None, message: Message | None
) -> OutboxItem:
    """An outbox item from its document, its body and the body's message (a finished post
    has let go of its body: its message is empty)."""
    not_before, finished = doc.get("not_before"), doc.get("finished_at")
    return OutboxItem(
        key=doc["key"],
        channel=ChannelRef.from_key(doc["channel"]),
        message=message if message is not None else Message(notice=""),
        enqueued_at=datetime.fromisoformat(doc["enqueued_at"]),
        state=doc["state"],
        attempts=doc.get("attempts", 0),
        not_before=datetime.fromisoformat(not_before) if not_before else None,
        last_error=doc.get("last_error"),
        failure=doc.get("failure"),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        chart_pending=bool(body and body.get("chart_pending")),
    )


def body_document(
    events: Sequence[str],
    notice: str | None,
    title: str | None,
    attachments: Sequence[Mapping[str, Any]],
    chart: ChartSpec | None = None,
    *,
    note: str | None = None,
    lang: str = "en",
    tz: str | None = None,
) -> Doc:
    """A body's document; its `id` is a hash of what it says, so equal bodies are one."""
    doc: Doc = {"events": list(events)}
    if notice is not None:
        doc["notice"] = notice
    if title is not None:
        doc["title"] = title
    if note is not None:
        doc["note"] = note
    if lang != "en":
        doc["lang"] = lang
    if tz is not None:
        doc["tz"] = tz
    if attachments:
        doc["attachments"] = [dict(a) for a in attachments]
    if chart is not None:
        doc["chart"] = {
            "kind": chart.kind,
            "source": chart.source,
            "period": chart.period,
            "as_of": chart.as_of.isoformat(),
        }
        if chart.lang != "en":
            doc["chart"]["lang"] = chart.lang
        doc["chart_pending"] = True
    identity = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
    return {"id": hashlib.sha256(identity).hexdigest()[:32], **doc}


def _after(doc: Doc, outcome: Outcome) -> Doc:
    """An item's document after an attempt's outcome (see `Outcome`)."""
    at = outcome.at.isoformat()
    if outcome.state == SENT:
        new = {k: v for k, v in doc.items() if k not in ("body", "not_before", "last_error")}
        new.update(state=SENT, finished_at=at)
        if outcome.platform_id is not None:
            new["platform_id"] = outcome.platform_id
        return new
    if outcome.state == FAILED:
        failure: Failure = outcome.failure or ACCESS
        new = {k: v for k, v in doc.items() if k != "not_before"}
        new.update(state=FAILED, finished_at=at, last_error=outcome.reason, failure=failure)
        return new
    if outcome.state != PENDING or outcome.not_before is None:
        raise ValueError(f"an outcome is sent, failed, or pending with its time: {outcome}")
    return {
        **doc,
        "attempts": doc.get("attempts", 0) + 1,
        "not_before": outcome.not_before.isoformat(),
        "last_error": outcome.reason,
    }


def _reopened(doc: Doc) -> Doc:
    """A failed item back to pending: attempts and times reset, its reason kept for `status`."""
    new = {k: v for k, v in doc.items() if k not in ("failure", "finished_at", "not_before")}
    new.update(state=PENDING, attempts=0)
    return new
