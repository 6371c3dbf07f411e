"""Planning posts: matched events → at most one grouped message per channel, or held back.

Pure: subscriptions, events and held events in, `Planned` posts and decisions out; `now` is
passed in. `bot.engine.planner.Planner` is the shell that reads and writes the store around
these functions.
One poll's events for one channel become ONE message (one section per snapshot, newest first:
`bot.core.grouping`), so a burst of changes never floods a channel, and each post's key is
derived from its event keys and the channel key only (never from its title or note), so
planning the same events again (after a restart) yields the same key and the outbox refuses
the duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from bot.core.events import Event
from bot.core.grouping import ordered
from bot.core.matching import select
from bot.core.messages import ChannelRef, Message
from bot.core.subscription import Subscription, summary
from bot.core.text import TN, Dates, T, Text, joined


class Planned(NamedTuple):
    """One post for the outbox: `key` is its idempotency key.

    A named tuple, not a frozen dataclass: a busy poll makes one per channel (10,000), and a
    frozen dataclass's `__init__` costs three times as much (a `object.__setattr__` per
    field)."""

    channel: ChannelRef
    message: Message
    key: str
    title: Text | None = None
    notice: Text | None = None
    note: Text | None = None
    """Words the message carries, still to be said in the channel's language: the shell
    (`bot.engine.planner`) renders them into `message.title` / `.notice` / `.note` before the
    post is enqueued, since the core holds no translations."""


@dataclass(frozen=True, slots=True)
class Held:
    """An event waiting for quiet hours to end or for the next digest."""

    event: Event
    held_at: datetime


class Routed(NamedTuple):
    """What to do with a channel's share of fresh events: post now, hold, or count as muted.
    (A named tuple: one is made per channel per poll, at a third of a frozen dataclass's cost.)"""

    post: Planned | None = None
    hold: tuple[Event, ...] = ()
    skipped: int = 0


_NOTHING = Routed()


@dataclass(frozen=True, slots=True)
class Released:
    """What becomes of held events now; `clear` says whether they leave the holding table."""

    post: Planned | None = None
    skipped: int = 0
    clear: bool = False


def without_implied(events: Iterable[Event]) -> list[Event]:
    """Drop a top-N entry that a new #1 of the same ranking already says: "MiniMax M2.5 is
    the new #1" needs no "MiniMax M2.5 entered the top 10 at #1" below it. A channel that
    does not take `new_leader` keeps the entry."""
    events = list(events)

    def subject(e: Event) -> tuple[object, ...]:
        return (e.source, e.period, e.as_of, e.fields.get("model"))

    leaders = {subject(e) for e in events if e.kind == "new_leader"}
    return [e for e in events if not (e.kind == "top_entry" and subject(e) in leaders)]


def plan_key(channel: ChannelRef, events: Sequence[Event], prefix: str = "post") -> str:
    """Stable across restarts: the channel key and the hash of the sorted event keys."""
    return _post_key(prefix, channel, _events_hash(events))


def _events_hash(events: Iterable[Event]) -> str:
    """What a post's key says of its events (32 hex digits of their sorted keys' SHA-256):
    computed once for a message that thousands of channels share (`Router`, `Releaser`), so
    a channel's key costs one string join, not a hash of its own. The channel key is in the
    post key in clear, so two channels never share a key."""
    joined = "".join("\n" + key for key in sorted(e.key for e in events))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


def _post_key(prefix: str, channel: ChannelRef, events_hash: str) -> str:
    return f"{prefix}:{channel.key}:{events_hash}"


def grouped(
    channel: ChannelRef,
    events: Iterable[Event],
    *,
    title: Text | None = None,
    prefix: str = "post",
    note: Text | None = None,
) -> Planned:
    events = tuple(ordered(without_implied(events)))
    key = plan_key(channel, events, prefix)
    return Planned(channel, Message(events=events), key, title=title, note=note)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A poll that filled a gap of `days` days (`first` … `last`) after an outage: only the
    snapshots of the last `announced_days` days were news, the older ones went in silently."""

    days: int
    first: date
    last: date
    announced_days: int


def catch_up_note(catch_up: CatchUp) -> Text:
    """The one line every post planned from a catch-up's news carries."""
    days = TN("%(n)s day", "%(n)s days", catch_up.days)
    dates = Dates(catch_up.first, catch_up.last)
    if catch_up.days <= catch_up.announced_days:
        return T(
            "↻ rankbot caught up %(days)s after an outage (%(dates)s).", days=days, dates=dates
        )
    return T(
        "↻ rankbot caught up %(days)s after an outage (%(dates)s); changes older than "
        "%(within)s went in silently.",
        days=days,
        dates=dates,
        within=TN("%(n)s day", "%(n)s days", catch_up.announced_days),
    )


class Router:
    """Each channel's share of one poll's events (`route`), for every subscription of it.

    What a channel wants depends only on what it asks for (kinds, periods, filters), and the
    grouped message only on what it wants: both are worked out once per distinct ask and
    shared (the same `Message` object), so 10,000 channels with a few dozen distinct asks
    cost a few dozen selections, and each channel only its own post key.
    """

    def __init__(self, events: Iterable[Event], *, note: Text | None = None) -> None:
        self._events = list(events)
        self._note = note
        self._wanted: dict[tuple[object, ...], tuple[Event, ...]] = {}
        self._same: dict[tuple[int, int, int], tuple[object, tuple[Event, ...]]] = {}
        self._shared = _SharedPosts()

    def route(self, sub: Subscription, now: datetime) -> Routed:
        """A channel's share: paused channels get nothing planned; `note` goes with a post
        made now (not with events held for later)."""
        # subscriptions whose settings are the very same objects (a store shares equal
        # values) skip even the hashing of their ask; the entry keeps those objects alive,
        # so their ids cannot be reused by others while the router lives
        same = (id(sub.kinds), id(sub.periods), id(sub.filters))
        known = self._same.get(same)
        if known is None:
            ask = (sub.kinds, sub.periods, sub.filters)
            wanted = self._wanted.get(ask)
            if wanted is None:
                wanted = self._wanted[ask] = tuple(select(sub, self._events))
            self._same[same] = (ask, wanted)
        else:
            wanted = known[1]
        if not wanted or sub.paused:
            return _NOTHING
        if sub.muted(now):
            return Routed(skipped=len(wanted))
        if sub.digest is not None or (sub.quiet is not None and sub.quiet.contains(now)):
            return Routed(hold=wanted)
        # `wanted` is kept alive by `_wanted`, so its id names it while the router lives; the
        # shared first post is looked up here, without a call with keywords per channel
        shared = self._shared.firsts.get(id(wanted))
        if shared is None:
            shared = self._shared.first(id(wanted), sub.channel, wanted, note=self._note)
        return Routed(_from_first(shared, sub.channel, "post"))


class _SharedPosts:
    """Grouped messages that many channels get alike (`Router`, `Releaser`): each is grouped
    once per `ask` and shared (the same `Message` object); a channel only gets its own key."""

    def __init__(self) -> None:
        self.firsts: dict[object, tuple[Planned, str]] = {}
        """Per ask: the first channel's post and its events' hash (`first`)."""

    def first(
        self,
        ask: object,
        channel: ChannelRef,
        events: Sequence[Event],
        *,
        prefix: str = "post",
        title: Text | None = None,
        note: Text | None = None,
    ) -> tuple[Planned, str]:
        """The first channel's post for `ask` (grouped now if it is the first), and the
        hash of its events that every channel's key carries (`_post_key`)."""
        shared = self.firsts.get(ask)
        if shared is None:
            first = grouped(channel, events, title=title, prefix=prefix, note=note)
            shared = self.firsts[ask] = (first, _events_hash(first.message.events))
        return shared


def _from_first(shared: tuple[Planned, str], channel: ChannelRef, prefix: str) -> Planned:
    """`channel`'s post of a shared message (`_SharedPosts.first`): the same message, its own
    key. Built directly, positionally: once per channel (`dataclasses.replace` cost several
    times more)."""
    first = shared[0]
    key = _post_key(prefix, channel, shared[1])
    return Planned(channel, first.message, key, first.title, first.notice, first.note)


def holds_back(sub: Subscription, oldest: datetime, now: datetime) -> bool:
    """Whether a channel keeps holding what it holds since `oldest`: it is paused, its
    digest is not due yet (due at its first scheduled time after `oldest`), or it is in its
    quiet hours. Known from the oldest moment alone, so a tick looks no further into a
    channel that holds back (`Releaser.release` asks the same)."""
    if sub.paused:
        return True
    if sub.digest is not None:
        return now < sub.digest.next_due(oldest)
    return sub.quiet is not None and sub.quiet.contains(now)


class Releaser:
    """What becomes of each channel's held events (`release`), for every channel of one tick.

    Channels that held the same events since the same moment, under the same kind of hold,
    get the same message: it is grouped once and shared (the same `Message` object, as
    `Router` shares it), and each channel only gets its own post key. A daily digest due in
    200 channels is grouped, translated and stored once, not 200 times.
    """

    def __init__(self) -> None:
        self._shared = _SharedPosts()

    def release(self, sub: Subscription, held: Sequence[Held], now: datetime) -> Released:
        """Held events become one message when their digest is due or quiet hours have
        ended. A digest is due at its first scheduled time after the oldest held event.
        Events that come due while the channel is muted are dropped and counted like any
        muted alert."""
        if not held:
            return Released()
        oldest = min(h.held_at for h in held)
        if holds_back(sub, oldest, now):
            return Released()
        if sub.muted(now):
            return Released(skipped=len(held), clear=True)
        events = [h.event for h in held]
        # what decides the message: the kind of hold (what the title says), since when, what
        ask = (sub.digest.every if sub.digest else str(sub.quiet), oldest, *(e.key for e in events))
        if sub.digest is not None:
            if sub.digest.every == "daily":
                title = T(
                    "Daily digest: %(n)s alert(s) since %(since)s", n=len(events), since=oldest
                )
            else:
                title = T(
                    "Weekly digest: %(n)s alert(s) since %(since)s", n=len(events), since=oldest
                )
            shared = self._shared.first(ask, sub.channel, events, prefix="digest", title=title)
            post = _from_first(shared, sub.channel, "digest")
            return Released(post, clear=True)
        heading = (
            T("Held during quiet hours (%(range)s)", range=str(sub.quiet))
            if sub.quiet is not None
            else None
        )
        shared = self._shared.first(ask, sub.channel, events, title=heading)
        return Released(_from_first(shared, sub.channel, "post"), clear=True)


def confirmation(sub: Subscription, now: datetime) -> Planned:
    """The one notice a new subscription gets: what is active, and that history is not sent."""
    lines: list[Text | str] = [
        T(
            "rankbot is now watching this channel, from now on: alerts start with the next "
            "ranking update (nothing from before is posted)."
        ),
        *(joined(["•", line]) for line in summary(sub, now)),
    ]
    created = sub.created_at.isoformat() if sub.created_at else "unknown"
    key = f"confirm:{sub.channel.key}:{created}"
    return Planned(sub.channel, Message(), key, title=T("Subscribed"), notice=joined(lines, "\n"))


def mute_ended(sub: Subscription, now: datetime) -> Planned | None:
    """The notice after a mute ends, when anything was skipped during it."""
    if sub.mute_until is None or sub.muted(now) or sub.skipped == 0:
        return None
    text = TN(
        "%(n)s alert was skipped while muted (until %(until)s).",
        "%(n)s alerts were skipped while muted (until %(until)s).",
        sub.skipped,
        until=sub.mute_until,
    )
    key = f"muted:{sub.channel.key}:{sub.mute_until.isoformat()}"
    return Planned(sub.channel, Message(), key, notice=text)


def health_notices(
    subs: Iterable[Subscription],
    notice: str,
    text: Text,
    at: datetime,
    operator: ChannelRef | None = None,
) -> list[Planned]:
    """The source's outage (or recovery) notice, once, to every channel that subscribed to
    `source_health` and to the operator's channel; `at` makes the key unique to this one."""
    channels = [s.channel for s in subs if "source_health" in s.kinds and not s.paused]
    if operator is not None and operator not in channels:
        channels.append(operator)
    title = T("Rankings source down") if notice == "outage" else T("Rankings source back")
    return [
        Planned(c, Message(), f"health:{notice}:{at.isoformat()}:{c.key}", title=title, notice=text)
        for c in channels
    ]


def health_text(
    source: str,
    notice: str,
    newest_day: str | None,
    last_error: str | None,
    outage_hours: float,
) -> Text:
    """The words of a source-health notice, from the source's health record."""
    newest: Text | str = newest_day or T("none yet")
    if notice == "outage":
        why = T(" Last error: %(error)s.", error=last_error) if last_error else ""
        return T(
            "⚠️ No new ranking data from %(source)s for more than %(hours)s h (newest day "
            "held: %(newest)s).%(why)s rankbot keeps polling; this channel gets one more "
            "notice when data flows again, nothing in between.",
            source=source,
            hours=format(outage_hours, "g"),
            newest=newest,
            why=why,
        )
    return T(
        "✅ Ranking data from %(source)s is flowing again (newest day held: %(newest)s).",
        source=source,
        newest=newest,
    )
