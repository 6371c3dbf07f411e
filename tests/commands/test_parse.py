"""The parser takes what people paste: text copied from rankbot's own replies or from a chat
client that added zero-width characters, no-break spaces, smart quotes or code-span
backticks (issue 15)."""

from __future__ import annotations

import pytest

from bot.commands import parse as cp
from bot.i18n import say


@pytest.mark.parametrize(
    "pasted",
    [
        "subscribe new\u200b_\u200bleader",  # the old escaping's zero-width spaces
        "subscribe `new_leader`",  # copied with its code span
        "subscribe \u201cnew_leader\u201d",  # smart quotes
        "\ufeffsubscribe\u00a0new_leader\u2060",  # BOM, no-break space, word joiner
        "/rankbot subscribe \u2018new_leader\u2019",
    ],
)
def test_a_pasted_command_is_the_command(pasted: str) -> None:
    command = cp.split(pasted)
    assert command == cp.Command("subscribe", command.args)
    assert cp.parse_subscribe(command.args).kinds == ("new_leader",)


def test_the_suggestion_holds_no_invisible_character() -> None:
    with pytest.raises(cp.ParseError) as caught:
        cp.parse_subscribe(("new_leadr",))
    problem = say(caught.value.problem)
    assert "`new_leader`" in problem
    assert not set(problem) & {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


def test_lang_is_a_language_rankbot_speaks() -> None:
    assert cp.parse_subscribe(("lang=zh-cn",)).lang == "zh-CN"
    with pytest.raises(cp.ParseError) as caught:
        cp.parse_subscribe(("lang=klingon",))
    assert "en, zh-CN" in say(caught.value.problem)
