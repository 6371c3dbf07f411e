"""How commands are typed on Discord, for help and examples: options, not words.

The core's examples are command lines (`subscribe new_leader top=5 exclude-author=openai`,
`mute 2h`), which cannot be typed on Discord, where each command takes named options
(`/subscribe kind:new_leader top:5 exclude_authors:openai`). `SlashSyntax` is the core's
`Syntax` for Discord: usage lines come from the registered commands themselves (so they can
never disagree with what Discord shows), and examples are the core's lines translated word
by word into those options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.commands import parse as command_parse
from bot.core.local_time import WEEKDAYS
from bot.core.model import PERIODS
from bot.i18n import DEFAULT
from bot.platforms.discord.localizations import localized_name

SUBSCRIBE_OPTIONS: Mapping[str, str] = {
    "top": "top",
    "model": "models",
    "exclude-model": "exclude_models",
    "author": "authors",
    "exclude-author": "exclude_authors",
    "country": "countries",
    "exclude-country": "exclude_countries",
    "min-move": "min_move",
    "min-change": "min_change",
    "period": "period",
    "charts": "charts",
    "chart": "charts",
    "lang": "lang",
}
"""The core's `key=value` filters and the `/subscribe` option of each."""
_FLAGS = {"on": "True", "off": "False"}


class SlashSyntax:
    """`bot.core.messages.Syntax` for Discord's app commands, with the names the caller's
    client shows (`lang`: their Discord locale; names are localized by the catalogues)."""

    def __init__(
        self, commands: Mapping[str, app_commands.Command[Any, ..., None]], lang: str = DEFAULT
    ) -> None:
        self._commands = commands
        self._lang = lang

    def in_language(self, lang: str) -> SlashSyntax:
        return self if lang == self._lang else SlashSyntax(self._commands, lang)

    def _command(self, name: str) -> str:
        return "/" + localized_name(name, self._lang, Where.command_name)

    def _option(self, name: str) -> str:
        return localized_name(name, self._lang, Where.parameter_name)

    def usage(self, command: str) -> str | None:
        found = self._commands.get(command)
        if found is None:
            return None
        options = [
            f"{self._option(p.name)}:" if p.required else f"[{self._option(p.name)}:]"
            for p in found.parameters
        ]
        return " ".join([self._command(found.name), *options])

    def example(self, line: str) -> str:
        try:
            command = command_parse.split(line)
        except command_parse.ParseError:
            return self._command("help")
        options = _options(command.name, list(command.args))
        shown = (f"{self._option(k)}:{v}" for k, v in options)
        return " ".join([self._command(command.name), *shown])


def _options(name: str, args: list[str]) -> list[tuple[str, str]]:
    """The options that say what the words `args` of command `name` say."""
    if name == "subscribe":
        return _subscribe(args)
    if name == "model":
        return [("query", " ".join(args))] if args else []
    if name in ("top", "chart"):
        return _top_or_chart(name, args)
    if name == "digest":
        return _digest(args)
    single = {"mute": "duration", "unsubscribe": "kind", "help": "command"}
    if name in single and args:
        return [(single[name], args[0])]
    if name == "quiet" and args:
        return [("hours", args[0]), *([("timezone", args[1])] if len(args) > 1 else [])]
    return []


def _subscribe(args: list[str]) -> list[tuple[str, str]]:
    options: list[tuple[str, str]] = []
    kind_given = False
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            if arg.lower() == "reset":
                options.append(("reset", "True"))
            elif not kind_given:  # one kind per call on Discord: run again to add more
                options.append(("kind", arg))
                kind_given = True
            continue
        option = SUBSCRIBE_OPTIONS.get(key.lower().replace("_", "-"))
        if option is not None:
            options.append(
                (option, _FLAGS.get(value.lower(), value) if option == "charts" else value)
            )
    return options


def _top_or_chart(name: str, args: list[str]) -> list[tuple[str, str]]:
    options: list[tuple[str, str]] = []
    numbers = ["n", "weeks"] if name == "chart" else ["n"]
    for arg in args:
        if arg.isdigit() and numbers:
            options.append((numbers.pop(0), arg))
        elif name == "top" and arg.lower() in PERIODS:
            options.append(("period", arg.lower()))
        elif name == "top" and arg.lower() == "public":
            options.append(("public", "True"))
        elif name == "chart":
            options.append(("kind", arg))
    return options


def _digest(args: list[str]) -> list[tuple[str, str]]:
    if not args:
        return []
    options = [("mode", args[0])]
    for arg in args[1:]:
        if ":" in arg:
            options.append(("at", arg))
        elif arg.lower()[:3] in WEEKDAYS and arg.isalpha():
            options.append(("day", arg.lower()[:3]))
        else:
            options.append(("timezone", arg))
    return options
