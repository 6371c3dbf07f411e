"""A grouped catch-up post as people see it, in every flavour: plain text (console, webhooks),
Slack Block Kit and Discord embeds (read back as text). One section per snapshot, newest
first; a headline naming the real span; the note; ONE citation, the newest, readable."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bot.core.events import Event
from bot.core.messages import ChannelRef, Message
from bot.core.planning import CatchUp, catch_up_note, grouped
from bot.platforms.discord.embeds import discord_renderer, message_parts
from bot.platforms.slack.blocks import message_blocks, slack_renderer
from bot.render.templates import Renderer, cite
from bot.render.text import render_text
from tests.render.test_templates import _sample_events

CH = ChannelRef("slack", "T1", "C1")
DATES = (date(2026, 4, 9), date(2026, 4, 10), date(2026, 4, 11))
NOTE = catch_up_note(
    CatchUp(days=49, first=date(2026, 2, 22), last=date(2026, 4, 11), announced_days=3)
).english()  # as the planner says it to an English channel
LABELS = [
    "11 Apr 2026",
    "7 days to 11 Apr 2026",
    "10 Apr 2026",
    "7 days to 10 Apr 2026",
    "9 Apr 2026",
    "7 days to 9 Apr 2026",
]
HEADLINE = "12 changes in 6 rankings · 9 Apr – 11 Apr 2026"
CITATION = "Source: OpenRouter (openrouter.ai/rankings), as of 2026-04-12 02:00 UTC."


def attribution(day: date) -> str:
    stamp = date.fromordinal(day.toordinal() + 1).isoformat()
    return f"Source: OpenRouter (openrouter.ai/rankings), as of {stamp}T02:00:00Z."


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    """Two events per snapshot, a day and its week on each of three days, shuffled."""
    sample = _sample_events(tmp_path_factory.mktemp("events"))
    leader = next(e for e in sample if e.kind == "new_leader")
    move = next(e for e in sample if e.kind == "rank_change")
    out = [
        replace(e, as_of=day, period=period, attribution=attribution(day))
        for day in DATES
        for period in ("week", "day")
        for e in (move, leader)
    ]
    return out[::-1]


@pytest.fixture(scope="module")
def message(events: list[Event]) -> Message:
    return replace(grouped(CH, events).message, note=NOTE)


def positions(text: str, labels: list[str]) -> list[int]:
    return [text.index(f"\n{label}") for label in labels]


def test_text_has_the_span_the_note_sections_newest_first_and_one_citation(
    message: Message,
) -> None:
    text = render_text(Renderer(), message)
    lines = text.split("\n")
    assert lines[0] == f"rankbot: {HEADLINE}"
    assert lines[1] == NOTE
    found = positions(text, [f"{label}:" for label in LABELS])
    assert found == sorted(found)
    assert text.count("Source: OpenRouter") == 1 and lines[-1] == CITATION
    # each section's events by importance, and no event repeats its section's window
    first = text.split("\n\n7 days to 11 Apr 2026:")[0]
    assert first.index("New #1: minimax/m") < first.index("moved from #")
    assert "(11 Apr" not in text and "(7 days" not in text


def test_the_stored_attribution_is_untouched(events: list[Event], message: Message) -> None:
    render_text(Renderer(), message)
    assert {e.attribution for e in message.events} == {attribution(d) for d in DATES}
    assert cite(attribution(DATES[0])) == (
        "Source: OpenRouter (openrouter.ai/rankings), as of 2026-04-10 02:00 UTC."
    )
    assert cite("as of 2026-02-16.") == "as of 2026-02-16."  # a date alone stays as it is
    assert cite("as of 2026-05-11T04:00:00+02:00") == "as of 2026-05-11 02:00 UTC"
    assert cite(None) == ""


def test_slack_blocks_say_the_same(message: Message) -> None:
    blocks = message_blocks(slack_renderer(), message)
    assert blocks[-1]["type"] == "actions"  # the alert's buttons (Top 10, Mute 1 day)
    blocks = blocks[:-1]
    texts = [
        b["text"]["text"] if "text" in b else " ".join(e["text"] for e in b["elements"])
        for b in blocks
    ]
    assert blocks[0]["type"] == "header" and texts[0] == f"rankbot: {HEADLINE}"
    assert blocks[1]["type"] == "context" and texts[1] == NOTE
    headings = [t for t in texts if t.startswith("*") and t.endswith("*")]
    assert headings == [f"*{label}*" for label in LABELS]
    assert sum("Source: OpenRouter" in t for t in texts) == 1
    assert blocks[-1]["type"] == "context" and texts[-1] == CITATION


def test_discord_embed_says_the_same(message: Message) -> None:
    parts = message_parts(discord_renderer(), message)
    assert parts.title == HEADLINE
    assert parts.description.split("\n")[0] == f"*{NOTE}*"
    found = positions(parts.description, [f"__**{label}**__" for label in LABELS])
    assert found == sorted(found)
    assert parts.footer == CITATION
    assert "Ranking of" not in parts.description  # the headings name the windows


def test_a_cut_post_drops_the_oldest_snapshot_first(message: Message) -> None:
    full = render_text(Renderer(), message)
    cut = render_text(Renderer(), message, max_chars=len(full) - 200)
    assert cut.startswith(f"rankbot: {HEADLINE}\n")  # the headline still counts them all
    assert "\n11 Apr 2026:" in cut and "\n7 days to 9 Apr 2026:" not in cut
    assert "\n…and 3 more.\n" in cut and cut.endswith(CITATION)


def test_single_events_keep_their_window_and_a_digest_keeps_its_headline(
    message: Message,
) -> None:
    one = Message(events=message.events[:1])
    assert render_text(Renderer(), one).startswith("🏆 New #1 (11 Apr 2026): minimax/m")
    slack = message_blocks(slack_renderer(), one)
    assert slack[0]["text"]["text"].startswith("🏆 *New #1* (11 Apr 2026)")
    discord = message_parts(discord_renderer(), one)
    assert "Ranking of 11 Apr 2026." in discord.description
    digest = replace(message, title="Daily digest: 12 alert(s) since 2026-04-10 09:00 UTC")
    parts = message_parts(discord_renderer(), digest)
    assert parts.title.startswith("Daily digest")
    assert parts.description.startswith(f"**{HEADLINE}**")
    text = render_text(Renderer(), digest)
    assert text.startswith("Daily digest: 12 alert(s)")
    assert f"\n\nrankbot: {HEADLINE}\n" in text


def test_an_override_of_the_grouped_template_sees_the_sections(
    tmp_path: Path, message: Message
) -> None:
    override = tmp_path / "text"
    override.mkdir()
    (override / "grouped.j2").write_text(
        "{{ span.events }}|{% for s in sections %}{{ s.as_of }} {{ s.period }};{% endfor %}"
        "|{{ citation | cite }}"
    )
    assert render_text(Renderer(tmp_path), message) == (
        "12|2026-04-11 day;2026-04-11 week;2026-04-10 day;2026-04-10 week;2026-04-09 day;"
        f"2026-04-09 week;|{CITATION}"
    )


def test_a_single_event_post_carries_the_note_too(message: Message) -> None:
    one = Message(events=message.events[:1], note=NOTE)
    text = render_text(Renderer(), one)
    assert text.startswith(f"{NOTE}\n\n🏆 New #1 (11 Apr 2026)")
    blocks = message_blocks(slack_renderer(), one)
    assert blocks[0] == {"type": "context", "elements": [{"type": "mrkdwn", "text": NOTE}]}
    assert blocks[1]["text"]["text"].startswith("🏆 *New #1* (11 Apr 2026)")
    parts = message_parts(discord_renderer(), one)
    assert parts.title == "🏆 New #1" and parts.description.startswith(f"*{NOTE}*\n**minimax/m**")
