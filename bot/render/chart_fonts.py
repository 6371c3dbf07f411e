"""Fonts for charts: names in any script, never a row of empty boxes.

matplotlib ships DejaVu Sans, which has no Chinese, Japanese or Korean glyphs; a model called
`通义千问` would be drawn as boxes. matplotlib (3.6+) falls back glyph by glyph along the
`font.family` list, so charts use DejaVu Sans first (Latin text looks as it always did) and
then the first CJK-capable font installed on the machine. Which one is found is reported by
`rankbot check`; `.ci/run` installs Debian's `fonts-wqy-microhei` so the test that draws a
Chinese name never skips in CI, and any of the families below works as well (the container
image may prefer `fonts-noto-cjk`). A name that no installed font can draw is replaced by
the model id (`bot.render.charts._name`).
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

BASE_FAMILY = "DejaVu Sans"
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
)
"""CJK-capable families, Simplified Chinese designs first (the bot's second language)."""
_FILE_HINTS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback")
"""Parts of file names of those fonts, to find one installed after matplotlib's font cache
was built (the cache is not refreshed by itself)."""


@cache
def cjk_font() -> tuple[str, Path] | None:
    """The family name and file of the CJK font charts use, or None when none is installed."""
    from matplotlib import font_manager

    def known() -> dict[str, Path]:
        return {f.name: Path(f.fname) for f in font_manager.fontManager.ttflist}

    fonts = known()
    if not any(family in fonts for family in CJK_FAMILIES):
        for path in font_manager.findSystemFonts():
            flat = Path(path).name.lower().replace("-", "").replace("_", "")
            if any(hint in flat for hint in _FILE_HINTS):
                font_manager.fontManager.addfont(path)
        fonts = known()
    for family in CJK_FAMILIES:
        if family in fonts:
            return family, fonts[family]
    return None


def font_families(*texts: str) -> list[str]:
    """The `font.family` list for a render whose words include `texts`: DejaVu Sans, then
    the CJK font when one is installed and some text is not Latin (a chart in Latin script
    stays exactly as it was drawn before fallback fonts existed)."""
    found = cjk_font()
    if found is None or all(text.isascii() for text in texts):
        return [BASE_FAMILY]
    return [BASE_FAMILY, found[0]]


class _NoBoldWarning(logging.Filter):
    """CJK fonts often come in one weight: matplotlib then logs, for every bold title, that
    it uses the regular one instead. That is expected, not news, so it is not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("findfont: Failed to find font weight")


logging.getLogger("matplotlib.font_manager").addFilter(_NoBoldWarning())


@cache
def _charmaps() -> tuple[frozenset[int], ...]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    paths = [Path(font_manager.findfont(BASE_FAMILY, fallback_to_default=True))]
    found = cjk_font()
    if found is not None:
        paths.append(found[1])
    return tuple(frozenset(FT2Font(str(path)).get_charmap()) for path in paths)


def renders(text: str) -> bool:
    """Whether the chart fonts have a glyph for every visible character of `text`."""
    maps = _charmaps()
    return all(ch.isspace() or any(ord(ch) in charmap for charmap in maps) for ch in text)


def describe() -> str:
    """One line for `rankbot check`: which font draws names in other scripts."""
    found = cjk_font()
    if found is None:
        return (
            "chart font: DejaVu Sans only; no CJK font installed, so Chinese, Japanese and "
            "Korean model names are drawn as their model ids (install fonts-noto-cjk or "
            "fonts-wqy-microhei)"
        )
    return f"chart font: DejaVu Sans, then {found[0]} for other scripts ({found[1]})"
