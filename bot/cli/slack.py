"""`rankbot slack-manifest`: the Slack app manifest for the `[slack]` settings."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.common import config_from_args
from bot.errors import UsageError
from bot.platforms.slack.manifest import manifest_json
from bot.platforms.slack.settings import SlackSettings


def cmd_slack_manifest(args: argparse.Namespace) -> int:
    settings: SlackSettings = config_from_args(args).section("slack")
    try:
        print(manifest_json(settings, url=args.url))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `slack-manifest` to the `rankbot` parser (called from `bot.cli.main.build_parser`)."""
    parser = sub.add_parser(
        "slack-manifest",
        parents=[common],
        help="print the Slack app manifest (paste it into “Create app from manifest”)",
        description="Print the Slack app manifest (JSON) for the [slack] settings: slash "
        "commands, bot scopes, Socket Mode on (or, in HTTP mode, the request URLs).",
    )
    parser.add_argument(
        "--url", metavar="URL", help="HTTP mode: the bot's public base URL (https://…)"
    )
    parser.set_defaults(handler=cmd_slack_manifest)
