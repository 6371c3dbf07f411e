"""The admin operations behind `rankbot status`, `channels`, `outbox`, `subscriptions`,
`send-test` and `db backup`: written once, against the store protocols only.

Why one implementation for two routes: with a bot running, the command line sends the
operation to the bot's `[ops]` listener (`bot.ops.server`) and it runs here on the bot's own
loop and store, so a `resume` takes effect at once (delivery is kicked); with no bot running,
the command line opens the database itself and runs the very same code. Every result is plain
JSON data: the command line prints it as text or, with `--json`, as is.

What only a running bot knows (readiness, the next poll, its senders, its connections) comes
in as `Live`; without it, those fields say the bot is not running.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock, utcnow
from bot.config.file import Config
from bot.core.messages import ChannelRef
from bot.core.subscription import CONFIG_WORKSPACE, Subscription
from bot.delivery.resume import resume_channel
from bot.delivery.sender import SendResult, SendStatus
from bot.delivery.settings import DeliverySettings
from bot.errors import ExitCode, RankbotError, UsageError
from bot.ops.health import Readiness
from bot.store.protocols import FAILED, PENDING, OutboxItem, PostState, Store
from bot.store.source_health import has_health, read_health

EXPORT_FORMAT = "rankbot-subscriptions/1"
STATES: tuple[PostState, ...] = ("pending", "sent", "failed", "dropped")


class AdminError(UsageError):
    """An admin operation that cannot be done as asked (unknown channel, a config channel
    removed by hand); the message says what to do instead."""


@dataclass(frozen=True)
class Live:
    """What a running bot adds: its readiness, its next poll, its senders, and a way to tell
    delivery that the outbox or a pause changed."""

    kick: Callable[[], None]
    readiness: Callable[[], Readiness]
    next_poll: Callable[[], datetime | None]
    send_test: Callable[[ChannelRef, str], Awaitable[SendResult]]
    platforms: Callable[[], Sequence[str]]
    tokens_held: Callable[[], Sequence[tuple[str, str, str]]] = lambda: ()
    """(platform, which token, why) of every bot token refused right now (`TokenHealth`)."""


Backup = Callable[[Path], Awaitable[str]]
"""Write a verified copy of the database to a path; return a line saying what was written."""


class Admin:
    """The operations, by name (`call(op, args)`), for the listener and the command line."""

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        source: str = "openrouter",
        live: Live | None = None,
        backup: Backup | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.config = config
        self.source = source
        self.live = live
        self._backup = backup
        self._clock = clock
        self._ops: Mapping[str, Callable[[Mapping[str, Any]], Awaitable[Any]]] = {
            "status": self.status,
            "channels.list": self.channels_list,
            "channels.pause": self.channels_pause,
            "channels.resume": self.channels_resume,
            "channels.remove": self.channels_remove,
            "outbox.list": self.outbox_list,
            "outbox.retry": self.outbox_retry,
            "outbox.drop": self.outbox_drop,
            "subscriptions.export": self.subscriptions_export,
            "subscriptions.import": self.subscriptions_import,
            "send-test": self.send_test,
            "db.backup": self.db_backup,
        }

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(self._ops)

    async def call(self, op: str, args: Mapping[str, Any]) -> Any:
        handler = self._ops.get(op)
        if handler is None:
            raise AdminError(f"unknown admin operation {op!r}")
        return await handler(args)

    # --- channels ----------------------------------------------------------------------------

    async def channel(self, name: str) -> ChannelRef:
        """A channel by key (`slack:T1:C1`), or a `[[channels]]` name (`ops-alerts`)."""
        if name.count(":") >= 2:
            return ChannelRef.from_key(name)
        declared: list[ChannelRef] = [
            d.subscription.channel for d in self.config.section("channels") if d.name == name
        ]
        stored = [
            s.channel
            for s in await self.store.subscriptions.all()
            if s.channel.workspace == CONFIG_WORKSPACE and s.channel.channel == name
        ]
        found = list(dict.fromkeys([*declared, *stored]))
        if len(found) == 1:
            return found[0]
        if not found:
            raise AdminError(
                f"no channel {name!r}: give a [[channels]] name or a channel key like "
                "slack:T0123:C0456 (`rankbot channels list` shows them)"
            )
        keys = ", ".join(c.key for c in found)
        raise AdminError(f"{name!r} names several channels ({keys}): give the key")

    async def _subscription(self, name: str) -> Subscription:
        channel = await self.channel(name)
        sub = await self.store.subscriptions.get(channel)
        if sub is None:
            raise AdminError(f"{channel.key} has no subscription (`rankbot channels list`)")
        return sub

    async def channels_list(self, args: Mapping[str, Any]) -> dict[str, Any]:
        counts = await self.store.outbox.counts()
        declared = {d.subscription.channel: d for d in self.config.section("channels")}
        rows = []
        for sub in await self.store.subscriptions.all():
            rows.append(
                {
                    "channel": sub.channel.key,
                    "name": declared[sub.channel].name if sub.channel in declared else None,
                    "platform": sub.channel.platform,
                    "declared_in_config": sub.channel.workspace == CONFIG_WORKSPACE,
                    "paused": sub.paused,
                    "pause_reason": sub.pause_reason,
                    "muted_until": _iso(sub.mute_until) if sub.muted(self._clock()) else None,
                    "kinds": list(sub.kinds),
                    "periods": list(sub.periods),
                    "lang": sub.lang,
                    "pending": counts.get((sub.channel, PENDING), 0),
                    "failed": counts.get((sub.channel, FAILED), 0),
                }
            )
        return {"channels": rows}

    async def channels_pause(self, args: Mapping[str, Any]) -> dict[str, Any]:
        sub = await self._subscription(str(args["channel"]))
        reason = str(args.get("reason") or "paused by an operator")
        await self.store.subscriptions.pause(sub.channel, reason, self._clock())
        return {"channel": sub.channel.key, "paused": True, "pause_reason": reason}

    async def channels_resume(self, args: Mapping[str, Any]) -> dict[str, Any]:
        sub = await self._subscription(str(args["channel"]))
        settings: DeliverySettings = self.config.section("delivery")
        result = await resume_channel(
            self.store,
            sub.channel,
            self._clock(),
            by="rankbot channels resume",
            resend_within_days=settings.resend_within_days,
        )
        self._kick()
        return {
            "channel": sub.channel.key,
            "was_paused": result.was_paused,
            "pause_reason": sub.pause_reason,
            "resent": result.requeued,
            "dropped_too_old": result.dropped,
            "refused": result.refused,
            "resend_within_days": settings.resend_within_days,
            "pending": await self.store.outbox.count(sub.channel),
            "delivering_now": self.live is not None,
        }

    async def channels_remove(self, args: Mapping[str, Any]) -> dict[str, Any]:
        channel = await self.channel(str(args["channel"]))
        if channel.workspace == CONFIG_WORKSPACE:
            raise AdminError(
                f"{channel.key} is declared in the config file ([[channels]] name = "
                f'"{channel.channel}"): remove its table there and restart rankbot (the file '
                "is the truth; a removed table removes the channel)"
            )
        states: tuple[PostState, ...] = (PENDING, FAILED)
        waiting = [
            item.key for state in states for item in await self.store.outbox.items(channel, state)
        ]
        async with self.store.transaction():
            removed = await self.store.subscriptions.remove(channel)
            dropped = await self.store.outbox.drop(waiting, self._clock()) if waiting else 0
        if not removed:
            raise AdminError(f"{channel.key} has no subscription (`rankbot channels list`)")
        return {"channel": channel.key, "removed": True, "dropped_posts": dropped}

    # --- the outbox --------------------------------------------------------------------------

    async def outbox_list(self, args: Mapping[str, Any]) -> dict[str, Any]:
        channel = await self.channel(str(args["channel"])) if args.get("channel") else None
        wanted = args.get("state")
        state = next((s for s in STATES if s == wanted), None)
        if wanted is not None and state is None:
            raise AdminError(f"--state: expected one of {', '.join(STATES)}, got {wanted!r}")
        items = await self.store.outbox.items(channel, state)
        limit = int(args.get("limit") or 0)
        shown = items[-limit:] if limit else items
        return {"total": len(items), "posts": [_item(i) for i in shown]}

    async def _keys(self, args: Mapping[str, Any], states: Sequence[PostState]) -> list[str]:
        keys = [str(k) for k in args.get("keys") or ()]
        if args.get("channel"):
            channel = await self.channel(str(args["channel"]))
            keys += [i.key for s in states for i in await self.store.outbox.items(channel, s)]
        if not keys:
            raise AdminError("name the posts: their keys (`rankbot outbox list`) or --channel")
        for key in keys:
            if await self.store.outbox.state_of(key) is None:
                raise AdminError(f"no post with key {key!r} (`rankbot outbox list`)")
        return list(dict.fromkeys(keys))

    async def outbox_retry(self, args: Mapping[str, Any]) -> dict[str, Any]:
        keys = await self._keys(args, (FAILED,))
        retried = await self.store.outbox.retry(keys)
        self._kick()
        paused = []
        for key in keys:
            item = await self.store.outbox.item(key)
            if item is not None and await self.store.subscriptions.is_paused(item.channel):
                paused.append(item.channel.key)
        return {"retried": retried, "asked": len(keys), "paused": sorted(set(paused))}

    async def outbox_drop(self, args: Mapping[str, Any]) -> dict[str, Any]:
        keys = await self._keys(args, (PENDING, FAILED))
        return {"dropped": await self.store.outbox.drop(keys, self._clock()), "asked": len(keys)}

    # --- subscriptions -----------------------------------------------------------------------

    async def subscriptions_export(self, args: Mapping[str, Any]) -> dict[str, Any]:
        subs = await self.store.subscriptions.all()
        return {
            "format": EXPORT_FORMAT,
            "exported_at": _iso(self._clock()),
            "subscriptions": [s.to_dict() for s in subs if s.channel.workspace != "config"],
        }

    async def subscriptions_import(self, args: Mapping[str, Any]) -> dict[str, Any]:
        doc = args.get("document")
        if not isinstance(doc, Mapping) or doc.get("format") != EXPORT_FORMAT:
            raise AdminError(
                f'not a rankbot subscriptions export (expected "format": "{EXPORT_FORMAT}"'
                ", as `rankbot subscriptions export` writes)"
            )
        raw = doc.get("subscriptions")
        if not isinstance(raw, list):
            raise AdminError('"subscriptions": expected a list')
        subs: list[Subscription] = []
        for i, item in enumerate(raw, start=1):
            try:
                sub = Subscription.from_dict(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise AdminError(
                    f"subscription #{i}: not a subscription ({type(exc).__name__}: {exc})"
                ) from None
            if sub.channel.workspace == CONFIG_WORKSPACE:
                continue  # [[channels]] come from the config file, never from an import
            subs.append(sub)
        added = 0
        async with self.store.transaction():
            for sub in subs:
                added += await self.store.subscriptions.get(sub.channel) is None
                await self.store.subscriptions.upsert(sub)
        self._kick()
        return {"imported": len(subs), "new": added, "replaced": len(subs) - added}

    # --- status ------------------------------------------------------------------------------

    async def status(self, args: Mapping[str, Any]) -> dict[str, Any]:
        state = self.store.state
        health = (
            (await read_health(state, self.source)).to_dict()
            if await has_health(state, self.source)
            else None
        )
        counts = await self.store.outbox.counts()
        per_channel: dict[str, dict[str, int]] = {}
        for (channel, post_state), n in sorted(counts.items(), key=lambda kv: kv[0][0].key):
            if post_state in (PENDING, FAILED) and n:
                per_channel.setdefault(channel.key, {PENDING: 0, FAILED: 0})[post_state] = n
        subs = await self.store.subscriptions.all()
        paused = [
            {"channel": s.channel.key, "reason": s.pause_reason, "since": _iso(s.updated_at)}
            for s in subs
            if s.paused
        ]
        bot: dict[str, Any] = {"running": self.live is not None}
        next_poll = health.get("next_poll") if health else None
        platforms: list[dict[str, Any]] = []
        if self.live is not None:
            readiness = self.live.readiness()
            bot["ready"] = readiness.ready
            bot["not_ready"] = dict(readiness.reasons)
            live_next = self.live.next_poll()
            next_poll = _iso(live_next) if live_next is not None else next_poll
            tokens = self.live.tokens_held()
            for platform in self.live.platforms():
                problem = readiness.reasons.get(platform)
                held = {which: why for p, which, why in tokens if p == platform}
                platforms.append(
                    {
                        "platform": platform,
                        "connected": problem is None,
                        "problem": problem,
                        "tokens_held": held,
                    }
                )
        return {
            "bot": bot,
            "database": self.store.location,
            "source": {"name": self.source, "health": health, "next_poll": next_poll},
            "platforms": platforms,
            "subscriptions": len(subs),
            "outbox": {
                "pending": sum(n for (_, s), n in counts.items() if s == PENDING),
                "failed": sum(n for (_, s), n in counts.items() if s == FAILED),
                "channels": [{"channel": k, **v} for k, v in per_channel.items()],
            },
            "paused": paused,
        }

    # --- a test post, a backup ---------------------------------------------------------------

    async def send_test(self, args: Mapping[str, Any]) -> dict[str, Any]:
        channel = await self.channel(str(args["channel"]))
        if self.live is None:
            raise AdminError("a test post needs the platforms' senders: start them first")
        sub = await self.store.subscriptions.get(channel)
        result = await self.live.send_test(channel, sub.lang if sub is not None else "en")
        return {
            "channel": channel.key,
            "sent": result.status is SendStatus.SENT,
            "status": result.status.value,
            "reason": result.reason,
        }

    async def db_backup(self, args: Mapping[str, Any]) -> dict[str, Any]:
        if self._backup is None:
            raise AdminError("this bot cannot write backups")
        target = Path(str(args["path"]))
        if not target.is_absolute():
            raise AdminError(f"backup path: give an absolute path, got {target}")
        return {"path": str(target), "written": await self._backup(target)}

    def _kick(self) -> None:
        if self.live is not None:
            self.live.kick()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _item(item: OutboxItem) -> dict[str, Any]:
    message = item.message
    what = message.title or message.notice or ", ".join(e.kind for e in message.events[:3])
    return {
        "key": item.key,
        "channel": item.channel.key,
        "state": item.state,
        "attempts": item.attempts,
        "enqueued_at": _iso(item.enqueued_at),
        "not_before": _iso(item.not_before),
        "finished_at": _iso(item.finished_at),
        "failure": item.failure,
        "last_error": item.last_error,
        "about": (what or "")[:120],
    }


def error_document(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """How the listener answers a failed operation: HTTP status and `{error, exit_code}`."""
    if isinstance(exc, RankbotError):
        return 400, {"error": str(exc), "exit_code": int(exc.code)}
    return 500, {
        "error": f"internal error: {type(exc).__name__} (see the bot's log)",
        "exit_code": int(ExitCode.INTERNAL),
    }


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode() + b"\n"
