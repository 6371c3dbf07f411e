"""The `rankbot` command line: the parser, and every failure turned into one line and an exit code.

Each part of the bot adds its own subcommands (`bot.cli.run`, `bot.cli.replay`, ...); this
module only assembles them and runs one. `main` is the one place a failure becomes an exit
code, from the one table (`bot.errors.ExitCode`, documented in docs/exit-codes.md): a
`RankbotError` carries its code; a network failure, a store's disk or permission failure, a
broken template, Ctrl-C and a closed output pipe are mapped here; anything else is a bug,
reported in one line with the way to get its traceback (`--debug` or `RANKBOT_DEBUG=1`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable, Sequence

import aiohttp
import httpx
import jinja2

from bot import __version__, logs
from bot.cli import (
    admin,
    backtest,
    chart,
    check,
    db,
    demo,
    discord,
    openrouter,
    replay,
    run,
    slack,
    top,
)
from bot.cli.common import add_log_options, configure_logging
from bot.errors import ExitCode, RankbotError

Handler = Callable[[argparse.Namespace], int]

IO_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT})
"""Disk full, read-only file system, permission denied: an I/O failure the user can fix."""
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    aiohttp.ClientConnectionError,
    ConnectionError,
    socket.gaierror,
)
"""Failures to reach a host (refused, reset, no route, DNS) that no adapter translated."""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", help="config file (TOML); default: $RANKBOT_CONFIG or none"
    )
    common.add_argument("--db", metavar="PATH", help="database file (overrides the config)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG)
    add_log_options(common)

    parser = argparse.ArgumentParser(
        prog="rankbot",
        description="Watches the public LLM token-usage rankings and posts alerts to chat.",
    )
    parser.add_argument("--debug", action="store_true", default=False, help=DEBUG)
    parser.add_argument("--version", action="version", version=f"rankbot {__version__}")
    add_log_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    # each part of the bot adds its own subcommands (in the order `--help` lists them)
    demo.add_command(sub, common)
    replay.add_command(sub, common)
    backtest.add_command(sub, common)
    top.add_command(sub, common)
    run.add_commands(sub, common)
    openrouter.add_commands(sub, common)
    check.add_command(sub, common)
    chart.add_command(sub, common)
    slack.add_command(sub, common)
    discord.add_commands(sub, common)
    db.add_command(sub, common)
    admin.add_commands(sub, common)
    return parser


DEBUG = "print the traceback of a failure (also: RANKBOT_DEBUG=1)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    debug = bool(args.debug) or os.environ.get("RANKBOT_DEBUG") == "1"
    configure_logging(args)  # again with the config file's [log] once a command reads it
    try:
        return int(handler(args))
    except SystemExit:
        raise
    except BaseException as exc:  # every way out becomes one line and a code from the table
        code, line = explain(exc)
        if code is ExitCode.PIPE_CLOSED:
            _silence_stdout()
            return code
        if debug and code is not ExitCode.INTERRUPTED:
            traceback.print_exc()
        if line and logs.current_format() == "json":
            logging.getLogger("rankbot").error(line.removeprefix("rankbot: error: "))
        elif line:
            print(line, file=sys.stderr)
        return code


def explain(exc: BaseException) -> tuple[ExitCode, str | None]:
    """The exit code of a failure and the one line that says it (None: say nothing)."""
    if isinstance(exc, BrokenPipeError):
        return ExitCode.PIPE_CLOSED, None
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, None
    if isinstance(exc, RankbotError):
        return exc.code, f"rankbot: error: {exc}"
    if isinstance(exc, jinja2.TemplateError):
        return ExitCode.USAGE, f"rankbot: error: a template does not render: {_template(exc)}"
    if isinstance(exc, NETWORK_ERRORS):
        return ExitCode.NETWORK, f"rankbot: error: network unreachable: {_oneline(exc)}"
    if isinstance(exc, OSError) and exc.errno in IO_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        return ExitCode.STORE_IO, f"rankbot: error: {exc.strerror}{where}"
    return ExitCode.INTERNAL, (
        f"rankbot: internal error: {type(exc).__name__}: {_oneline(exc)} "
        "(run with --debug for the traceback and report it)"
    )


def _template(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.filename or exc.name or "?"
        return f"{where} line {exc.lineno}: {exc.message} (check the [templates] dir)"
    return f"{exc.message or type(exc).__name__} (check the [templates] dir)"


def _oneline(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the interpreter's final flush does
    not fail again ("Exception ignored ... BrokenPipeError") on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (tests)
        pass
