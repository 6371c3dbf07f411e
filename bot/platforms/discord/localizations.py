"""Discord command localizations: names, descriptions and choices in each catalogue language.

Discord shows a command in the user's client language when the registered command carries
`name_localizations` / `description_localizations`; discord.py fills them from a
`app_commands.Translator` at sync time. `CatalogueTranslator` answers from the same gettext
catalogues as everything else, so a new language's catalogue localizes the commands too.

Descriptions are ordinary messages (the core's command summaries, the option descriptions
marked with `N_`). Names are short words that mean something else elsewhere ("top", "day"),
so they are looked up with a gettext context: `discord command`, `discord option`,
`discord choice` (marked with `NP_`, which `pybabel extract` reads as `pgettext`).
"""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import DEFAULT, supported
from bot.i18n.languages import translations


def N_(message: str) -> str:
    """A description to translate (the English text itself; marked for `pybabel extract`)."""
    return message


def NP_(context: str, message: str) -> str:
    """A name to translate within `context` (marked for `pybabel extract` as pgettext)."""
    return message


# Every name rankbot registers, so the extraction finds them (the decorators hold plain
# strings, which is what discord.py wants).
COMMAND_NAMES = (
    NP_("discord command", "top"),
    NP_("discord command", "model"),
    NP_("discord command", "countries"),
    NP_("discord command", "chart"),
    NP_("discord command", "subscribe"),
    NP_("discord command", "unsubscribe"),
    NP_("discord command", "subscriptions"),
    NP_("discord command", "mute"),
    NP_("discord command", "unmute"),
    NP_("discord command", "digest"),
    NP_("discord command", "quiet"),
    NP_("discord command", "status"),
    NP_("discord command", "resume"),
    NP_("discord command", "test"),
    NP_("discord command", "help"),
)
OPTION_NAMES = (
    NP_("discord option", "n"),
    NP_("discord option", "period"),
    NP_("discord option", "public"),
    NP_("discord option", "query"),
    NP_("discord option", "kind"),
    NP_("discord option", "weeks"),
    NP_("discord option", "top"),
    NP_("discord option", "models"),
    NP_("discord option", "exclude_models"),
    NP_("discord option", "authors"),
    NP_("discord option", "exclude_authors"),
    NP_("discord option", "countries"),
    NP_("discord option", "exclude_countries"),
    NP_("discord option", "min_move"),
    NP_("discord option", "min_change"),
    NP_("discord option", "charts"),
    NP_("discord option", "lang"),
    NP_("discord option", "reset"),
    NP_("discord option", "duration"),
    NP_("discord option", "mode"),
    NP_("discord option", "day"),
    NP_("discord option", "at"),
    NP_("discord option", "timezone"),
    NP_("discord option", "hours"),
    NP_("discord option", "command"),
)
CHOICE_NAMES = (
    NP_("discord choice", "all"),
    NP_("discord choice", "new_leader"),
    NP_("discord choice", "country_flip"),
    NP_("discord choice", "top_entry"),
    NP_("discord choice", "top_exit"),
    NP_("discord choice", "rank_change"),
    NP_("discord choice", "surge"),
    NP_("discord choice", "drop"),
    NP_("discord choice", "milestone"),
    NP_("discord choice", "new_model"),
    NP_("discord choice", "source_health"),
    NP_("discord choice", "day"),
    NP_("discord choice", "week"),
    NP_("discord choice", "month"),
    NP_("discord choice", "trend"),
    NP_("discord choice", "countries"),
    NP_("discord choice", "ranks"),
    NP_("discord choice", "daily"),
    NP_("discord choice", "weekly"),
    NP_("discord choice", "off"),
    NP_("discord choice", "mon"),
    NP_("discord choice", "tue"),
    NP_("discord choice", "wed"),
    NP_("discord choice", "thu"),
    NP_("discord choice", "fri"),
    NP_("discord choice", "sat"),
    NP_("discord choice", "sun"),
    NP_("discord choice", "en"),
    NP_("discord choice", "zh-CN"),
)
CONTEXTS = {
    Where.command_name: ("discord command",),
    Where.parameter_name: ("discord option",),
    # the `/help command:` choices are command names
    Where.choice_name: ("discord choice", "discord command"),
}
NAME = re.compile(r"^[-_\w]{1,32}$")
"""What Discord accepts as a command or option name (letters of any script, digits, - _)."""
DESCRIPTION_MAX = CHOICE_MAX = 100


def localized_name(name: str, lang: str, where: Where = Where.parameter_name) -> str:
    """`name` as Discord shows it to a user whose client speaks `lang`."""
    if lang == DEFAULT:
        return name
    catalogue = translations(lang)
    for context in CONTEXTS.get(where, ()):
        translated = catalogue.pgettext(context, name)
        if translated != name:
            return translated
    return name


class CatalogueTranslator(app_commands.Translator):
    """discord.py's translator over rankbot's catalogues (see the module docstring)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        lang = supported(locale.value)
        if lang is None or lang == DEFAULT:
            return None
        english = string.message
        if context.location in CONTEXTS:
            translated = localized_name(english, lang, context.location)
            if context.location is not Where.choice_name and not NAME.match(translated):
                return None  # Discord would refuse the whole sync: better English
        else:
            translated = translations(lang).gettext(english)
        if translated == english:
            return None
        return translated[:DESCRIPTION_MAX]
