"""The catalogues: every message in the code and the templates is in each `.po` file with a
translation, placeholders match, and the catalogues compile (`pybabel compile`), so a
message added without its translation fails here, not in front of a reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.i18n.languages import LOCALE_DIR, languages

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {
    "T": None,
    "TN": (1, 2),
    "N_": None,
    "NP_": ((1, "c"), 2),
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    """The message ids `pybabel extract` finds, with the project's own map and keywords."""
    with (LOCALE_DIR / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: set[str] = set()
    for folder in ("bot", "templates"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, options_map, keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalogue(lang: str) -> dict[str, tuple[str, ...]]:
    path = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "rankbot.po"
    with path.open("rb") as handle:
        entries = read_po(handle)
    out = {}
    for message in entries:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        out[key] = tuple(s for s in strings)
    return out


TRANSLATED = [lang for lang in languages() if lang != "en"]


def test_there_is_a_language_besides_english() -> None:
    assert "zh-CN" in languages()


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_in_the_code_is_translated(lang: str) -> None:
    have = catalogue(lang)
    missing = sorted(m for m in extracted() if not all(have.get(m, ("",))))
    assert missing == [], f"not in bot/locale/{lang}: run the pybabel steps of docs/i18n.md"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_every_placeholder(lang: str) -> None:
    for msgid, strings in catalogue(lang).items():
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_the_catalogues_compile(tmp_path: Path) -> None:
    """What CI's `pybabel compile` does, on a copy (no `.mo` is kept in the tree)."""
    for lang in TRANSLATED:
        folder = tmp_path / lang.replace("-", "_") / "LC_MESSAGES"
        folder.mkdir(parents=True)
        source = LOCALE_DIR / lang.replace("-", "_") / "LC_MESSAGES" / "rankbot.po"
        (folder / "rankbot.po").write_bytes(source.read_bytes())
    CommandLineInterface().run(
        ["pybabel", "compile", "--statistics", "-D", "rankbot", "-d", str(tmp_path)]
    )
    for lang in TRANSLATED:
        assert (tmp_path / lang.replace("-", "_") / "LC_MESSAGES" / "rankbot.mo").stat().st_size


def test_a_message_missing_from_the_catalogue_is_caught(tmp_path: Path) -> None:
    # the completeness check can fail: a message id that is not in the catalogue
    assert "A message nobody translated." not in catalogue("zh-CN")
    assert "New #1" in extracted() and "New #1" in catalogue("zh-CN")
