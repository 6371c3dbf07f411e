"""The languages rankbot speaks, their catalogues (gettext, from the `.po` files) and
CLDR locales; see the package docstring for how to add one."""

from __future__ import annotations

import gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "rankbot"
DEFAULT = "en"
"""The source language: message ids are English, so English needs no catalogue."""
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"


def _tag(folder: str) -> str:
    """`zh_CN` (gettext's folder name) → `zh-CN` (the BCP 47 tag users and Discord use)."""
    return folder.replace("_", "-")


@cache
def languages() -> tuple[str, ...]:
    """Every language rankbot speaks: English plus one per catalogue in `bot/locale/`."""
    found = sorted(
        _tag(po.parent.parent.name) for po in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )
    return (DEFAULT, *found)


def supported(tag: str | None) -> str | None:
    """The language rankbot speaks for a user's or a platform's tag, or None.

    Matches case-insensitively and with `_` or `-`, then by language alone: `zh-cn`, `zh_CN`
    and `zh-Hans-CN` give `zh-CN`, `en-US` and `en-GB` give `en`. A Chinese tag without a
    region or with a Simplified script gives `zh-CN`; `zh-TW` gives nothing until its
    catalogue exists (Traditional Chinese is not Simplified Chinese with other glyphs).
    """
    if not tag:
        return None
    wanted = tag.strip().replace("_", "-").lower()
    by_lower = {lang.lower(): lang for lang in languages()}
    if wanted in by_lower:
        return by_lower[wanted]
    try:
        parsed = Locale.parse(wanted, sep="-")
    except (ValueError, UnknownLocaleError):
        return None
    for lang in languages():
        candidate = Locale.parse(lang, sep="-")
        if candidate.language != parsed.language:
            continue
        if candidate.territory in (None, parsed.territory) or (
            parsed.language == "zh"
            and parsed.territory in (None, "CN", "SG")
            and parsed.script in (None, "Hans")
        ):
            return lang
    return None


def lang_or_default(*tags: str | None) -> str:
    """The first of `tags` rankbot speaks (caller, then channel, …), else English."""
    for tag in tags:
        found = supported(tag)
        if found:
            return found
    return DEFAULT


@cache
def babel_locale(lang: str) -> Locale:
    """The CLDR locale for numbers, dates and territory names (`zh-CN` → zh_Hans_CN);
    English for a language rankbot does not speak (a record written by a later version)."""
    return Locale.parse(lang if lang in languages() else DEFAULT, sep="-")


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of `lang` (English: none, the ids are the text; so is a language whose
    catalogue is gone, e.g. a subscription stored by a later version)."""
    if lang == DEFAULT or lang not in languages():
        return gettext.NullTranslations()
    po = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=lang.replace("-", "_"), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(lang: str) -> tuple[Callable[..., str], Callable[..., str]]:
    """`gettext` and `ngettext` of `lang`, in the form Jinja2's i18n extension calls them
    (new style: values as keyword arguments, `%` applied by the callable)."""
    catalogue = translations(lang)

    def _gettext(message: str, **values: object) -> str:
        translated = catalogue.gettext(message)
        return translated % values if values else translated

    def _ngettext(singular: str, plural: str, n: int, **values: object) -> str:
        translated = catalogue.ngettext(singular, plural, n)
        return translated % {"num": n, **values}

    return _gettext, _ngettext
