"""Upgrading an older database to the current schema (4), in memory.

`TinyStore.open` calls `upgrade` on the loaded file; opened for writing, it then keeps the old
file as `P.schema<N>.bak` and writes the result as the new base. A read-only open (`rankbot
top` while the old bot still runs) upgrades in memory only. What changes:

- outbox items no longer carry a copy of their message: a pending (or failed) item refers to a
  body (`bodies`), which refers to its events by key; every event a body or a held alert needs
  is put in the event log if it was not there;
- sent items keep what dedup and `status` need; failed ones are marked `access` (schema 2
  paused the channel for every permanent failure) and keep no body (schema 2 dropped it), so
  they cannot be requeued;
- `outbox_blobs` becomes `blobs`; `held` refers to events by key; `openrouter_days` becomes
  `raw_days` (one table for every source's days).

Schema 1 differs from 2 only in detector states, which ingest completes itself.

Schema 3 → 4 changes no document: schema 4's journal may write several new documents as one
line (`bot.store.tinydb.table.Alike`), which a schema 3 rankbot cannot read, so the version
says it. `TinyStore.open` replays a schema 3 journal before the upgrade, so the backup is the
whole schema 3 database in one file and the upgraded base starts an empty journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.clock import utcnow
from bot.store.protocols import ACCESS, FAILED, SCHEMA_VERSION
from bot.store.tinydb.journal import Tables
from bot.store.tinydb.outbox import body_document
from bot.store.tinydb.table import Doc

READABLE = (1, 2, 3, SCHEMA_VERSION)


def upgrade(old: Tables, version: int) -> Tables:
    """Schema `version` (1, 2 or 3) → schema 4."""
    if version == 3:
        meta = old["meta"]["1"]
        stamp = utcnow().isoformat(timespec="seconds")
        upgraded = {**meta, "schema": SCHEMA_VERSION, "migrated_from": 3, "migrated": stamp}
        return {**old, "meta": {"1": upgraded}}
    tables: Tables = {
        name: docs
        for name, docs in old.items()
        if name not in ("meta", "held", "outbox", "outbox_blobs", "openrouter_days")
    }
    stamp = utcnow().isoformat(timespec="seconds")
    events = tables.setdefault("events", {})
    logged = {doc["key"] for doc in events.values()}
    next_event = max((int(k) for k in events), default=0) + 1

    def log(event: Mapping[str, Any], at: str) -> str:
        nonlocal next_event
        key = str(event["key"])
        if key not in logged:
            events[str(next_event)] = {**event, "logged_at": at}
            next_event += 1
            logged.add(key)
        return key

    tables["held"] = {
        doc_id: {
            "channel": doc["channel"],
            "event": log(doc["event"], doc["held_at"]),
            "held_at": doc["held_at"],
        }
        for doc_id, doc in old.get("held", {}).items()
    }
    bodies: dict[str, Doc] = {}
    items: dict[str, Doc] = {}
    for doc_id, doc in old.get("outbox", {}).items():
        item = _item(doc)
        message = doc.get("message")
        if message is not None:
            keys = [log(e, doc["enqueued_at"]) for e in message.get("events", ())]
            body = body_document(
                keys,
                message.get("notice"),
                message.get("title"),
                message.get("attachments", ()),
                note=message.get("note"),
                lang=message.get("lang", "en"),
                tz=message.get("tz"),
            )
            bodies.setdefault(body["id"], body)
            item["body"] = body["id"]
        items[doc_id] = item
    tables["outbox"] = items
    tables["bodies"] = {str(i): body for i, body in enumerate(bodies.values(), start=1)}
    used = {a["blob"] for b in bodies.values() for a in b.get("attachments", ())}
    tables["blobs"] = {
        doc_id: doc for doc_id, doc in old.get("outbox_blobs", {}).items() if doc["id"] in used
    }
    tables["raw_days"] = {
        doc_id: {"source": "openrouter", "day": doc["date"], "doc": doc}
        for doc_id, doc in old.get("openrouter_days", {}).items()
    }
    meta = old.get("meta", {}).get("1") or {}
    tables["meta"] = {
        "1": {
            "schema": SCHEMA_VERSION,
            "created": meta.get("created", stamp),
            "seq": 0,
            "migrated_from": version,
            "migrated": stamp,
        }
    }
    return tables


def _item(doc: Mapping[str, Any]) -> Doc:
    """A schema 2 outbox item without its message (see the module docstring)."""
    item: Doc = {
        "key": doc["key"],
        "channel": doc["channel"],
        "state": doc["status"],
        "enqueued_at": doc["enqueued_at"],
    }
    if doc.get("attempts"):
        item["attempts"] = doc["attempts"]
    for field in ("not_before", "last_error", "platform_id"):
        if doc.get(field) is not None:
            item[field] = doc[field]
    finished = doc.get("sent_at") or doc.get("failed_at")
    if finished is not None:
        item["finished_at"] = finished
    if doc["status"] == FAILED:
        item["failure"] = ACCESS
    return item
