"""What this installation can do, reported by `rankbot check` after the key check: the
languages it speaks (and how many messages each catalogue translates) and the font its
charts use for names in other scripts."""

from __future__ import annotations

from bot.i18n import languages
from bot.i18n.languages import translations


def installation() -> list[str]:
    """Lines for an operator; a catalogue that does not compile fails here, loudly."""
    spoken = []
    for lang in languages():
        if lang == "en":
            spoken.append(lang)
            continue
        catalogue = translations(lang)
        spoken.append(f"{lang} ({len(getattr(catalogue, '_catalog', {})) - 1} messages)")
    from bot.render.chart_fonts import describe  # matplotlib: only for this line

    return [f"languages: {', '.join(spoken)}", describe()]
