"""Numbers, dates, countries and languages in the reader's language (bot.i18n)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import TN, T
from bot.i18n import say, supported
from bot.i18n.formats import compact_tokens, country_name, day, moment


def old_human_tokens(value: float) -> str:
    """rankbot's hand-made T/B/M/K table before Babel, kept here to pin English output."""
    import math

    n = abs(value)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        x = n / size
        decimals = max(0, 3 - (math.floor(math.log10(x)) + 1 if x > 0 else 1))
        text = f"{x:.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        if float(text) >= 1:
            return ("-" if value < 0 else "") + text + unit
    return ("-" if value < 0 else "") + str(int(n))


@pytest.mark.parametrize(
    ("value", "en", "zh"),
    [
        (1.7e12, "1.7T", "1.7万亿"),
        (997e9, "997B", "9970亿"),
        (999.96e9, "1T", "1万亿"),
        (999_500, "1M", "100万"),
        (84.3e6, "84.3M", "8430万"),
        (12_345, "12.3K", "1.23万"),
        (999, "999", "999"),
        (0, "0", "0"),
        (-5e9, "-5B", "-50亿"),
        (1.2e15, "1200T", "1200万亿"),
    ],
)
def test_compact_token_figures(value: float, en: str, zh: str) -> None:
    assert compact_tokens(value) == en
    assert compact_tokens(value, "zh-CN") == zh


@given(st.integers(min_value=0, max_value=10**16))
def test_english_figures_are_what_they_were_before_babel(value: int) -> None:
    assert compact_tokens(value) == old_human_tokens(value)


def test_countries_dates_and_times_in_chinese() -> None:
    assert country_name("CN", "zh-CN") == "中国" and country_name("US", "zh-CN") == "美国"
    assert country_name("US") == "United States"  # English keeps rankbot's own names
    assert day("2026-02-16", "zh-CN") == "2026年2月16日" and day("2026-02-16") == "2026-02-16"
    at = datetime(2026, 5, 11, 2, 0, tzinfo=UTC)
    assert moment(at) == "2026-05-11 02:00 UTC"
    assert moment(at, "zh-CN", "Asia/Shanghai") == "2026年5月11日 10:00 (Asia/Shanghai)"
    assert moment(at, "en", "Europe/Berlin") == "2026-05-11 04:00 Europe/Berlin"


@pytest.mark.parametrize(
    ("tag", "lang"),
    [
        ("zh-CN", "zh-CN"),
        ("zh_cn", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("zh-TW", None),  # Traditional Chinese is a catalogue of its own, not there yet
        ("ja", None),
        ("", None),
        ("x-y-z!", None),
    ],
)
def test_which_language_a_platform_tag_means(tag: str, lang: str | None) -> None:
    assert supported(tag) == lang


def test_texts_are_translated_with_their_values_and_plurals() -> None:
    text = T("Stopped %(kinds)s. Active now:", kinds="surge")
    assert say(text) == "Stopped surge. Active now:" == text.english()
    assert say(text, "zh-CN") == "已停止 surge。当前设置："
    one = TN("%(n)s day", "%(n)s days", 1)
    assert say(one) == "1 day" and say(TN("%(n)s day", "%(n)s days", 3)) == "3 days"
    assert say(one, "zh-CN") == "1 天"


def test_a_language_without_a_catalogue_reads_english() -> None:
    # e.g. a subscription stored by a later rankbot that spoke Japanese
    assert say(T("Subscribed"), "ja") == "Subscribed"
    assert compact_tokens(1.7e12, "ja") == "1.7T"
