"""The platform-free command core: one parser and executor for every chat platform.

Adapters (Slack, Discord, the console) hand over the typed line and a `CommandContext` and get
back a `Reply`: plain `text` rendered from `templates/text/reply_*.j2`, plus a `view` name and
structured `data` they may render better. Rules about *what* a command does live here, never
in an adapter. Bad arguments come back as a reply that says what was wrong and shows a correct
example; changes come back with the complete resulting settings.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.commands import parse as cp
from bot.config.file import Config
from bot.core.countries import balance
from bot.core.leaderboard import top_view
from bot.core.messages import CommandContext, Reply
from bot.core.model import Snapshot
from bot.core.subscription import (
    DEFAULT_KINDS,
    DEFAULT_PERIODS,
    SUBSCRIBABLE_KINDS,
    Filters,
    Subscription,
    summary,
)
from bot.render.templates import Renderer
from bot.store.protocols import Store
from bot.store.source_health import has_health, read_health


@dataclass
class Services:
    """What commands read and change; fields added later always have defaults."""

    store: Store
    config: Config
    source: str = "openrouter"
    """The ranking source commands show (its snapshots and its health record)."""
    renderer: Renderer | None = field(default=None, repr=False)

    def render(self, name: str, **context: Any) -> str:
        if self.renderer is None:
            self.renderer = Renderer(self.config.templates_dir)
        return self.renderer.render(f"text/{name}", **context)


Handler = Callable[[tuple[str, ...], CommandContext, Services], Awaitable[Reply]]


async def execute(line: str, ctx: CommandContext, services: Services) -> Reply:
    """Run one command line; bad input yields a helpful reply, never an exception.

    Adapters call it on the bot's event loop: the store's reads answer from memory, its
    writes wait only for their own commit, and the one slow command, `chart`, is drawn in
    the chart worker process, so other commands and deliveries go on meanwhile."""
    try:
        command = cp.split(line)
        usage = cp.USAGE[command.name]
        if usage.manage and not ctx.caller.can_manage:
            reply = _refusal(command.name, ctx, services)
        else:
            reply = await _HANDLERS[command.name](command.args, ctx, services)
    except cp.ParseError as exc:
        reply = _error(services, exc.problem, exc.example)
    return await _with_pause_note(reply, ctx, services)


# --- shared pieces ---------------------------------------------------------------------------


def _error(s: Services, problem: str, example: str) -> Reply:
    text = s.render("reply_error.j2", problem=problem, example=example)
    return Reply(text, view="error", data={"error": problem, "example": example}, ok=False)


def _refusal(name: str, ctx: CommandContext, s: Services) -> Reply:
    rule = ctx.caller.manage_rule or "ask someone who manages this channel's alerts"
    problem = f"You can't use `{name}` here: only people allowed to manage alerts can. {rule}"
    text = s.render("reply_error.j2", problem=problem, example="subscriptions")
    return Reply(text, view="error", data={"error": problem, "rule": rule}, ok=False)


async def _with_pause_note(reply: Reply, ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None or not sub.paused:
        return reply
    note = (
        f"⏸ Deliveries to this channel are paused: {sub.pause_reason or 'no reason given'}. "
        "Fix the cause, then type `resume` (or `subscribe`) to resume."
    )
    return replace(reply, text=f"{note}\n\n{reply.text}", data={**reply.data, "paused": note})


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "unknown"


def _who(ctx: CommandContext) -> str:
    caller = ctx.caller
    return f"{caller.name} ({caller.user_id})" if caller.name else caller.user_id


def _settings_reply(s: Services, headline: str, sub: Subscription | None, now: datetime) -> Reply:
    lines = summary(sub, now) if sub is not None else []
    text = s.render(
        "reply_settings.j2",
        headline=headline,
        lines=lines,
        sub=sub.to_dict() if sub is not None else None,
        created=_when(sub.created_at) if sub is not None else "",
        updated=_when(sub.updated_at) if sub is not None and sub.updated_at else "",
    )
    data = {"subscription": sub.to_dict() if sub is not None else None, "summary": lines}
    return Reply(text, view="subscription", data=data)


async def _existing(ctx: CommandContext, s: Services, command: str) -> Subscription:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None:
        raise cp.ParseError(
            f"This channel has no subscription yet, so there is nothing to {command}. "
            "Start one with `subscribe`.",
            "subscribe",
        )
    return sub


async def _save(s: Services, sub: Subscription, ctx: CommandContext) -> Subscription:
    updated = replace(sub, updated_by=_who(ctx), updated_at=ctx.now)
    return await s.store.subscriptions.upsert(updated)


async def _stream(s: Services, period: str, last: int | None = 2) -> list[Snapshot]:
    """The configured source's snapshots of `period` (another source's if it has none)."""
    history = s.store.history
    sources = [s.source] + [src for src, p in await history.streams() if p == period]
    for source in sources:
        snaps = await history.snapshots(source, period, last=last)
        if snaps:
            return snaps
    return []


def _no_data(period: str) -> Reply:
    text = f"No {period} ranking is stored yet: the first successful poll will bring one."
    return Reply(text, view="error", data={"error": text}, ok=False)


# --- reading commands ------------------------------------------------------------------------


async def _top(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    n, period = cp.parse_top(args)
    snaps = await _stream(s, period)
    if not snaps:
        return _no_data(period)
    previous = snaps[-2] if len(snaps) > 1 else None
    view = top_view(snaps[-1], previous, n, s.config.countries).to_dict()
    return Reply(s.render("top.j2", view=view), view="top", data=view)


def _find_model(query: str, names: Mapping[str, str]) -> str:
    """The model id `query` means, by id or name: exact, then unique part, then close spelling."""
    q = query.lower()
    exact = [m for m, n in names.items() if q in (m.lower(), n.lower())]
    if exact:
        return exact[0]
    partial = [m for m, n in names.items() if q in m.lower() or q in n.lower()]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        listed = ", ".join(f"`{m}`" for m in partial[:6])
        raise cp.ParseError(f"`{query}` matches several models: {listed}.", f"model {partial[0]}")
    spelled = {m.lower(): m for m in names} | {n.lower(): m for m, n in names.items()}
    spelled |= {m.lower().split("/", 1)[-1]: m for m in names}  # the id without its author
    close = difflib.get_close_matches(q, list(spelled), n=5, cutoff=0.6)
    if close and difflib.SequenceMatcher(None, q, close[0]).ratio() >= 0.85:
        return spelled[close[0]]
    suggestions = list(dict.fromkeys(spelled[c] for c in close))
    hint = f" Did you mean {', '.join(f'`{m}`' for m in suggestions)}?" if suggestions else ""
    example = f"model {suggestions[0]}" if suggestions else cp.USAGE["model"].example
    raise cp.ParseError(f"No model matches `{query[:60]}`.{hint}", example)


async def _model(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if not args:
        raise cp.fail("model", "Say which model, by id or name (or part of one).")
    snaps = await _stream(s, "week", last=None)
    if not snaps:
        return _no_data("week")
    names: dict[str, str] = {}
    for snap in reversed(snaps):
        for listed in snap.entries:
            names.setdefault(listed.model, listed.name)
    model = _find_model(" ".join(args), names)
    latest = snaps[-1]
    entry = latest.get(model)
    before = snaps[-2].get(model) if len(snaps) > 1 else None
    change = None
    if entry is not None and before is not None and before.tokens:
        change = (entry.tokens - before.tokens) / before.tokens * 100
    history = []
    for snap in snaps[-8:]:
        e = snap.get(model)
        history.append(
            {
                "as_of": snap.as_of.isoformat(),
                "rank": e.rank if e is not None else None,
                "tokens": e.tokens if e is not None else None,
                "lower_bound": e.lower_bound if e is not None else False,
            }
        )
    data = {
        "model": model,
        "name": names[model],
        "period": latest.period,
        "as_of": latest.as_of.isoformat(),
        "rank": entry.rank if entry is not None else None,
        "tokens": entry.tokens if entry is not None else None,
        "lower_bound": entry.lower_bound if entry is not None else False,
        "share": latest.share(entry) if entry is not None else None,
        "previous_rank": before.rank if before is not None else None,
        "move": before.rank - entry.rank if entry is not None and before is not None else None,
        "change_pct": change,
        "country": s.config.countries.for_entry(entry) if entry is not None else None,
        "first_seen": next(x.as_of.isoformat() for x in snaps if x.get(model) is not None),
        "history": history,
        "attribution": latest.attribution,
    }
    return Reply(s.render("reply_model.j2", m=data), view="model", data=data)


async def _countries(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if args:
        raise cp.fail("countries", "`countries` takes no arguments.")
    snaps = await _stream(s, "week", last=None)
    if not snaps:
        return _no_data("week")
    latest = snaps[-1]
    bal = balance(latest.entries, s.config.countries)
    since = latest.as_of
    for snap in reversed(snaps):
        if balance(snap.entries, s.config.countries).leader != bal.leader:
            break
        since = snap.as_of
    listed = latest.listed_total
    data = {
        "period": latest.period,
        "as_of": latest.as_of.isoformat(),
        "countries": [
            {"code": code, "tokens": tokens, "share": bal.shares[code]}
            for code, tokens in bal.totals.items()
        ],
        "unknown": bal.unknown,
        "unknown_share": bal.unknown / listed if listed else None,
        "leader": bal.leader,
        "leader_since": since.isoformat(),
        "attribution": latest.attribution,
    }
    return Reply(s.render("reply_countries.j2", c=data), view="countries", data=data)


async def _subscriptions(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None:
        return _settings_reply(
            s, "This channel has no subscription. Start one with `subscribe`.", None, ctx.now
        )
    return _settings_reply(s, "This channel's subscription:", sub, ctx.now)


async def _status(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    state = s.store.state
    health = await read_health(state, s.source) if await has_health(state, s.source) else None
    sub = await s.store.subscriptions.get(ctx.channel)
    outbox = s.store.outbox
    data = {
        "source": s.source,
        "health": {key: getattr(health, key, None) for key in _HEALTH_KEYS},
        "subscribed": sub is not None,
        "paused": bool(sub and sub.paused),
        "pause_reason": sub.pause_reason if sub else None,
        "muted_until": (
            sub.mute_until.isoformat()
            if sub is not None and sub.mute_until is not None and sub.muted(ctx.now)
            else None
        ),
        "pending_here": await outbox.count(ctx.channel),
        "pending_total": await outbox.count(),
    }
    return Reply(s.render("reply_status.j2", st=data), view="status", data=data)


_HEALTH_KEYS = ("last_good_fetch", "consecutive_failures", "newest_day", "last_error", "next_poll")
"""What `status` shows of the source's health record (`bot.core.source_health.Health`)."""


async def _help(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if len(args) > 1:
        raise cp.fail("help", "Ask about one command at a time.")
    if args:
        name = cp.split(args[0]).name
        usage = cp.USAGE[name]
        data = {"command": name, **_usage_dict(usage)}
        return Reply(s.render("reply_help.j2", one=data, all=None), view="help", data=data)
    commands = [{"command": n, **_usage_dict(u)} for n, u in cp.USAGE.items()]
    text = s.render("reply_help.j2", one=None, all=commands)
    return Reply(text, view="help", data={"commands": commands})


def _usage_dict(usage: cp.Usage) -> dict[str, Any]:
    return {
        "usage": usage.usage,
        "example": usage.example,
        "summary": usage.summary,
        "details": list(usage.details),
        "manage": usage.manage,
    }


# --- changing commands -----------------------------------------------------------------------


async def _subscribe(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    req = cp.parse_subscribe(args)
    existing = await s.store.subscriptions.get(ctx.channel)
    sub = existing or Subscription(ctx.channel, kinds=(), created_by=_who(ctx), created_at=ctx.now)
    if req.reset:
        sub = replace(sub, kinds=(), filters=Filters(), periods=DEFAULT_PERIODS, charts=True)
    wanted = set(sub.kinds) | set(req.kinds or (() if sub.kinds else DEFAULT_KINDS))
    sub = replace(
        sub,
        kinds=tuple(k for k in SUBSCRIBABLE_KINDS if k in wanted),
        filters=replace(sub.filters, **req.filters),
        periods=req.periods or sub.periods,
        charts=sub.charts if req.charts is None else req.charts,
        paused=False,
        pause_reason=None,
    )
    sub = await _save(s, sub, ctx)
    if existing is None:
        headline = (
            "Subscribed. This channel is watched from now on (nothing from before is posted); "
            "a confirmation follows in the channel. Active now:"
        )
    else:
        headline = "Subscription updated. Active now:"
    return _settings_reply(s, headline, sub, ctx.now)


async def _unsubscribe(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    kinds = cp.parse_unsubscribe(args)
    sub = await _existing(ctx, s, "unsubscribe from")
    left = () if kinds is None else tuple(k for k in sub.kinds if k not in kinds)
    if not left:
        await s.store.subscriptions.remove(ctx.channel)
        return _settings_reply(
            s,
            "Unsubscribed: this channel gets no alerts now, and its settings are gone.",
            None,
            ctx.now,
        )
    sub = await _save(s, replace(sub, kinds=left), ctx)
    return _settings_reply(s, "Stopped " + ", ".join(kinds or ()) + ". Active now:", sub, ctx.now)


async def _mute(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    duration = cp.parse_mute(args)
    muted = replace(await _existing(ctx, s, "mute"), mute_until=ctx.now + duration)
    sub = await _save(s, muted, ctx)
    headline = (
        f"Muted until {_when(sub.mute_until)}: alerts are dropped and counted, and the channel "
        "is told how many were skipped when the mute ends. Active now:"
    )
    return _settings_reply(s, headline, sub, ctx.now)


async def _unmute(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if args:
        raise cp.fail("unmute", "`unmute` takes no arguments.")
    sub = await _existing(ctx, s, "unmute")
    if not sub.muted(ctx.now):
        return _settings_reply(s, "This channel is not muted. Active now:", sub, ctx.now)
    sub = await _save(s, replace(sub, mute_until=ctx.now), ctx)
    headline = "Unmuted: alerts flow again (skipped ones are counted in a notice). Active now:"
    return _settings_reply(s, headline, sub, ctx.now)


def _default_tz(sub: Subscription) -> str:
    if sub.digest is not None:
        return sub.digest.tz
    return sub.quiet.tz if sub.quiet is not None else "UTC"


async def _digest(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    digest = cp.parse_digest(args, _default_tz(sub) if sub else "UTC")
    sub = await _save(s, replace(await _existing(ctx, s, "change"), digest=digest), ctx)
    headline = "Alerts are posted as they come. Active now:"
    if digest is not None:
        headline = f"Alerts are gathered into one digest, {digest}. Active now:"
    return _settings_reply(s, headline, sub, ctx.now)


async def _quiet(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    quiet = cp.parse_quiet(args, _default_tz(sub) if sub else "UTC")
    sub = await _save(s, replace(await _existing(ctx, s, "change"), quiet=quiet), ctx)
    headline = "Quiet hours are off. Active now:"
    if quiet is not None:
        headline = f"Quiet hours {quiet}: alerts wait and come grouped when they end. Active now:"
    return _settings_reply(s, headline, sub, ctx.now)


async def _resume(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await _existing(ctx, s, "resume")
    if not sub.paused:
        return _settings_reply(s, "Deliveries here are not paused. Active now:", sub, ctx.now)
    sub = await s.store.subscriptions.resume(ctx.channel, ctx.now, by=_who(ctx)) or sub
    return _settings_reply(
        s, "Resumed: deliveries to this channel start again. Active now:", sub, ctx.now
    )


async def _chart(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    from bot.commands.chart import chart_reply

    return await chart_reply(list(args), s.store, s.config, source=s.source)


_HANDLERS: Mapping[str, Handler] = {
    "top": _top,
    "model": _model,
    "countries": _countries,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "subscriptions": _subscriptions,
    "mute": _mute,
    "unmute": _unmute,
    "digest": _digest,
    "quiet": _quiet,
    "status": _status,
    "resume": _resume,
    "chart": _chart,
    "help": _help,
}
