"""The store interface: what the engine, the commands and the adapters may ask of a database.

Why an interface: rankbot's embedded default is TinyDB (`bot.store.tinydb`), and people who
outgrow one process move to a networked database (PostgreSQL, issue 16). Everything above the
store talks to these protocols only (an import-linter contract forbids importing a backend),
so a second backend is one more package plus one line in the composition root (`bot.app`),
and the shared contract tests (`tests/store/contract/`) run unchanged against it.

The methods are `async` wherever a networked backend does I/O; an embedded backend may answer
from memory without suspending. Values in and out are the core's (`Snapshot`, `Event`,
`Subscription`, ...) or the small frozen records below; repositories never hand out their
storage documents.

Transactions. `async with store.transaction():` is the unit of work: every write made by the
same task inside the block (through any repository of this store) commits together when the
block ends, durably, or not at all when it raises. A nested `transaction()` joins the outer
one. A write outside any block is a transaction of its own. The poller relies on it: a
snapshot, its events, the detector state and the posts planned from them are stored together
or not at all. Rules for callers: never await anything but the store inside a block (no
network, no chart drawing), so a block is short and cannot wait for another task's write; and
act on the outside world (send a post) only after the block that recorded the decision ended.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Final, Literal, Protocol

from bot.core.events import DetectorState, Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.core.model import Snapshot
from bot.core.planning import Held, Planned
from bot.core.subscription import Subscription

SCHEMA_VERSION = 4
"""The data model these protocols describe, and the TinyDB file format. 2 → 3: posts refer to
their events by key (bodies stored once and shared), sent posts are pruned, failed posts keep
their body and say why, held alerts refer to events by key, the source's raw days are one
table for every source. 3 → 4: the same data; the TinyDB journal writes a fan-out's posts as
one line (`bot.store.tinydb.migrate`)."""


# --- history ---------------------------------------------------------------------------------


class Stored(Enum):
    """What `History.add_snapshot` did with a reading."""

    NEW = "new"
    """The newest reading of its stream: news."""
    UNCHANGED = "unchanged"
    """It says exactly what is stored already: nothing written."""
    RESTATED = "restated"
    """A date already held, with new figures: history corrected, not news."""
    LATE = "late"
    """An older date filled in after newer ones: history, not news."""


class History(Protocol):
    """Snapshots, the event log, each stream's detector state and the models ever seen.

    Appended once per poll; read by detection, `/top`, `/model`, charts."""

    async def add_snapshot(self, snapshot: Snapshot) -> Stored:
        """Store a reading unless it repeats the stored one for its date (see `Stored`)."""
        ...

    async def latest_snapshot(self, source: str, period: str) -> Snapshot | None: ...

    async def snapshots(
        self, source: str, period: str, *, last: int | None = None, until: date | None = None
    ) -> list[Snapshot]:
        """A stream's snapshots oldest first: those dated `until` or earlier (all when None),
        only the `last` few of them when given."""
        ...

    async def streams(self) -> list[tuple[str, str]]:
        """Every (source, period) with a snapshot, sorted."""
        ...

    async def snapshot_count(self) -> int: ...

    async def detector_state(self, source: str, period: str) -> DetectorState | None:
        """What detection last announced for a stream (milestones included)."""
        ...

    async def set_detector_state(self, source: str, period: str, state: DetectorState) -> None: ...

    async def known_models(self, source: str) -> frozenset[str]:
        """Every model any stored snapshot of `source` listed (for `new_model`)."""
        ...

    async def add_known_models(self, source: str, models: Iterable[str]) -> None: ...

    async def log_events(self, events: Iterable[Event], now: datetime) -> list[Event]:
        """Append the events not logged before (by key); return those. The log is kept
        forever: it is what stops old events from being planned again (`Outbox`)."""
        ...

    async def events(self, *, last: int | None = None) -> list[Event]:
        """The event log, oldest first (the `last` few when given)."""
        ...


class SourceDays(Protocol):
    """A source's raw data per day, as the source stores it (OpenRouter's daily rows).

    The documents are the source's own JSON objects; the store only keeps them by
    (source, day)."""

    async def load(self, source: str, since: str | None = None) -> dict[str, Mapping[str, Any]]:
        """The stored days of `source` on or after `since` (`YYYY-MM-DD`; every day when
        None), oldest first: `YYYY-MM-DD` → its document (do not mutate it). A poll asks for
        the days its windows need, not for the whole history."""
        ...

    async def newest(self, source: str) -> str | None:
        """The newest stored day of `source` (`YYYY-MM-DD`), or None when it has none."""
        ...

    async def put(self, source: str, day: str, doc: Mapping[str, Any]) -> None:
        """Store (or replace) one day's document."""
        ...


class StateValues(Protocol):
    """A small key → JSON value map shared by several owners; every key is spelled in
    `bot.store.keys`."""

    async def get(self, key: str) -> Any:
        """The value, or None when the key was never set."""
        ...

    async def set(self, key: str, value: Any) -> None: ...


# --- subscriptions and held alerts -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DetectionAsks:
    """What the subscriptions ask of detection, over all channels: every top N someone
    watches, and the smallest rank move and surge anyone set (None: nobody set one)."""

    top_ns: tuple[int, ...] = ()
    min_move: int | None = None
    min_change_pct: float | None = None


class Subscriptions(Protocol):
    """One record per channel (`bot.core.subscription.Subscription`), keyed by its channel."""

    async def get(self, channel: ChannelRef) -> Subscription | None: ...

    async def all(self) -> list[Subscription]:
        """Every record, sorted by channel key. Callers load this once per tick."""
        ...

    async def count(self) -> int: ...

    async def upsert(self, sub: Subscription) -> Subscription: ...

    async def remove(self, channel: ChannelRef) -> bool:
        """Remove the record (and whatever `HeldAlerts` holds for the channel)."""
        ...

    async def pause(self, channel: ChannelRef, reason: str, now: datetime) -> None:
        """Stop planning posts for a channel that cannot take them; keep every setting."""
        ...

    async def resume(
        self, channel: ChannelRef, now: datetime, by: str = ""
    ) -> Subscription | None: ...

    async def is_paused(self, channel: ChannelRef) -> bool:
        """Asked by delivery before every post: must be cheap."""
        ...

    async def needing_attention(self) -> list[Subscription]:
        """Records a quiet tick must look at even without news: not yet confirmed, or with a
        mute set (its end is announced). Everything else waits for events."""
        ...

    async def in_workspace(self, platform: str, workspace: str) -> list[Subscription]: ...

    async def detection_asks(self) -> DetectionAsks: ...

    async def sync_declared(self, declared: Iterable[Subscription], now: datetime) -> None:
        """Make the config's `[[channels]]` the truth for workspace `config` records:
        settings from the file, history (creation, confirmation, pause, mute) kept, records
        removed from the file removed."""
        ...


class HeldAlerts(Protocol):
    """Events held back per channel until quiet hours end or a digest is due. Events are
    referred to by key: each is stored once, in the event log."""

    async def hold(self, channel: ChannelRef, events: Iterable[Event], now: datetime) -> None:
        """Hold `events` for `channel`; an event already held there is not held twice. Every
        event must be in the event log (`History.log_events`)."""
        ...

    async def of(self, channel: ChannelRef) -> list[Held]:
        """What `channel` holds, oldest first."""
        ...

    async def release(self, channel: ChannelRef, keys: Iterable[str]) -> None:
        """Forget the held events with these keys (they were posted or dropped)."""
        ...

    async def holding(self) -> dict[ChannelRef, datetime]:
        """Each channel holding anything, sorted by key, with when its oldest held event was
        held: what decides whether anything is due (a digest is due at its first scheduled
        time after it), so a tick reads the events of due channels only."""
        ...

    async def count(self) -> int: ...


# --- the outbox ------------------------------------------------------------------------------

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
DROPPED: Final = "dropped"
PostState = Literal["pending", "sent", "failed", "dropped"]
"""A post's life: `pending` → `sent` | `failed` | `dropped`. A failed post can go back to
pending (`retry`, `requeue`); sent and dropped are final."""

ACCESS: Final = "access"
CONTENT: Final = "content"
Failure = Literal["access", "content"]
"""Why a post failed for good: `access`, the channel cannot take posts (not in channel, channel
gone or archived, permission missing, webhook 401/403/404/410: the channel is paused); or
`content`, the platform rejected this message (invalid blocks, HTTP 400)."""


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """The chart an alert carries, by what it shows: drawn after the post is stored (off the
    event loop), from the stream's history up to `as_of`; until then the post waits."""

    kind: str
    source: str
    period: str
    as_of: date
    lang: str = "en"
    """The language of its title, legend and alt text (the channel's)."""

    @property
    def key(self) -> str:
        key = f"{self.kind}:{self.source}:{self.period}:{self.as_of.isoformat()}"
        return key if self.lang == "en" else f"{key}:{self.lang}"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One planned post as delivery and `status` see it."""

    key: str
    channel: ChannelRef
    message: Message
    """Events, text and attachments; shared (the same object) by every post of the same body,
    so a renderer may cache its output per message."""
    enqueued_at: datetime
    state: PostState = "pending"
    attempts: int = 0
    not_before: datetime | None = None
    """Earliest time of the next attempt (after a RETRY), kept across restarts."""
    last_error: str | None = None
    failure: Failure | None = None
    finished_at: datetime | None = None
    """When it was sent, failed or dropped."""
    chart_pending: bool = False
    """Its chart is still being drawn: delivery waits for it (`Outbox.attach_chart`)."""

    def is_due(self, now: datetime) -> bool:
        return self.not_before is None or self.not_before <= now


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one attempt: `sent`, `failed` (for good, with its `failure`), or
    `pending` (try again at `not_before`)."""

    key: str
    state: PostState
    at: datetime
    platform_id: str | None = None
    reason: str | None = None
    not_before: datetime | None = None
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class Requeued:
    """What `Outbox.requeue` did: keys back to pending (original order), and the failed keys
    it left alone because they failed before the cutoff (or kept no body to send)."""

    requeued: tuple[str, ...] = ()
    older: tuple[str, ...] = ()


class Outbox(Protocol):
    """Every planned post, written before anything is sent.

    Promises (what delivery and the kill tests rely on): a post key is enqueued once, ever,
    whatever became of it; each channel's pending posts go out in enqueue order; an item
    recorded as sent is never handed out again. Sent and dropped posts are pruned after
    `keep_sent_days`; after that their keys cannot come back because events are planned only
    when first logged (`History.log_events` keeps every key forever) and every notice's key
    carries its own time. Failed posts keep their body and are never pruned.
    """

    async def enqueue(
        self,
        posts: Iterable[Planned],
        *,
        now: datetime,
        charts: Mapping[str, ChartSpec] | None = None,
    ) -> int:
        """Add posts; return how many were new (a key held before is skipped). `charts`
        maps a post key to the chart it will carry: the post waits until `attach_chart`."""
        ...

    async def head(self, channel: ChannelRef) -> OutboxItem | None:
        """The channel's oldest pending post: the only one that may be sent next. Only
        posts whose enqueue is durable are handed out."""
        ...

    async def pending(self, channel: ChannelRef) -> list[OutboxItem]: ...

    async def channels(self) -> list[ChannelRef]:
        """Channels with pending posts, the one with the oldest first."""
        ...

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write what became of several attempts at once (delivery's group commit). Raises
        `KeyError`, writing nothing, when a post is not pending."""
        ...

    async def state_of(self, key: str) -> PostState | None:
        """The post's state, or None for a key not held (never enqueued, or pruned)."""
        ...

    async def item(self, key: str) -> OutboxItem | None: ...

    async def count(
        self, channel: ChannelRef | None = None, state: PostState = "pending"
    ) -> int: ...

    async def counts(self) -> dict[tuple[ChannelRef, PostState], int]:
        """Posts per channel and state (for `status` and the admin command line)."""
        ...

    async def items(
        self, channel: ChannelRef | None = None, state: PostState | None = None
    ) -> list[OutboxItem]:
        """Posts in enqueue order, optionally of one channel and state."""
        ...

    async def requeue(self, channel: ChannelRef, newer_than: datetime) -> Requeued:
        """Access failures of `channel` that failed after `newer_than` go back to pending,
        in their original order (after a `resume`)."""
        ...

    async def drop(self, keys: Iterable[str], now: datetime) -> int:
        """Give up on pending or failed posts: `dropped`, kept for dedup until pruned."""
        ...

    async def retry(self, keys: Iterable[str]) -> int:
        """Failed posts back to pending (attempts reset)."""
        ...

    async def prune(self, now: datetime, keep_sent_days: float) -> int:
        """Forget sent and dropped posts finished more than `keep_sent_days` ago, and the
        bodies and blobs nothing refers to any more; return how many posts went."""
        ...

    async def charts_pending(self) -> list[ChartSpec]:
        """Charts some stored post still waits for (after a restart: draw them again)."""
        ...

    async def attach_chart(self, chart: ChartSpec, attachment: Attachment | None) -> int:
        """Give every post waiting for `chart` its picture (None: go without one); return
        how many bodies changed."""
        ...


# --- Slack installations (OAuth) ----------------------------------------------------------------


class SlackInstallations(Protocol):
    """Slack installs in many workspaces (HTTP mode with OAuth) and the OAuth `state` values.

    Documents are slack_sdk's `Installation` / `Bot` fields (`kind` = `installation` or
    `bot`); they hold bot tokens, which is why the database must be readable by rankbot
    only."""

    async def save(self, kind: str, doc: Mapping[str, Any]) -> None: ...

    async def find(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        """The newest matching install (by `installed_at`), without its `kind`."""
        ...

    async def delete(
        self,
        kind: str,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None: ...

    async def issue_state(self, state: str, expires: float, now: float) -> None:
        """Remember an OAuth `state` until `expires` (Unix time); forget those expired by
        `now`."""
        ...

    async def consume_state(self, state: str, now: float) -> bool:
        """True (and forget it) when `state` was issued and has not expired."""
        ...


# --- the store --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compacted:
    """What `Store.compact` did: the bytes on disk before and after."""

    before: int
    after: int


class Store(Protocol):
    """A database: its repositories, transactions, and its life cycle.

    Opened by the composition root (`bot.app.open_store`), closed with `close()` (or used as
    `async with`). A read-only store (`rankbot top`) raises `StoreReadOnly` on writes.
    """

    @property
    def history(self) -> History: ...

    @property
    def days(self) -> SourceDays: ...

    @property
    def state(self) -> StateValues: ...

    @property
    def subscriptions(self) -> Subscriptions: ...

    @property
    def held(self) -> HeldAlerts: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def slack(self) -> SlackInstallations: ...

    @property
    def location(self) -> str:
        """Where the data lives, for messages (a path; never a password)."""
        ...

    @property
    def schema_version(self) -> int: ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """The unit of work (see the module docstring)."""
        ...

    async def compact(self) -> Compacted:
        """Rewrite the storage to its smallest form (`rankbot db compact`)."""
        ...

    async def close(self) -> None:
        """Wait until every commit is durable, then release the database."""
        ...

    async def __aenter__(self) -> Store: ...

    async def __aexit__(self, *exc: object) -> None: ...


# --- several processes on one database (a networked backend only) ----------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A rate limit shared by every process: at most `messages` sends in any `seconds`,
    counted under `bucket` (a channel's key, or a platform's name)."""

    bucket: str
    messages: int
    seconds: float


class PostLeases(Protocol):
    """Outbox posts leased to one delivery worker process at a time (issue 16's `worker`
    role). Only a channel's oldest pending post can be leased, and it stays pending until its
    outcome is recorded (`Outbox.record`, which ends the lease), so a channel has one post in
    flight across all workers and its posts go out in order. A lease not renewed runs out:
    the post goes to another worker (a duplicate only if it was in flight)."""

    async def claim(
        self,
        worker: str,
        limit: int,
        *,
        lease_seconds: float,
        now: datetime,
        platforms: Collection[str],
    ) -> list[OutboxItem]:
        """Lease up to `limit` due posts of `platforms` that no other worker holds."""
        ...

    async def renew(self, worker: str, keys: Collection[str], lease_seconds: float) -> int:
        """Extend this worker's leases (it is still sending); return how many it still held."""
        ...

    async def release(self, worker: str, keys: Collection[str]) -> None:
        """Give leases back without an outcome (the worker stops)."""
        ...


class SharedRateWindows(Protocol):
    """Rate limits counted in the database, so that processes share them."""

    async def take(self, windows: Sequence[Window], token: str | None = None) -> float:
        """Count one send in every window if each has room now and return 0; else count
        nothing and return the seconds until they may have room. `token` names the send
        for `settle`."""
        ...

    async def settle(self, token: str) -> None:
        """The send `token` was answered: count it from now on (it arrived by now), so a
        send that left late cannot share a window with the next ones."""
        ...


class Leadership(Protocol):
    """One process of many leads (the `poller` role): a lock the database releases by itself
    when the holder's connection goes, so a dead leader's successor takes over at once."""

    async def try_lead(self) -> bool:
        """Take the lead if nobody holds it; True while this process holds it."""
        ...

    async def still_leading(self) -> bool:
        """False once the connection holding the lead is gone (stop acting as leader)."""
        ...

    async def resign(self) -> None: ...
