"""The persistent outbox: every planned post is written here before anything is sent.

Why: a post planned in memory is lost by a crash, and a post whose sending is not recorded is
sent again after a restart (prometheus/alertmanager#1718, #2370). Each item carries a key
(from the planner: event keys + channel) that can be enqueued only once, whatever became of
it, so planning the same events twice never posts twice. An item moves from `pending` to
`sent` or `failed` and never back; a restart simply picks up every pending item again.

Storage choices:
- The message body is kept only while the item may still be sent; a sent or failed item keeps
  its key, channel, status and dates (the dedup record) and drops the body, so the one
  database file does not grow by a full message per post forever.
- Attachments (charts) are kept as base64 in a separate `outbox_blobs` table, once per
  content hash: one chart fanned out to 200 channels is stored once, not 200 times, and a
  restart still sends it. A blob is dropped when no pending item refers to it.

The outbox keeps an in-memory index of pending items per channel (this process holds the
store's write lock, so nobody else changes the table underneath it).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tinydb import Query

from bot.core.events import Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.store.database import Store

PENDING = "pending"
SENT = "sent"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    key: str
    channel: ChannelRef
    message: Message
    enqueued_at: datetime
    attempts: int = 0
    not_before: datetime | None = None
    """Earliest time of the next attempt (after a RETRY), kept across restarts."""
    last_error: str | None = None

    def is_due(self, now: datetime) -> bool:
        return self.not_before is None or self.not_before <= now


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt: `SENT`, `FAILED` (permanent), or `PENDING` (retry later)."""

    key: str
    status: str
    at: datetime
    platform_id: str | None = None
    reason: str | None = None
    not_before: datetime | None = None

    def fields(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The item's fields after this outcome (a finished item drops its message body)."""
        if self.status == SENT:
            return {
                "status": SENT,
                "sent_at": self.at.isoformat(),
                "platform_id": self.platform_id,
                "message": None,
            }
        if self.status == FAILED:
            return {
                "status": FAILED,
                "failed_at": self.at.isoformat(),
                "last_error": self.reason,
                "message": None,
            }
        assert self.not_before is not None, "a retry needs its time"
        return {
            "attempts": doc["attempts"] + 1,
            "not_before": self.not_before.isoformat(),
            "last_error": self.reason,
        }


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._items = store.table("outbox")
        self._blobs = store.table("outbox_blobs")
        self._ids: dict[str, int] = {}
        self._pending: dict[ChannelRef, list[int]] = {}
        self._pending_ids: set[int] = set()
        for doc in self._items.all():  # TinyDB returns documents in insertion order
            self._ids[doc["key"]] = doc.doc_id
            if doc["status"] == PENDING:
                channel = ChannelRef.from_key(doc["channel"])
                self._pending.setdefault(channel, []).append(doc.doc_id)
                self._pending_ids.add(doc.doc_id)

    # --- writes ------------------------------------------------------------------------------

    def enqueue(self, channel: ChannelRef, message: Message, *, key: str, now: datetime) -> bool:
        """Add a post; False (and nothing written) if `key` was ever enqueued before."""
        if key in self._ids:
            return False
        with self._store.batch():
            blob_ids = [self._put_blob(a.content) for a in message.attachments]
            doc_id = self._items.insert(
                {
                    "key": key,
                    "channel": channel.key,
                    "status": PENDING,
                    "enqueued_at": now.isoformat(),
                    "attempts": 0,
                    "not_before": None,
                    "last_error": None,
                    "message": _message_to_dict(message, blob_ids),
                }
            )
        self._ids[key] = doc_id
        self._pending.setdefault(channel, []).append(doc_id)
        self._pending_ids.add(doc_id)
        return True

    def mark_sent(self, key: str, *, now: datetime, platform_id: str | None = None) -> None:
        self.record([Outcome(key, SENT, now, platform_id=platform_id)])

    def mark_failed_permanent(self, key: str, *, reason: str, now: datetime) -> None:
        self.record([Outcome(key, FAILED, now, reason=reason)])

    def mark_retry(self, key: str, *, not_before: datetime, reason: str) -> None:
        self.record([Outcome(key, PENDING, not_before, reason=reason, not_before=not_before)])

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write what became of several attempts in one table update and one disk write.

        Delivery's group commit: TinyDB rewrites the whole table on every update, so 2,000
        outcomes written one by one would cost 2,000 table rewrites. Raises `KeyError`, before
        writing anything, if an item is not pending (an outcome can be recorded only once).
        """
        by_key = {o.key: o for o in outcomes}
        ids = [self._pending_id(key) for key in by_key]
        finished = [i for i, o in zip(ids, by_key.values(), strict=True) if o.status != PENDING]
        docs = {i: self._doc(i) for i in finished}

        def apply(doc: MutableMapping[str, Any]) -> None:
            doc.update(by_key[doc["key"]].fields(doc))

        with self._store.batch():
            self._items.update(apply, doc_ids=ids)
            blobs = {a["blob"] for d in docs.values() for a in d["message"]["attachments"]}
            self._drop_unused_blobs(blobs, leaving=set(finished))
        for doc_id in finished:
            queue = self._pending[ChannelRef.from_key(docs[doc_id]["channel"])]
            queue.remove(doc_id)
            self._pending_ids.discard(doc_id)
            if not queue:
                del self._pending[ChannelRef.from_key(docs[doc_id]["channel"])]

    def _pending_id(self, key: str) -> int:
        doc_id = self._ids.get(key)
        if doc_id is None or doc_id not in self._pending_ids:
            raise KeyError(f"no pending outbox item with key {key!r}")
        return doc_id

    def _put_blob(self, content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        if not self._blobs.contains(Query().id == digest):
            self._blobs.insert({"id": digest, "data": base64.b64encode(content).decode("ascii")})
        return digest

    def _drop_unused_blobs(self, candidates: set[str], *, leaving: set[int]) -> None:
        if not candidates:
            return
        for doc_id in self._pending_ids - leaving:
            candidates -= {a["blob"] for a in self._doc(doc_id)["message"]["attachments"]}
        if candidates:
            self._blobs.remove(Query().id.one_of(sorted(candidates)))

    def _doc(self, doc_id: int) -> Mapping[str, Any]:
        doc = self._items.get(doc_id=doc_id)
        assert isinstance(doc, Mapping)
        return doc

    # --- reads -------------------------------------------------------------------------------

    def head(self, channel: ChannelRef) -> OutboxItem | None:
        """The channel's oldest pending item: the only one that may be sent next."""
        queue = self._pending.get(channel)
        return self._item(queue[0]) if queue else None

    def pending(self, channel: ChannelRef) -> list[OutboxItem]:
        return [self._item(doc_id) for doc_id in self._pending.get(channel, [])]

    def channels(self) -> list[ChannelRef]:
        """Channels with pending items, the one with the oldest pending item first."""
        return sorted(self._pending, key=lambda c: self._pending[c][0])

    def due(self, now: datetime) -> dict[ChannelRef, list[OutboxItem]]:
        """Pending items per channel in enqueue order, for channels whose oldest item is due.

        A channel whose oldest item waits for a retry time is left out entirely: its later
        items must not overtake it.
        """
        out: dict[ChannelRef, list[OutboxItem]] = {}
        for channel in self.channels():
            items = self.pending(channel)
            if items[0].is_due(now):
                out[channel] = items
        return out

    def pending_count(self, channel: ChannelRef | None = None) -> int:
        if channel is not None:
            return len(self._pending.get(channel, []))
        return sum(len(q) for q in self._pending.values())

    def status(self, key: str) -> str | None:
        """`pending`, `sent`, `failed`, or None for a key never enqueued."""
        doc_id = self._ids.get(key)
        if doc_id is None:
            return None
        return str(self._doc(doc_id)["status"])

    def _item(self, doc_id: int) -> OutboxItem:
        doc = self._doc(doc_id)
        not_before = doc["not_before"]
        return OutboxItem(
            key=doc["key"],
            channel=ChannelRef.from_key(doc["channel"]),
            message=self._message_from_dict(doc["message"]),
            enqueued_at=datetime.fromisoformat(doc["enqueued_at"]),
            attempts=doc["attempts"],
            not_before=datetime.fromisoformat(not_before) if not_before else None,
            last_error=doc["last_error"],
        )

    def _message_from_dict(self, data: Mapping[str, Any]) -> Message:
        attachments = []
        for a in data["attachments"]:
            blob = self._blobs.get(Query().id == a["blob"])
            assert isinstance(blob, Mapping)
            attachments.append(
                Attachment(
                    filename=a["filename"],
                    content=base64.b64decode(blob["data"]),
                    title=a["title"],
                    mime=a["mime"],
                    alt=a.get("alt", ""),
                )
            )
        return Message(
            events=tuple(Event.from_dict(e) for e in data["events"]),
            notice=data["notice"],
            title=data["title"],
            attachments=tuple(attachments),
            note=data.get("note"),
            lang=data.get("lang", "en"),
            tz=data.get("tz"),
        )


def _message_to_dict(message: Message, blob_ids: list[str]) -> dict[str, Any]:
    return {
        "events": [e.to_dict() for e in message.events],
        "notice": message.notice,
        "title": message.title,
        "note": message.note,
        "attachments": [
            {"filename": a.filename, "title": a.title, "mime": a.mime, "alt": a.alt, "blob": blob}
            for a, blob in zip(message.attachments, blob_ids, strict=True)
        ],
        "lang": message.lang,
        "tz": message.tz,
    }
