"""Charts for every reader (issue 15): names in any script drawn, never as empty boxes; the
model id where no font has the glyphs; lines and areas with 3:1 contrast on white; a
sentence saying what the chart shows; words in the channel's language."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from bot.core.countries import shipped_table
from bot.core.model import Snapshot
from bot.render import chart_fonts
from bot.render.chart_attachments import chart_attachment
from bot.render.charts import _COUNTRY_COLOURS, _OTHER_COLOUR, PALETTE, chart_alt, render_chart
from tests.helpers import snap

B = 1_000_000_000
QWEN = "通义千问 Qwen3 Max"


def history() -> list[Snapshot]:
    weeks = [
        {"qwen/qwen3-max": 300 * B, "openai/gpt-5": 900 * B, "deepseek/deepseek-v3": 500 * B},
        {"qwen/qwen3-max": 700 * B, "openai/gpt-5": 950 * B, "deepseek/deepseek-v3": 600 * B},
        {"qwen/qwen3-max": 1700 * B, "openai/gpt-5": 997 * B, "deepseek/deepseek-v3": 640 * B},
    ]
    out = []
    for i, figures in enumerate(weeks):
        shot = snap(f"2026-02-{2 + 7 * i:02d}", figures, attribution="Source: OpenRouter.")
        named = [
            {**e.to_dict(), "name": QWEN} if e.model == "qwen/qwen3-max" else e.to_dict()
            for e in shot.entries
        ]
        out.append(Snapshot.from_dict({**shot.to_dict(), "entries": named}))
    return out


def _relative_luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_on_white(colour: str) -> float:
    return 1.05 / (_relative_luminance(colour) + 0.05)


@pytest.mark.parametrize("colour", sorted({*PALETTE, _OTHER_COLOUR, *_COUNTRY_COLOURS.values()}))
def test_every_line_and_area_colour_has_3_to_1_contrast_with_white(colour: str) -> None:
    assert contrast_on_white(colour) >= 3.0, colour


def test_the_old_pale_colours_would_have_failed() -> None:
    # the check above can fail: the colours the issue named are below 3:1
    for pale in ("#DDCC77", "#88CCEE", "#44AA99", "#BBBBBB"):
        assert contrast_on_white(pale) < 3.0


def test_a_chinese_model_name_is_drawn_without_a_missing_glyph() -> None:
    if chart_fonts.cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have a CJK font: .ci/run installs fonts-wqy-microhei")
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    out = (
        Path(os.environ.get("RANKBOT_CHART_DIR", ""))
        if os.environ.get("RANKBOT_CHART_DIR")
        else None
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for kind in ("trend", "ranks"):
            png = render_chart(kind, history(), countries=shipped_table(), lang="zh-CN")
            if out is not None:  # to look at it: RANKBOT_CHART_DIR=/tmp pytest …
                (out / f"cjk-{kind}.png").write_bytes(png)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert chart_fonts.renders(QWEN)


def test_without_a_cjk_font_the_model_id_is_drawn_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chart_fonts, "renders", lambda text: text.isascii())
    from bot.render import charts

    monkeypatch.setattr(charts, "renders", chart_fonts.renders)
    entry = history()[-1].get("qwen/qwen3-max")
    assert entry is not None
    assert charts._name(entry) == "qwen/qwen3-max"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkeypatch.setattr(charts, "font_families", lambda *texts: ["DejaVu Sans"])
        render_chart("trend", history(), countries=shipped_table())
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_the_font_is_reported() -> None:
    line = chart_fonts.describe()
    assert line.startswith("chart font: DejaVu Sans")


def test_alt_text_says_what_the_chart_shows_in_the_channels_language() -> None:
    shots = history()
    en = chart_alt("trend", shots, countries=shipped_table())
    assert en == (
        "Line chart: Weekly tokens of the top 3 models, 3 weeks to 2026-02-16. "
        f"{QWEN} leads with 1.7T tokens."
    )
    zh = chart_alt("countries", shots, countries=shipped_table(), lang="zh-CN")
    assert zh.startswith("堆叠面积图：周榜 Token 用量的开发者国家占比")
    assert "中国" in zh and "美国" in zh
    png = render_chart("trend", shots, countries=shipped_table())
    attachment = chart_attachment("trend", shots, png, countries=shipped_table())
    assert attachment.alt == en and attachment.title.endswith("as of 2026-02-16")


def test_english_charts_are_unchanged_by_the_fallback_font() -> None:
    # Latin-only words use DejaVu Sans alone, as before the CJK fallback existed
    assert chart_fonts.font_families("Weekly tokens", "GPT-5") == ["DejaVu Sans"]
