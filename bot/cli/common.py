"""What every `rankbot` subcommand shares: reading the config from the arguments, where the
database is, and argument types. (A command that cannot work raises `bot.errors.UsageError`.)

Kept apart from `bot.cli.main` so the modules that add subcommands (run, replay, charts, the
source, Slack, Discord) can use it without importing the CLI that imports them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bot import app
from bot.config.file import Config
from bot.errors import UsageError
from bot.i18n import DEFAULT, languages, supported
from bot.store.database import default_db_path


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
    if getattr(args, "db", None):
        config = replace(config, db_path=Path(args.db))
    return config


def database_path(config: Config) -> Path:
    """The database file: `--db`, else `[store] path`, else the platform's data directory."""
    return config.db_path or default_db_path()


def existing_database(config: Config) -> Path:
    """The database file for a command that only reads it; it must exist already."""
    path = database_path(config)
    if not path.exists():
        raise UsageError(
            f"no database at {path} yet: run `rankbot replay FILE --db {path}` or the poller first"
        )
    return path
