"""What every `rankbot` subcommand shares: reading the config from the arguments, where the
database is, and argument types. (A command that cannot work raises `bot.errors.UsageError`.)

Kept apart from `bot.cli.main` so the modules that add subcommands (run, replay, charts, the
source, Slack, Discord) can use it without importing the CLI that imports them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot import app, logs
from bot.config.database import URL_ENV, Location, parse_url
from bot.config.file import Config
from bot.config.log import LogSettings
from bot.errors import UsageError
from bot.i18n import DEFAULT, languages, supported


def positive_int(upper: int) -> Callable[[str], int]:
    """An argparse type for a whole number from 1 to `upper`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not 1 <= value <= upper:
            raise argparse.ArgumentTypeError(f"expected a number from 1 to {upper}, got {value}")
        return value

    return parse


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """`--lang`: the language a command prints in (`en`, `zh-CN`, …; default English)."""
    parser.add_argument(
        "--lang",
        type=language,
        default=DEFAULT,
        metavar="LANG",
        help=f"the language of the output: {', '.join(languages())} (default {DEFAULT})",
    )


def language(text: str) -> str:
    """An argparse type for a language rankbot speaks (`zh-cn`, `zh_CN` give `zh-CN`)."""
    found = supported(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            f"rankbot does not speak {text!r}: choose one of {', '.join(languages())}"
        )
    return found


def config_from_args(args: argparse.Namespace) -> Config:
    """`--config` (or `$RANKBOT_CONFIG`, or the defaults), with `--db` overriding the store."""
    path = args.config or os.environ.get("RANKBOT_CONFIG")
    config = app.load_config(Path(path) if path else None)
    env_url = os.environ.get(URL_ENV)
    if getattr(args, "db", None):
        if env_url or config.db_url:
            where = URL_ENV if env_url else "[store] url"
            raise UsageError(f"--db and {where} both name a database: give only one of them")
        config = replace(config, db_path=Path(args.db))
    elif env_url:
        # the environment's URL wins over the config file's path or url
        size = config.db_url.pool_size if config.db_url else None
        db_url = parse_url(env_url, URL_ENV, pool_size=size, from_file=False)
        config = replace(config, db_url=db_url, db_path=None)
    configure_logging(args, config.section("log"))
    return config


def configure_logging(args: argparse.Namespace, settings: LogSettings | None = None) -> None:
    """Logging from `--log-level`/`--log-format`, else `[log]`, else the command's default
    (`info` for the long-running `run` and `poll`, `warning` for everything else)."""
    settings = settings or LogSettings()
    default = "info" if getattr(args, "command", None) in ("run", "poll") else "warning"
    level = getattr(args, "log_level", None) or settings.level or default
    fmt = getattr(args, "log_format", None) or settings.format
    logs.configure(level, fmt)


def report_line(text: str) -> None:
    """A command's closing report on stderr: a plain line, or a log record when the logs are
    JSON (so a collector reading stderr sees nothing but JSON objects)."""
    if logs.current_format() == "json":
        logging.getLogger("rankbot.cli").info(text)
    else:
        print(text, file=sys.stderr)


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """`--log-level` and `--log-format`, the same for every command."""
    parser.add_argument(
        "--log-level",
        choices=logs.LEVELS,
        default=argparse.SUPPRESS,
        help="debug, info, warning or error (default: info for run and poll, else warning)",
    )
    parser.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=argparse.SUPPRESS,
        help="text (default) or json: one JSON object per line",
    )


def database_path(config: Config) -> Location:
    """The database: a PostgreSQL URL (`RANKBOT_DATABASE_URL`, `[store] url`), else the file
    `--db`, else `[store] path`, else the platform's data directory."""
    return config.db_url or config.db_path or app.default_db_path()


def existing_database(config: Config) -> Location:
    """The database for a command that only reads it; a file must exist already."""
    path = database_path(config)
    if isinstance(path, Path) and not path.exists():
        raise UsageError(
            f"no database at {path} yet: run `rankbot replay FILE --db {path}` or the poller first"
        )
    return path
