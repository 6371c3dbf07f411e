"""`rankbot check`: everything it can check, one line each with ✔ or ✘ and the fix.

Offline first: the config, the environment variables it needs (webhook URLs, platform tokens,
the source key), the templates (every one compiles, the sample alert renders in each
flavour), the languages, the chart font, the store (writable, schema version). Then, unless
`--offline`, over the network: the source key (one request for yesterday) and each platform
token (Slack `auth.test`, Discord `GET /users/@me`). The exit code is the first failure's
(2 configuration or environment, 3-5 the store, 6 unreachable, 7 a key or token refused, 8
another source failure); a missing CJK font is a warning (⚠), not a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jinja2

from bot import app
from bot.cli.common import config_from_args, database_path
from bot.clock import utcnow
from bot.commands.sample_alert import sample_alert
from bot.config.file import Config
from bot.errors import ExitCode, RankbotError
from bot.i18n import languages
from bot.i18n.languages import translations
from bot.render.templates import Renderer
from bot.store.protocols import SCHEMA_VERSION

OK, FAIL, WARN, SKIP = "✔", "✘", "⚠", "–"


@dataclass
class Report:
    code: ExitCode = ExitCode.OK
    lines: list[str] = field(default_factory=list)

    def add(self, mark: str, text: str, code: ExitCode = ExitCode.USAGE) -> None:
        print(f"{mark} {text}", flush=True)
        if mark == FAIL and self.code is ExitCode.OK:
            self.code = code


def installation() -> list[str]:
    """The languages and the chart font, for operators (a catalogue that does not compile
    fails here, loudly)."""
    spoken = []
    for lang in languages():
        if lang == "en":
            spoken.append(lang)
            continue
        catalogue = translations(lang)
        spoken.append(f"{lang} ({len(getattr(catalogue, '_catalog', {})) - 1} messages)")
    from bot.render.chart_fonts import describe  # matplotlib: only for this line

    return [f"languages: {', '.join(spoken)}", describe()]


def cmd_check(args: argparse.Namespace) -> int:
    report = Report()
    try:
        config = config_from_args(args)
    except RankbotError as exc:
        report.add(FAIL, f"config: {exc}", exc.code)
        return report.code
    where = args.config or os.environ.get("RANKBOT_CONFIG")
    report.add(OK, f"config: {where}" if where else "config: none given, the defaults apply")
    _environment(config, report)
    _templates(config, report)
    for line in installation():
        font_missing = line.startswith("chart font:") and "no CJK font" in line
        report.add(WARN if font_missing else OK, line)
    asyncio.run(_store(config, report))
    if args.offline:
        report.add(SKIP, "network checks skipped (--offline)")
    else:
        _network(args, config, report)
    return report.code


def _environment(config: Config, report: Report) -> None:
    from bot.platforms.discord.settings import TOKEN_ENV
    from bot.platforms.slack.runtime import slack_wanted
    from bot.platforms.slack.settings import SlackSecrets
    from bot.sources.openrouter.api import KEY_ENV

    needed: list[tuple[str, str]] = [(KEY_ENV, "create a key at openrouter.ai/keys")]
    for declared in config.section("channels"):
        needed.append((declared.url_env, f"the webhook URL of [[channels]] {declared.name!r}"))
    if slack_wanted(config):
        for name in SlackSecrets.from_env().missing(config.section("slack")):
            needed.append((name, "README: Put it in your Slack"))
    if "discord" in config.sections or os.environ.get(TOKEN_ENV):
        needed.append((TOKEN_ENV, "the bot token from the Discord developer portal"))
    missing = [(name, fix) for name, fix in needed if not os.environ.get(name)]
    present = [name for name, _ in needed if os.environ.get(name)]
    if present:
        report.add(OK, f"environment: {', '.join(present)} set")
    for name, fix in missing:
        report.add(FAIL, f"environment: {name} is not set: export {name}=… ({fix})")


def _templates(config: Config, report: Report) -> None:
    from bot.platforms.discord.embeds import discord_renderer, message_parts
    from bot.platforms.slack.blocks import message_blocks, slack_renderer
    from bot.render.text import render_text

    renderers = {
        "text": Renderer(config.templates_dir),
        "slack": slack_renderer(config.templates_dir),
        "discord": discord_renderer(config.templates_dir),
    }
    message = sample_alert(utcnow().date())
    compiled = 0
    try:
        for flavour, renderer in renderers.items():
            # each flavour with its own renderer: its filters (Slack escaping, Discord code)
            prefix = f"{flavour}/"
            for name in renderer.env.list_templates(extensions=["j2"]):
                if name.startswith(prefix):
                    renderer.env.get_template(name)
                    compiled += 1
        render_text(renderers["text"], message)
        message_blocks(renderers["slack"], message)
        message_parts(renderers["discord"], message)
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or getattr(exc, "name", None) or "a template"
        line = getattr(exc, "lineno", None)
        report.add(
            FAIL,
            f"templates: {where}{f' line {line}' if line else ''}: {exc.message} "
            "(fix or remove the override in [templates] dir)",
        )
        return
    custom = f" (overrides from {config.templates_dir})" if config.templates_dir else ""
    report.add(
        OK,
        f"templates: {compiled} compile; a sample alert renders as text, Slack and Discord{custom}",
    )


async def _store(config: Config, report: Report) -> None:
    path = database_path(config)
    if isinstance(path, Path) and not path.exists():
        folder = _existing_parent(path)
        if os.access(folder, os.W_OK):
            report.add(OK, f"store: {path} does not exist yet; the first run creates it")
        else:
            report.add(
                FAIL,
                f"store: cannot create {path}: {folder} is not writable (set [store] path)",
                ExitCode.STORE_IO,
            )
        return
    try:
        async with app.open_database(path) as store:
            version = store.schema_version
        state = "writable"
    except RankbotError as exc:
        if exc.code is not ExitCode.STORE_BUSY:
            report.add(FAIL, f"store: {exc}", exc.code)
            return
        async with app.open_database(path, readonly=True) as store:
            version = store.schema_version
        state = "in use by a running rankbot"
    mark = OK if version == SCHEMA_VERSION else FAIL
    report.add(mark, f"store: {path} is {state}, schema {version}", ExitCode.STORE_UNREADABLE)


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _network(args: argparse.Namespace, config: Config, report: Report) -> None:
    from bot.cli.openrouter import check_key

    code, line = check_key(args)
    report.add(OK if code == 0 else FAIL, line, ExitCode(code))
    asyncio.run(_platform_tokens(config, report))


async def _platform_tokens(config: Config, report: Report) -> None:
    from bot.platforms.discord.settings import TOKEN_ENV, DiscordSettings
    from bot.platforms.slack.runtime import slack_wanted
    from bot.platforms.slack.settings import BOT_TOKEN_ENV, SlackSettings

    slack_token = os.environ.get(BOT_TOKEN_ENV)
    if slack_wanted(config) and slack_token:
        settings: SlackSettings = config.section("slack")
        await _ask(
            report,
            f"Slack: {BOT_TOKEN_ENV}",
            f"{settings.api_url.rstrip('/')}/auth.test",
            {"Authorization": f"Bearer {slack_token}"},
            slack=True,
        )
    discord_token = os.environ.get(TOKEN_ENV)
    if discord_token:
        discord: DiscordSettings = config.section("discord")
        await _ask(
            report,
            f"Discord: {TOKEN_ENV}",
            f"{discord.api_base.rstrip('/')}/users/@me",
            {"Authorization": f"Bot {discord_token}"},
        )


async def _ask(
    report: Report, what: str, url: str, headers: dict[str, str], *, slack: bool = False
) -> None:
    """One authenticated request; the token never appears in a line (only its variable)."""
    try:
        async with httpx.AsyncClient(timeout=15) as client:
            answer = await (client.post if slack else client.get)(url, headers=headers)
    except httpx.TransportError as exc:
        host = httpx.URL(url).host
        report.add(FAIL, f"{what}: cannot reach {host} ({type(exc).__name__})", ExitCode.NETWORK)
        return
    doc = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    refused = answer.status_code in (401, 403) or (slack and not doc.get("ok"))
    if refused:
        why = doc.get("error") if slack else f"HTTP {answer.status_code}"
        report.add(FAIL, f"{what} was refused ({why}): check or reset it", ExitCode.CREDENTIALS)
    elif answer.status_code >= 400:
        report.add(FAIL, f"{what}: HTTP {answer.status_code}", ExitCode.NETWORK)
    else:
        who = doc.get("user") or doc.get("username") or "?"
        team = f" in {doc['team']}" if slack and doc.get("team") else ""
        report.add(OK, f"{what} works (as {who}{team})")


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    check = sub.add_parser(
        "check",
        parents=[common],
        help="check the config, environment, templates, fonts, store, key and tokens",
        description="Check everything rankbot needs, one line each with ✔/✘ and the fix: "
        "config, environment variables, templates, languages, chart font, the store, then "
        "over the network the OpenRouter key and each platform token (--offline skips "
        "those). The exit code is the first failure's (docs/exit-codes.md).",
    )
    check.add_argument("--offline", action="store_true", help="skip the network checks")
    check.set_defaults(handler=cmd_check)
