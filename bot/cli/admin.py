"""`rankbot status`, `channels`, `outbox`, `subscriptions`, `send-test`: operating a bot from
the shell, whether it runs or not.

The admin channel: when the config sets `[ops] listen`, the command first asks the running
bot's listener (`POST /admin/<operation>` on loopback, `bot.ops.server`), so the change is
made by the bot itself, in its loop, and takes effect at once (a resumed channel's waiting
alerts go out within a second or two, without a restart). When nothing answers there, the
command opens the database itself and runs the same operation (`bot.ops.admin.Admin`); a
database held by a bot without a listener is refused with the fix. Output is text, or the
operation's JSON document with `--json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bot import app
from bot.cli.common import config_from_args, database_path, existing_database
from bot.config.database import Location
from bot.config.file import Config
from bot.delivery.settings import DeliverySettings
from bot.errors import ExitCode, RankbotError, StoreBusy, UsageError
from bot.ops.admin import Admin, Live
from bot.ops.health import Readiness
from bot.ops.server import ADMIN_HEADER, ADMIN_TIMEOUT_SECONDS
from bot.ops.settings import OpsSettings
from bot.render.templates import Renderer
from bot.sources.replay import ReplaySource

READ_ONLY = frozenset(
    {"status", "channels.list", "outbox.list", "subscriptions.export", "db.backup"}
)
"""Operations that only read: without a bot they open the database read-only (a bot
without a listener may hold it)."""


def call(args: argparse.Namespace, op: str, params: Mapping[str, Any]) -> Any:
    """Run an admin operation in the running bot if one listens, else on the database."""
    config = config_from_args(args)
    settings: OpsSettings = config.section("ops")
    if settings.url is not None:
        answer = _remote(settings.url, op, params)
        if answer is not None:
            return answer
    return asyncio.run(_local(config, op, params, settings))


def _remote(url: str, op: str, params: Mapping[str, Any]) -> Any:
    """The running bot's answer (a JSON object), or None when nothing listens at `url`."""
    try:
        answer = httpx.post(
            f"{url}/admin/{op}",
            json=dict(params),
            headers={ADMIN_HEADER: "1"},
            timeout=httpx.Timeout(ADMIN_TIMEOUT_SECONDS + 5, connect=2.0),
        )
    except httpx.ConnectError:
        return None
    try:
        doc = answer.json()
    except ValueError:
        doc = {}
    if answer.status_code != 200:
        error = doc.get("error") if isinstance(doc, dict) else None
        code = doc.get("exit_code") if isinstance(doc, dict) else None
        raise RankbotError(
            f"the running bot at {url} answered {answer.status_code}: {error or answer.text}",
            exit_code=ExitCode(code) if code in set(ExitCode) else ExitCode.INTERNAL,
        )
    return doc


def _backup(where: Location, target: Path) -> Any:
    """`db backup` of a TinyDB file; a PostgreSQL database is copied by `db migrate`."""
    if not isinstance(where, Path):
        raise UsageError(
            "on PostgreSQL, back up with `rankbot db migrate --from env --to FILE` (a TinyDB "
            "file, counts checked) or with pg_dump"
        )
    return app.backup_database(where, target)


async def _local(config: Config, op: str, params: Mapping[str, Any], settings: OpsSettings) -> Any:
    readonly = op in READ_ONLY
    path = existing_database(config) if readonly else database_path(config)
    try:
        async with app.open_database(path, readonly=readonly) as store:
            if op == "send-test":
                return await _with_senders(config, store, op, params)
            admin = Admin(store, config, backup=lambda target: _backup(path, target))
            return await admin.call(op, params)
    except StoreBusy:
        where = (
            f"its [ops] listener at {settings.url} does not answer"
            if settings.url
            else 'it has no [ops] listener: set [ops] listen = "127.0.0.1:9464" in its config '
            "and restart it"
        )
        raise StoreBusy(
            f"{path} is in use by a running rankbot, and {where} (or stop it for this command)"
        ) from None


async def _with_senders(config: Config, store: Any, op: str, params: Mapping[str, Any]) -> Any:
    """No bot runs: start the senders (and the Slack and Discord adapters the config uses)
    for the length of the operation, as `poll --once` does."""
    settings: DeliverySettings = config.section("delivery")
    async with app.webhook_client(settings) as client, contextlib.AsyncExitStack() as stack:
        senders = app.default_senders(config, client, Renderer(config.templates_dir))
        bot = await app.build_bot(config, store, ReplaySource([]), senders)
        await app.start_chat_adapters(config, bot, senders, stack)
        live = Live(
            kick=bot.delivery.kick,
            readiness=lambda: Readiness(True),
            next_poll=lambda: None,
            send_test=bot.send_test,
            platforms=lambda: (),
        )
        return await Admin(store, config, live=live).call(op, params)


# --- output ----------------------------------------------------------------------------------


def show(args: argparse.Namespace, doc: Any, text: str) -> None:
    print(json.dumps(doc, ensure_ascii=False, indent=2) if args.json else text)


def status_text(doc: Mapping[str, Any]) -> str:
    bot = doc["bot"]
    lines = []
    if bot["running"]:
        ready = (
            "ready"
            if bot.get("ready")
            else "NOT ready: " + "; ".join(f"{k}: {v}" for k, v in bot.get("not_ready", {}).items())
        )
        lines.append(f"bot: running, {ready}")
    else:
        lines.append(f"bot: not running (read from {doc['database']})")
    source = doc["source"]
    health = source["health"] or {}
    lines.append(
        f"source {source['name']}: last good fetch {health.get('last_good_fetch') or 'never'}, "
        f"newest day {health.get('newest_day') or '-'}, "
        f"{health.get('consecutive_failures', 0)} failure(s) in a row"
        + (f" (last: {health['last_error']})" if health.get("last_error") else "")
    )
    lines.append(f"next poll: {source.get('next_poll') or 'at the next start'}")
    for p in doc["platforms"]:
        state = "connected" if p["connected"] else f"NOT connected: {p['problem']}"
        lines.append(f"{p['platform']}: {state}")
        for token, reason in p.get("tokens_held", {}).items():
            lines.append(f"  {token} held: {reason}")
    outbox = doc["outbox"]
    lines.append(
        f"subscriptions: {doc['subscriptions']}; outbox: {outbox['pending']} pending, "
        f"{outbox['failed']} failed"
    )
    for row in outbox["channels"]:
        lines.append(f"  {row['channel']}: {row['pending']} pending, {row['failed']} failed")
    if doc["paused"]:
        lines.append("paused channels (rankbot channels resume NAME):")
        for row in doc["paused"]:
            lines.append(f"  {row['channel']}: {row['reason']} (since {row['since']})")
    return "\n".join(lines)


def channels_text(doc: Mapping[str, Any]) -> str:
    rows = doc["channels"]
    if not rows:
        return "no subscribed channels"
    lines = []
    for c in rows:
        state = f"PAUSED: {c['pause_reason']}" if c["paused"] else "active"
        if c["muted_until"]:
            state += f", muted until {c['muted_until']}"
        name = f" ({c['name']})" if c["name"] else ""
        lines.append(
            f"{c['channel']}{name}: {state}; {', '.join(c['kinds'])} · "
            f"{', '.join(c['periods'])}; {c['pending']} pending, {c['failed']} failed"
        )
    return "\n".join(lines)


def outbox_text(doc: Mapping[str, Any]) -> str:
    posts = doc["posts"]
    lines = [
        f"{doc['total']} post(s)"
        + (f", last {len(posts)} shown" if len(posts) < doc["total"] else "")
    ]
    for p in posts:
        why = f" — {p['failure'] or 'error'}: {p['last_error']}" if p["last_error"] else ""
        lines.append(
            f"{p['state']:<8} {p['channel']}  {p['enqueued_at']}  attempts {p['attempts']}  "
            f"{p['about']}{why}\n         key {p['key']}"
        )
    return "\n".join(lines)


# --- commands --------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    doc = call(args, "status", {})
    show(args, doc, status_text(doc))
    return 0


def cmd_channels(args: argparse.Namespace) -> int:
    action = args.channels_command
    if action == "list":
        doc = call(args, "channels.list", {})
        show(args, doc, channels_text(doc))
        return 0
    params = {"channel": args.channel}
    if action == "pause":
        params["reason"] = args.reason
    doc = call(args, f"channels.{action}", params)
    if action == "pause":
        text = f"{doc['channel']}: paused ({doc['pause_reason']})"
    elif action == "remove":
        text = f"{doc['channel']}: removed; {doc['dropped_posts']} waiting post(s) dropped"
    else:
        was = "was paused" if doc["was_paused"] else "was not paused"
        when = "now" if doc["delivering_now"] else "at the next `rankbot run` or `poll --once`"
        text = (
            f"{doc['channel']}: resumed ({was}); {doc['resent']} missed post(s) sent again, "
            f"{doc['pending']} waiting post(s) go out {when}"
        )
        if doc["dropped_too_old"]:
            text += (
                f"; {doc['dropped_too_old']} missed post(s) older than "
                f"{doc['resend_within_days']:g} days dropped"
            )
        if doc["refused"]:
            text += f"; {doc['refused']} refused by the platform (rankbot outbox list)"
    show(args, doc, text)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    action = args.outbox_command
    if action == "list":
        params = {"channel": args.channel, "state": args.state, "limit": args.limit}
        doc = call(args, "outbox.list", params)
        show(args, doc, outbox_text(doc))
        return 0
    params = {"keys": args.keys, "channel": args.channel}
    doc = call(args, f"outbox.{action}", params)
    if action == "retry":
        text = f"{doc['retried']} of {doc['asked']} post(s) back to pending"
        if doc["paused"]:
            text += f"; paused, so they wait: {', '.join(doc['paused'])} (rankbot channels resume)"
    else:
        text = f"{doc['dropped']} of {doc['asked']} post(s) dropped"
    show(args, doc, text)
    return 0


def cmd_subscriptions(args: argparse.Namespace) -> int:
    if args.subscriptions_command == "export":
        doc = call(args, "subscriptions.export", {})
        text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        if args.output in (None, "-"):
            sys.stdout.write(text)
        else:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"{len(doc['subscriptions'])} subscription(s) written to {args.output}")
        return 0
    source = args.file
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        document = json.loads(raw)
    except OSError as exc:
        raise UsageError(f"{source}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{source}: not JSON ({exc})") from None
    doc = call(args, "subscriptions.import", {"document": document})
    show(
        args,
        doc,
        f"{doc['imported']} subscription(s) imported ({doc['new']} new, "
        f"{doc['replaced']} replaced)",
    )
    return 0


def cmd_send_test(args: argparse.Namespace) -> int:
    doc = call(args, "send-test", {"channel": args.channel})
    if doc["sent"]:
        text = f"{doc['channel']}: test post sent"
    else:
        text = f"{doc['channel']}: test post NOT sent ({doc['status']}): {doc['reason']}"
    show(args, doc, text)
    if doc["sent"]:
        return ExitCode.OK
    return ExitCode.POSTS_FAILED if doc["status"] == "permanent" else ExitCode.POSTS_WAITING


def cmd_backup(args: argparse.Namespace) -> int:
    target = Path(args.path).expanduser().resolve()
    if target.exists():
        raise UsageError(f"{target} exists already: choose a new file name")
    doc = call(args, "db.backup", {"path": str(target)})
    print(f"backup written: {doc['written']}")
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `status`, `channels`, `outbox`, `subscriptions` and `send-test`."""
    how = (
        "Works on a running bot through its [ops] listener (changes take effect at once), "
        "else on the database directly."
    )
    status = sub.add_parser(
        "status",
        parents=[common],
        help="the bot, the source, platforms, the outbox and paused channels",
        description="Source health and next poll, platforms and their connections, outbox "
        "pending and failed per channel, paused channels with their reasons. " + how,
    )
    _json_flag(status)
    status.set_defaults(handler=cmd_status)

    channels = sub.add_parser(
        "channels", help="list, pause, resume or remove channels", description=how
    )
    actions = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="every subscribed channel")
    _json_flag(listing)
    for name, help_text in (
        ("pause", "stop deliveries to a channel (settings kept)"),
        ("resume", "un-pause a channel: its waiting alerts go out"),
        ("remove", "remove a channel's subscription (not a [[channels]] entry: edit the config)"),
    ):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument(
            "channel", metavar="NAME", help="a [[channels]] name or a key like slack:T1:C1"
        )
        if name == "pause":
            action.add_argument("--reason", default=None, help="shown in status")
        _json_flag(action)
    channels.set_defaults(handler=cmd_channels)

    outbox = sub.add_parser("outbox", help="list, retry or drop posts", description=how)
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="posts, oldest first")
    listing.add_argument("--channel", metavar="NAME", help="only this channel's")
    listing.add_argument("--state", choices=("pending", "sent", "failed", "dropped"))
    listing.add_argument("--limit", type=int, default=50, help="show the last N (0: all)")
    _json_flag(listing)
    for name, help_text in (
        ("retry", "send failed posts again"),
        ("drop", "give up on pending or failed posts"),
    ):
        action = actions.add_parser(name, parents=[common], help=help_text)
        action.add_argument("keys", nargs="*", metavar="KEY", help="post keys (outbox list)")
        action.add_argument("--channel", metavar="NAME", help="every such post of a channel")
        _json_flag(action)
    outbox.set_defaults(handler=cmd_outbox)

    subs = sub.add_parser(
        "subscriptions",
        help="export or import subscriptions (JSON)",
        description="Chat subscriptions as JSON ([[channels]] stay in the config). " + how,
    )
    actions = subs.add_subparsers(dest="subscriptions_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", parents=[common], help="write them as JSON")
    export.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    imports = actions.add_parser("import", parents=[common], help="add or replace from JSON")
    imports.add_argument("file", metavar="FILE", help="an export (- for standard input)")
    _json_flag(imports)
    subs.set_defaults(handler=cmd_subscriptions)

    test = sub.add_parser(
        "send-test",
        parents=[common],
        help="post one sample alert, marked as a test, to a channel",
        description="Post one sample alert (marked as a test) so you see what alerts look "
        "like and that rankbot may post there. Exit 0 sent, 10 refused, 11 try again. " + how,
    )
    test.add_argument("channel", metavar="CHANNEL", help="a [[channels]] name or a channel key")
    _json_flag(test)
    test.set_defaults(handler=cmd_send_test)
