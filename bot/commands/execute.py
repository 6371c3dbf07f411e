"""The platform-free command core: one parser and executor for every chat platform.

Adapters (Slack, Discord, the console) hand over the typed line and a `CommandContext` and get
back a `Reply`: plain `text` rendered from `templates/text/reply_*.j2`, plus a `view` name and
structured `data` they may render better. Rules about *what* a command does live here, never
in an adapter. Bad arguments come back as a reply that says what was wrong and shows a correct
example; changes come back with the complete resulting settings.

Replies are in the caller's language when the adapter knows it (`CommandContext.lang`) and
rankbot speaks it, else in the channel's (`subscribe lang=`), else English; examples are
written as the caller's platform takes them (`CommandContext.syntax`).
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
from bot.core.messages import ChannelRef, CommandContext, Reply
from bot.core.model import Snapshot
from bot.core.subscription import (
    DEFAULT_KINDS,
    DEFAULT_PERIODS,
    SUBSCRIBABLE_KINDS,
    Filters,
    Subscription,
    summary,
)
from bot.core.text import TN, T, Text
from bot.delivery.resume import RESEND_WITHIN_DAYS, ResumeResult, resume_channel
from bot.delivery.sender import SendResult, SendStatus
from bot.i18n import DEFAULT, lang_or_default, say
from bot.render.templates import PERIOD_WORDS, Renderer
from bot.store.protocols import CONTENT, FAILED, Store
from bot.store.source_health import has_health, read_health


@dataclass
class Services:
    """What commands read and change; fields added later always have defaults."""

    store: Store
    config: Config
    source: str = "openrouter"
    """The ranking source commands show (its snapshots and its health record)."""
    renderer: Renderer | None = field(default=None, repr=False)
    send_test: Callable[[ChannelRef, str], Awaitable[SendResult]] | None = field(
        default=None, repr=False
    )
    """Posts the sample alert to a channel now (`bot.app.Bot.send_test`); None where there
    is no sender (a replay)."""
    keeps_health: bool = True
    """Whether the running source keeps a poll record (a recorded history does not: `status`
    then describes what the store holds instead of saying it never polled)."""
    resend_within_days: float = RESEND_WITHIN_DAYS
    """`[delivery] resend_within_days`: how old a missed alert `resume` still sends."""

    def render(self, name: str, ctx: CommandContext, **context: Any) -> str:
        """`templates/text/<name>` in the reply's language (`ctx.lang`, set by `execute`)."""
        if self.renderer is None:
            self.renderer = Renderer(self.config.templates_dir)
        return self.renderer.render(f"text/{name}", lang=ctx.lang or DEFAULT, **context)

    def say(self, text: Text | str, ctx: CommandContext) -> str:
        return say(text, ctx.lang or DEFAULT)


Handler = Callable[[tuple[str, ...], CommandContext, Services], Awaitable[Reply]]


async def reply_language(ctx: CommandContext, services: Services) -> CommandContext:
    """`ctx` with the language of the reply: the caller's when the platform told it and
    rankbot speaks it, else the channel's (`subscribe lang=`), else English."""
    sub = await services.store.subscriptions.get(ctx.channel)
    return replace(ctx, lang=lang_or_default(ctx.lang, sub.lang if sub is not None else None))


async def execute(line: str, ctx: CommandContext, services: Services) -> Reply:
    """Run one command line; bad input yields a helpful reply, never an exception.

    Adapters call it on the bot's event loop: the store's reads answer from memory, its
    writes wait only for their own commit, and the one slow command, `chart`, is drawn in
    the chart worker process, so other commands and deliveries go on meanwhile."""
    ctx = await reply_language(ctx, services)
    try:
        command = cp.split(line)
        usage = cp.USAGE[command.name]
        if usage.manage and not ctx.caller.can_manage:
            reply = _refusal(command.name, ctx, services)
        else:
            reply = await _HANDLERS[command.name](command.args, ctx, services)
    except cp.ParseError as exc:
        reply = error_reply(services, ctx, exc.problem, exc.example)
    if reply.lang == DEFAULT:  # else the handler answered in another (`subscribe lang=`)
        reply = replace(reply, lang=ctx.lang or DEFAULT)
    return await _with_pause_note(reply, ctx, services)


def changes_subscription(line: str) -> bool:
    """Whether `line` is a command that changes the channel's subscription (adapters then
    call their `on_command`, which enqueues a confirmation at once and wakes delivery)."""
    try:
        return cp.USAGE[cp.split(line).name].manage
    except cp.ParseError:
        return False


# --- shared pieces ---------------------------------------------------------------------------


def error_reply(s: Services, ctx: CommandContext, problem: Text, example: str) -> Reply:
    """What went wrong and a correct example, written as the caller's platform takes it."""
    shown = ctx.syntax.example(example) if ctx.syntax is not None else example
    said = s.say(problem, ctx)
    text = s.render("reply_error.j2", ctx, problem=said, example=shown)
    return Reply(text, view="error", data={"error": said, "example": shown}, ok=False)


def _refusal(name: str, ctx: CommandContext, s: Services) -> Reply:
    rule = ctx.caller.manage_rule or T("ask someone who manages this channel's alerts")
    problem = T(
        "You can't use `%(command)s` here: only people allowed to manage alerts can. %(rule)s",
        command=name,
        rule=rule,
    )
    reply = error_reply(s, ctx, problem, "subscriptions")
    return replace(reply, data={"error": reply.data["error"], "rule": s.say(rule, ctx)})


async def _with_pause_note(reply: Reply, ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None or not sub.paused:
        return reply
    resume = ctx.syntax.example("resume") if ctx.syntax is not None else "resume"
    subscribe = ctx.syntax.example("subscribe") if ctx.syntax is not None else "subscribe"
    note = s.say(
        T(
            "⏸ Deliveries to this channel are paused: %(reason)s. Fix the cause, then type "
            "`%(resume)s` (or `%(subscribe)s`) to resume.",
            reason=sub.pause_reason or T("no reason given"),
            resume=resume,
            subscribe=subscribe,
        ),
        ctx,
    )
    return replace(reply, text=f"{note}\n\n{reply.text}", data={**reply.data, "paused": note})


def _when(moment: datetime | None, ctx: CommandContext, tz: str | None = None) -> str:
    if moment is None:
        return say(T("unknown"), ctx.lang or DEFAULT)
    return say(T("%(when)s", when=moment), ctx.lang or DEFAULT, tz)


def _who(ctx: CommandContext) -> str:
    caller = ctx.caller
    return f"{caller.name} ({caller.user_id})" if caller.name else caller.user_id


def _settings_reply(
    s: Services, ctx: CommandContext, headline: Text, sub: Subscription | None
) -> Reply:
    lines = [s.say(line, ctx) for line in summary(sub, ctx.now)] if sub is not None else []
    text = s.render(
        "reply_settings.j2",
        ctx,
        headline=s.say(headline, ctx),
        lines=lines,
        sub=sub.to_dict() if sub is not None else None,
        created=_when(sub.created_at, ctx) if sub is not None else "",
        updated=_when(sub.updated_at, ctx) if sub is not None and sub.updated_at else "",
    )
    data = {"subscription": sub.to_dict() if sub is not None else None, "summary": lines}
    return Reply(text, view="subscription", data=data, lang=ctx.lang or DEFAULT)


async def _existing(ctx: CommandContext, s: Services, problem: Text) -> Subscription:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None:
        raise cp.ParseError(problem, "subscribe")
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


def _no_data(period: str, ctx: CommandContext) -> Reply:
    text = say(
        T(
            "No %(period)s ranking is stored yet: the first successful poll will bring one.",
            period=PERIOD_WORDS.get(period, period),
        ),
        ctx.lang or DEFAULT,
    )
    return Reply(text, view="error", data={"error": text}, ok=False)


# --- reading commands ------------------------------------------------------------------------


async def _top(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    n, period = cp.parse_top(args)
    snaps = await _stream(s, period)
    if not snaps:
        return _no_data(period, ctx)
    previous = snaps[-2] if len(snaps) > 1 else None
    view = top_view(snaps[-1], previous, n, s.config.countries).to_dict()
    return Reply(s.render("top.j2", ctx, view=view), view="top", data=view)


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
        raise cp.ParseError(
            T("`%(query)s` matches several models: %(listed)s.", query=query, listed=listed),
            f"model {partial[0]}",
        )
    spelled = {m.lower(): m for m in names} | {n.lower(): m for m, n in names.items()}
    spelled |= {m.lower().split("/", 1)[-1]: m for m in names}  # the id without its author
    close = difflib.get_close_matches(q, list(spelled), n=5, cutoff=0.6)
    if close and difflib.SequenceMatcher(None, q, close[0]).ratio() >= 0.85:
        return spelled[close[0]]
    suggestions = list(dict.fromkeys(spelled[c] for c in close))
    hint = (
        T(" Did you mean %(models)s?", models=", ".join(f"`{m}`" for m in suggestions))
        if suggestions
        else ""
    )
    example = f"model {suggestions[0]}" if suggestions else cp.USAGE["model"].example
    raise cp.ParseError(
        T("No model matches `%(query)s`.%(hint)s", query=query[:60], hint=hint), example
    )


async def _model(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if not args:
        raise cp.fail("model", T("Say which model, by id or name (or part of one)."))
    snaps = await _stream(s, "week", last=None)
    if not snaps:
        return _no_data("week", ctx)
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
    return Reply(s.render("reply_model.j2", ctx, m=data), view="model", data=data)


async def _countries(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if args:
        raise cp.fail("countries", T("`%(command)s` takes no arguments.", command="countries"))
    snaps = await _stream(s, "week", last=None)
    if not snaps:
        return _no_data("week", ctx)
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
    return Reply(s.render("reply_countries.j2", ctx, c=data), view="countries", data=data)


async def _subscriptions(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    if sub is None:
        headline = T(
            "This channel has no subscription. Start one with `%(subscribe)s`.",
            subscribe=_typed(ctx, "subscribe"),
        )
        return _settings_reply(s, ctx, headline, None)
    return _settings_reply(s, ctx, T("This channel's subscription:"), sub)


async def _status(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    state = s.store.state
    health = await read_health(state, s.source) if await has_health(state, s.source) else None
    sub = await s.store.subscriptions.get(ctx.channel)
    outbox = s.store.outbox
    newest = [
        snap.as_of
        for src, period in await s.store.history.streams()
        if (snap := await s.store.history.latest_snapshot(src, period))
    ]
    data = {
        "source": s.source,
        "health_kept": health is not None or s.keeps_health,
        "newest_stored": max(newest).isoformat() if newest else None,
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
        **await _failed_here(s, ctx),
    }
    return Reply(s.render("reply_status.j2", ctx, st=data), view="status", data=data)


async def _failed_here(s: Services, ctx: CommandContext) -> dict[str, int]:
    """This channel's failed posts: those a `resume` sends (access) and those the platform
    refused (content)."""
    failed = await s.store.outbox.items(ctx.channel, FAILED)
    refused = sum(1 for item in failed if item.failure == CONTENT)
    return {"waiting_resume_here": len(failed) - refused, "refused_here": refused}


_HEALTH_KEYS = ("last_good_fetch", "consecutive_failures", "newest_day", "last_error", "next_poll")
"""What `status` shows of the source's health record (`bot.core.source_health.Health`)."""


async def _help(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if len(args) > 1:
        raise cp.fail("help", T("Ask about one command at a time."))
    if args:
        name = cp.split(args[0]).name
        usage = cp.USAGE[name]
        data = {"command": name, **_usage_dict(name, usage, ctx)}
        return Reply(s.render("reply_help.j2", ctx, one=data, all=None), view="help", data=data)
    commands = [{"command": n, **_usage_dict(n, u, ctx)} for n, u in cp.USAGE.items()]
    text = s.render(
        "reply_help.j2", ctx, one=None, all=commands, help_one=_typed(ctx, "help", "<command>")
    )
    return Reply(text, view="help", data={"commands": commands})


def _typed(ctx: CommandContext, line: str, placeholder: str = "") -> str:
    """`line` as the caller's platform takes it (Discord: `/help command:`), for replies that
    tell someone what to type."""
    typed = f"{line} {placeholder}".strip()
    return ctx.syntax.example(typed) if ctx.syntax is not None else typed


def _usage_dict(name: str, usage: cp.Usage, ctx: CommandContext) -> dict[str, Any]:
    syntax = ctx.syntax
    return {
        "usage": (syntax.usage(name) if syntax is not None else None) or usage.usage,
        "example": syntax.example(usage.example) if syntax is not None else usage.example,
        "summary": say(usage.summary, ctx.lang or DEFAULT),
        "details": [say(line, ctx.lang or DEFAULT) for line in usage.details],
        "manage": usage.manage,
    }


# --- changing commands -----------------------------------------------------------------------


async def _subscribe(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    req = cp.parse_subscribe(args)
    if req.lang is not None:  # asked for a language: the answer is in it already
        ctx = replace(ctx, lang=req.lang)
    existing = await s.store.subscriptions.get(ctx.channel)
    if existing is not None and existing.paused:  # subscribing again resumes: the same way
        existing = (await _resume_here(ctx, s)).subscription or existing
    sub = existing or Subscription(ctx.channel, kinds=(), created_by=_who(ctx), created_at=ctx.now)
    if req.reset:
        sub = replace(
            sub, kinds=(), filters=Filters(), periods=DEFAULT_PERIODS, charts=True, lang=DEFAULT
        )
    wanted = set(sub.kinds) | set(req.kinds or (() if sub.kinds else DEFAULT_KINDS))
    sub = replace(
        sub,
        kinds=tuple(k for k in SUBSCRIBABLE_KINDS if k in wanted),
        filters=replace(sub.filters, **req.filters),
        periods=req.periods or sub.periods,
        charts=sub.charts if req.charts is None else req.charts,
        lang=req.lang or sub.lang,
        paused=False,
        pause_reason=None,
    )
    sub = await _save(s, sub, ctx)
    if existing is None:
        headline = T(
            "Subscribed. This channel is watched from now on (nothing from before is posted); "
            "a confirmation follows in the channel. Active now:"
        )
    else:
        headline = T("Subscription updated. Active now:")
    return _settings_reply(s, ctx, headline, sub)


def _nothing_to(ctx: CommandContext, action: Text) -> Text:
    return T(
        "This channel has no subscription yet, so there is nothing to %(action)s. "
        "Start one with `%(subscribe)s`.",
        action=action,
        subscribe=_typed(ctx, "subscribe"),
    )


async def _unsubscribe(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    kinds = cp.parse_unsubscribe(args)
    sub = await _existing(ctx, s, _nothing_to(ctx, T("unsubscribe from")))
    left = () if kinds is None else tuple(k for k in sub.kinds if k not in kinds)
    if not left:
        await s.store.subscriptions.remove(ctx.channel)
        headline = T("Unsubscribed: this channel gets no alerts now, and its settings are gone.")
        return _settings_reply(s, ctx, headline, None)
    sub = await _save(s, replace(sub, kinds=left), ctx)
    headline = T("Stopped %(kinds)s. Active now:", kinds=", ".join(kinds or ()))
    return _settings_reply(s, ctx, headline, sub)


async def _mute(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    duration = cp.parse_mute(args)
    existing = await _existing(ctx, s, _nothing_to(ctx, T("mute")))
    sub = await _save(s, replace(existing, mute_until=ctx.now + duration), ctx)
    headline = T(
        "Muted until %(until)s: alerts are dropped and counted, and the channel is told how "
        "many were skipped when the mute ends. Active now:",
        until=sub.mute_until,
    )
    return _settings_reply(s, ctx, headline, sub)


async def _unmute(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if args:
        raise cp.fail("unmute", T("`%(command)s` takes no arguments.", command="unmute"))
    sub = await _existing(ctx, s, _nothing_to(ctx, T("unmute")))
    if not sub.muted(ctx.now):
        return _settings_reply(s, ctx, T("This channel is not muted. Active now:"), sub)
    sub = await _save(s, replace(sub, mute_until=ctx.now), ctx)
    headline = T("Unmuted: alerts flow again (skipped ones are counted in a notice). Active now:")
    return _settings_reply(s, ctx, headline, sub)


async def _digest(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    digest = cp.parse_digest(args, sub.tz if sub else "UTC")
    existing = await _existing(ctx, s, _nothing_to(ctx, T("change")))
    sub = await _save(s, replace(existing, digest=digest), ctx)
    headline = T("Alerts are posted as they come. Active now:")
    if digest is not None:
        headline = T(
            "Alerts are gathered into one digest, %(digest)s. Active now:", digest=str(digest)
        )
    return _settings_reply(s, ctx, headline, sub)


async def _quiet(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    sub = await s.store.subscriptions.get(ctx.channel)
    quiet = cp.parse_quiet(args, sub.tz if sub else "UTC")
    existing = await _existing(ctx, s, _nothing_to(ctx, T("change")))
    sub = await _save(s, replace(existing, quiet=quiet), ctx)
    headline = T("Quiet hours are off. Active now:")
    if quiet is not None:
        headline = T(
            "Quiet hours %(range)s: alerts wait and come grouped when they end. Active now:",
            range=str(quiet),
        )
    return _settings_reply(s, ctx, headline, sub)


async def _resume(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    await _existing(ctx, s, _nothing_to(ctx, T("resume")))
    result = await _resume_here(ctx, s)
    if result.changed:
        headline = T("Resumed: deliveries to this channel start again. Active now:")
    else:
        headline = T("Deliveries here are not paused. Active now:")
    reply = _settings_reply(s, ctx, headline, result.subscription)
    notes = [s.say(note, ctx) for note in _resume_notes(result, s)]
    if not notes:
        return reply
    return replace(
        reply,
        text="\n".join([reply.text, "", *notes]),
        data={
            **reply.data,
            "resumed": {
                "requeued": result.requeued,
                "dropped": result.dropped,
                "refused": result.refused,
            },
        },
    )


async def _resume_here(ctx: CommandContext, s: Services) -> ResumeResult:
    return await resume_channel(
        s.store, ctx.channel, ctx.now, by=_who(ctx), resend_within_days=s.resend_within_days
    )


def _resume_notes(result: ResumeResult, s: Services) -> list[Text]:
    """What a resume did with the alerts the channel missed (nothing when it missed none)."""
    notes = []
    if result.requeued:
        notes.append(
            TN(
                "%(n)s missed alert goes out now.",
                "%(n)s missed alerts go out now.",
                result.requeued,
            )
        )
    if result.dropped:
        notes.append(
            TN(
                "%(n)s missed alert was older than %(days)s days and is not sent.",
                "%(n)s missed alerts were older than %(days)s days and are not sent.",
                result.dropped,
                days=f"{s.resend_within_days:g}",
            )
        )
    if result.refused:
        notes.append(
            TN(
                "%(n)s alert was refused by the platform for its content and is not resent.",
                "%(n)s alerts were refused by the platform for their content and are not resent.",
                result.refused,
            )
        )
    return notes


async def _test(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    if s.send_test is None:
        return Reply(s.say(T("Test posts are not available here."), ctx), ok=False)
    result = await s.send_test(ctx.channel, ctx.lang or DEFAULT)
    if result.status is SendStatus.SENT:
        text = T("A sample alert, marked as a test, was posted in this channel.")
        return Reply(s.say(text, ctx), view="test", data={"sent": True})
    text = T(
        "rankbot could not post here: %(reason)s. Check that it was added to this channel "
        "and may post in it.",
        reason=result.reason or result.status.value,
    )
    return Reply(s.say(text, ctx), view="test", data={"sent": False}, ok=False)


async def _chart(args: tuple[str, ...], ctx: CommandContext, s: Services) -> Reply:
    from bot.commands.chart import chart_reply

    return await chart_reply(
        list(args), s.store, s.config, source=s.source, lang=ctx.lang or DEFAULT
    )


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
    "test": _test,
    "chart": _chart,
    "help": _help,
}
