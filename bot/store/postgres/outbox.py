"""`PgOutbox`: every planned post on PostgreSQL, and the leases that let several worker
processes deliver it (`bot.store.protocols.Outbox`, `PostLeases`).

Documents as in the TinyDB backend (`bot.store.tinydb.outbox`: items, shared bodies, blobs), so
what an outcome does to an item (`_after`), what a body is (`body_document`) and how a failed
post reopens (`_reopened`) are the same functions. Only committed posts are visible to other
connections, which is the outbox's promise that a post is handed to delivery only once its
enqueue is durable.

Leases (`claim`): a worker process takes the oldest pending post of channels that have none in
flight with `SELECT … FOR UPDATE SKIP LOCKED` and marks it leased until a time; recording its
outcome ends the lease. Only a channel's head (its oldest pending post) can be claimed, and the
head stays pending until its outcome is recorded, so one post per channel is in flight across
all workers and a channel's posts go out in order. A worker renews its leases while it sends;
a killed worker's leases run out and another worker sends those posts again: the only
duplicates are the posts that were in flight.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from psycopg.types.json import Jsonb

from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.planning import Planned
from bot.store.postgres.connection import Session
from bot.store.postgres.history import PgHistory
from bot.store.protocols import (
    ACCESS,
    DROPPED,
    PENDING,
    SENT,
    ChartSpec,
    OutboxItem,
    Outcome,
    PostState,
    Requeued,
)
from bot.store.tinydb.outbox import (
    _after,
    _reopened,
    attachment_entry,
    chart_spec_of,
    item_of,
    message_body,
    message_of,
)

ITEM = "SELECT o.id, o.doc, b.doc FROM outbox o LEFT JOIN bodies b ON b.body_id = o.body"
"""An item with its body, in one round trip (`_items` turns the rows into `OutboxItem`s)."""

_ORPHAN_BODIES = (
    "DELETE FROM bodies b WHERE b.body_id = ANY(%s) AND NOT EXISTS "
    "(SELECT 1 FROM outbox o WHERE o.body = b.body_id) RETURNING b.doc"
)
_ORPHAN_BLOBS = (
    "DELETE FROM blobs x WHERE x.blob_id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM bodies b, "
    "jsonb_array_elements(coalesce(b.doc->'attachments', '[]')) a WHERE a->>'blob' = x.blob_id)"
)


class PgOutbox:
    def __init__(self, session: Session, history: PgHistory) -> None:
        self._db = session
        self._history = history
        self._messages: dict[str, tuple[dict[str, Any], Message]] = {}
        self._blob_bytes: dict[str, bytes] = {}

    # --- reading ------------------------------------------------------------------------------

    async def _items(self, rows: Sequence[Any]) -> list[OutboxItem]:
        bodies = [r[2] for r in rows if r[2] is not None]
        stale = [b for b in bodies if self._messages.get(b["id"], ({},))[0] != b]
        if stale:
            events = await self._history.by_keys(k for b in stale for k in b.get("events", ()))
            blobs = await self._blobs(a["blob"] for b in stale for a in b.get("attachments", ()))
            for body in stale:
                logged = (events[k] for k in body.get("events", ()) if k in events)
                self._messages[body["id"]] = (body, message_of(body, logged, blobs.__getitem__))
        return [
            item_of(doc, body, self._messages[body["id"]][1] if body else None)
            for _, doc, body in rows
        ]

    async def _blobs(self, ids: Iterable[str]) -> dict[str, bytes]:
        wanted = set(ids)
        missing = [i for i in wanted if i not in self._blob_bytes]
        if missing:
            for blob_id, data in await self._db.rows(
                "SELECT blob_id, doc->>'data' FROM blobs WHERE blob_id = ANY(%s)", (missing,)
            ):
                self._blob_bytes[blob_id] = base64.b64decode(data)
        return {i: self._blob_bytes[i] for i in wanted if i in self._blob_bytes}

    async def _select(
        self, where: str, params: Sequence[Any] = (), *, committed: bool = False
    ) -> list[OutboxItem]:
        rows = await self._db.rows(f"{ITEM} {where}", params, committed=committed)
        return await self._items(rows)

    async def head(self, channel: ChannelRef) -> OutboxItem | None:
        found = await self._select(
            "WHERE o.channel = %s AND o.state = 'pending' ORDER BY o.id LIMIT 1",
            (channel.key,),
            committed=True,
        )
        return found[0] if found else None

    async def pending(self, channel: ChannelRef) -> list[OutboxItem]:
        return await self._select(
            "WHERE o.channel = %s AND o.state = 'pending' ORDER BY o.id", (channel.key,)
        )

    async def channels(self) -> list[ChannelRef]:
        rows = await self._db.rows(
            "SELECT channel FROM outbox WHERE state = 'pending' GROUP BY channel ORDER BY min(id)",
            committed=True,
        )
        return [ChannelRef.from_key(r[0]) for r in rows]

    async def state_of(self, key: str) -> PostState | None:
        state = await self._db.value("SELECT state FROM outbox WHERE key = %s", (key,))
        return cast(PostState | None, state)

    async def item(self, key: str) -> OutboxItem | None:
        found = await self._select("WHERE o.key = %s", (key,))
        return found[0] if found else None

    async def count(self, channel: ChannelRef | None = None, state: PostState = PENDING) -> int:
        if channel is None:
            return int(
                await self._db.value("SELECT count(*) FROM outbox WHERE state = %s", (state,))
            )
        return int(
            await self._db.value(
                "SELECT count(*) FROM outbox WHERE channel = %s AND state = %s",
                (channel.key, state),
            )
        )

    async def counts(self) -> dict[tuple[ChannelRef, PostState], int]:
        rows = await self._db.rows("SELECT channel, state, count(*) FROM outbox GROUP BY 1, 2")
        return {(ChannelRef.from_key(c), cast(PostState, s)): n for c, s, n in rows}

    async def items(
        self, channel: ChannelRef | None = None, state: PostState | None = None
    ) -> list[OutboxItem]:
        return await self._select(
            "WHERE (%s::text IS NULL OR o.channel = %s) AND (%s::text IS NULL OR o.state = %s) "
            "ORDER BY o.id",
            (
                channel.key if channel else None,
                channel.key if channel else None,
                state,
                state,
            ),
        )

    # --- writing ------------------------------------------------------------------------------

    async def enqueue(
        self,
        posts: Iterable[Planned],
        *,
        now: datetime,
        charts: Mapping[str, ChartSpec] | None = None,
    ) -> int:
        posts = list(posts)
        if not posts:
            return 0
        stamp = now.isoformat()
        async with self._db.transaction():
            held = {
                r[0]
                for r in await self._db.rows(
                    "SELECT key FROM outbox WHERE key = ANY(%s)", ([p.key for p in posts],)
                )
            }
            bodies: dict[tuple[int, ChartSpec | None], str] = {}
            new_bodies: dict[str, dict[str, Any]] = {}
            blobs: dict[str, dict[str, Any]] = {}
            events: dict[str, Any] = {}
            items: list[dict[str, Any]] = []
            seen: set[str] = set()
            for post in posts:
                if post.key in held or post.key in seen:
                    continue
                seen.add(post.key)
                chart = charts.get(post.key) if charts else None
                ident = (id(post.message), chart)
                body_id = bodies.get(ident)
                if body_id is None:
                    body = self._body(post.message, chart, blobs)
                    body_id = bodies[ident] = body["id"]
                    new_bodies[body_id] = body
                    for event in post.message.events:
                        events.setdefault(event.key, event)
                items.append(
                    {
                        "key": post.key,
                        "channel": post.channel.key,
                        "state": PENDING,
                        "enqueued_at": stamp,
                        "body": body_id,
                    }
                )
            if not items:
                return 0
            await self._history.remember(events.values(), now)
            if blobs:
                await self._insert("blobs", list(blobs.values()), "(blob_id)")
            await self._insert("bodies", list(new_bodies.values()), "(body_id)")
            added = await self._insert("outbox", items, "(key)")
        return added

    async def _insert(self, table: str, docs: list[dict[str, Any]], key: str) -> int:
        """Insert documents in their order; those whose key is held already are skipped."""
        rows = await self._db.write(
            f"INSERT INTO {table} (doc) SELECT d FROM jsonb_array_elements(%s) WITH ORDINALITY "
            f"AS a(d, n) ORDER BY n ON CONFLICT {key} DO NOTHING RETURNING 1",
            (Jsonb(docs),),
        )
        return len(rows)

    def _body(
        self, message: Message, chart: ChartSpec | None, blobs: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        attachments = [_attachment(a, blobs) for a in message.attachments]
        return message_body(message, attachments, chart)

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        async with self._db.transaction():
            rows = await self._db.rows(
                "SELECT key, id, doc FROM outbox WHERE key = ANY(%s) AND state = 'pending' "
                "FOR UPDATE",
                ([o.key for o in outcomes],),
            )
            found = {r[0]: (r[1], r[2]) for r in rows}
            for outcome in outcomes:
                if outcome.key not in found:
                    raise KeyError(f"no pending outbox item with key {outcome.key!r}")
            await self._replace(
                [(found[o.key][0], found[o.key][1], _after(found[o.key][1], o)) for o in outcomes]
            )

    async def _replace(self, changes: Sequence[tuple[int, dict[str, Any], dict[str, Any]]]) -> None:
        """Write items' new versions (ending any lease); bodies nothing refers to go too."""
        if not changes:
            return
        await self._db.write(
            "UPDATE outbox o SET doc = n.doc, leased_by = NULL, leased_until = NULL "
            "FROM jsonb_to_recordset(%s) AS n(id bigint, doc jsonb) WHERE o.id = n.id",
            (Jsonb([{"id": i, "doc": new} for i, _, new in changes]),),
        )
        let_go = {
            old["body"] for _, old, new in changes if old.get("body") not in (None, new.get("body"))
        }
        if let_go:
            await self._drop_orphans(sorted(let_go))

    async def _drop_orphans(self, body_ids: Sequence[str]) -> None:
        gone = await self._db.write(_ORPHAN_BODIES, (list(body_ids),))
        blobs = {a["blob"] for (doc,) in gone for a in doc.get("attachments", ())}
        if blobs:
            await self._db.write(_ORPHAN_BLOBS, (sorted(blobs),))

    async def requeue(self, channel: ChannelRef, newer_than: datetime) -> Requeued:
        cutoff = newer_than.isoformat()
        requeued: list[str] = []
        older: list[str] = []
        changes = []
        async with self._db.transaction():
            rows = await self._db.rows(
                "SELECT id, doc FROM outbox WHERE channel = %s AND state = 'failed' ORDER BY id "
                "FOR UPDATE",
                (channel.key,),
            )
            for doc_id, doc in rows:
                if doc.get("failure", ACCESS) != ACCESS:
                    continue
                if doc.get("body") is None or (doc.get("finished_at") or "") <= cutoff:
                    older.append(doc["key"])
                    continue
                changes.append((doc_id, doc, _reopened(doc)))
                requeued.append(doc["key"])
            await self._replace(changes)
        return Requeued(tuple(requeued), tuple(older))

    async def retry(self, keys: Iterable[str]) -> int:
        async with self._db.transaction():
            rows = await self._db.rows(
                "SELECT id, doc FROM outbox WHERE key = ANY(%s) AND state = 'failed' "
                "AND body IS NOT NULL ORDER BY id FOR UPDATE",
                (list(keys),),
            )
            await self._replace([(i, doc, _reopened(doc)) for i, doc in rows])
        return len(rows)

    async def drop(self, keys: Iterable[str], now: datetime) -> int:
        stamp = now.isoformat()
        async with self._db.transaction():
            rows = await self._db.rows(
                "SELECT id, doc FROM outbox WHERE key = ANY(%s) AND state IN ('pending', 'failed') "
                "ORDER BY id FOR UPDATE",
                (list(keys),),
            )
            changes = []
            for doc_id, doc in rows:
                new = {k: v for k, v in doc.items() if k not in ("body", "not_before")}
                changes.append((doc_id, doc, {**new, "state": DROPPED, "finished_at": stamp}))
            await self._replace(changes)
        return len(rows)

    async def prune(self, now: datetime, keep_sent_days: float) -> int:
        cutoff = (now - timedelta(days=keep_sent_days)).isoformat()
        async with self._db.transaction():
            gone = await self._db.write(
                "DELETE FROM outbox WHERE state IN (%s, %s) AND coalesce(finished_at, '') < %s "
                "RETURNING 1",
                (SENT, DROPPED, cutoff),
            )
            # bodies a crashed or racing worker left behind, with their blobs
            orphans = await self._db.rows(
                "SELECT b.body_id FROM bodies b WHERE NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.body = b.body_id)"
            )
            if orphans:
                await self._drop_orphans([r[0] for r in orphans])
        return len(gone)

    # --- charts -------------------------------------------------------------------------------

    async def charts_pending(self) -> list[ChartSpec]:
        rows = await self._db.rows(
            "SELECT DISTINCT ON (chart_key) chart_key, doc->'chart' FROM bodies "
            "WHERE chart_key IS NOT NULL ORDER BY chart_key, id"
        )
        return [chart_spec_of(r[1]) for r in rows]

    async def attach_chart(self, chart: ChartSpec, attachment: Attachment | None) -> int:
        async with self._db.transaction():
            rows = await self._db.rows(
                "SELECT id, doc FROM bodies WHERE chart_key = %s ORDER BY id FOR UPDATE",
                (chart.key,),
            )
            if not rows:
                return 0
            blobs: dict[str, dict[str, Any]] = {}
            entry = _attachment(attachment, blobs) if attachment is not None else None
            if blobs:
                await self._insert("blobs", list(blobs.values()), "(blob_id)")
            changed = []
            for doc_id, body in rows:
                new = {**body, "chart_pending": False}
                if entry is not None:
                    new["attachments"] = [*body.get("attachments", ()), entry]
                changed.append({"id": doc_id, "doc": new})
            await self._db.write(
                "UPDATE bodies b SET doc = n.doc FROM jsonb_to_recordset(%s) "
                "AS n(id bigint, doc jsonb) WHERE b.id = n.id",
                (Jsonb(changed),),
            )
        return len(rows)

    # --- leases (worker processes) -------------------------------------------------------------

    async def claim(
        self,
        worker: str,
        limit: int,
        *,
        lease_seconds: float,
        now: datetime,
        platforms: Collection[str],
    ) -> list[OutboxItem]:
        """Lease up to `limit` due channel heads no other worker holds (see the module
        docstring); channels that are paused, or whose head waits for its chart, wait."""
        if limit <= 0 or not platforms:
            return []
        async with self._db.transaction(apart=True):
            rows = await self._db.write(
                # each channel's head by a skip scan of the pending index: one probe per
                # channel with pending posts, not a pass over every pending post
                "WITH RECURSIVE heads AS ((SELECT channel, id FROM outbox "
                "WHERE state = 'pending' ORDER BY channel, id LIMIT 1) UNION ALL "
                "SELECT n.channel, n.id FROM heads h CROSS JOIN LATERAL (SELECT channel, id "
                "FROM outbox WHERE state = 'pending' AND channel > h.channel "
                "ORDER BY channel, id LIMIT 1) n), "
                "due AS (SELECT o.id FROM outbox o JOIN heads h ON h.id = o.id "
                "LEFT JOIN bodies b ON b.body_id = o.body "
                "WHERE (o.leased_until IS NULL OR o.leased_until < clock_timestamp()) "
                "AND (o.not_before IS NULL OR o.not_before::timestamptz <= %(now)s) "
                "AND split_part(o.channel, ':', 1) = ANY(%(platforms)s) "
                "AND NOT coalesce((b.doc->>'chart_pending')::boolean, false) "
                "AND NOT EXISTS (SELECT 1 FROM subscriptions s "
                "WHERE s.channel = o.channel AND s.paused) "
                "ORDER BY o.id LIMIT %(limit)s FOR UPDATE OF o SKIP LOCKED) "
                "UPDATE outbox o SET leased_by = %(worker)s, "
                "leased_until = clock_timestamp() + make_interval(secs => %(lease)s) "
                "FROM due WHERE o.id = due.id RETURNING o.id",
                {
                    "now": now,
                    "platforms": list(platforms),
                    "limit": limit,
                    "worker": worker,
                    "lease": lease_seconds,
                },
            )
            if not rows:
                return []
            return await self._select("WHERE o.id = ANY(%s) ORDER BY o.id", ([r[0] for r in rows],))

    async def renew(self, worker: str, keys: Collection[str], lease_seconds: float) -> int:
        """Extend this worker's leases of `keys` (it is still sending them)."""
        if not keys:
            return 0
        async with self._db.transaction(apart=True):
            rows = await self._db.write(
                "UPDATE outbox SET leased_until = clock_timestamp() + make_interval(secs => %s) "
                "WHERE key = ANY(%s) AND leased_by = %s AND state = 'pending' RETURNING 1",
                (lease_seconds, list(keys), worker),
            )
        return len(rows)

    async def in_flight(self, worker: str) -> int:
        """Posts `worker` holds and has not recorded (after a kill: what it may repeat)."""
        return int(
            await self._db.value(
                "SELECT count(*) FROM outbox WHERE leased_by = %s AND state = 'pending'",
                (worker,),
            )
        )

    async def release(self, worker: str, keys: Collection[str]) -> None:
        """Give leases back unsent (a worker that stops): other workers may take them now."""
        if keys:
            async with self._db.transaction(apart=True):
                await self._db.write(
                    "UPDATE outbox SET leased_by = NULL, leased_until = NULL "
                    "WHERE key = ANY(%s) AND leased_by = %s",
                    (list(keys), worker),
                )


def _attachment(attachment: Attachment, blobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    digest = hashlib.sha256(attachment.content).hexdigest()
    if digest not in blobs:
        data = base64.b64encode(attachment.content).decode("ascii")
        blobs[digest] = {"id": digest, "data": data}
    return attachment_entry(attachment, digest)
