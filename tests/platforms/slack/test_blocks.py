"""Block Kit from the Slack templates: valid JSON for any name, mrkdwn made inert, limits kept."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.events import KINDS, Event
from bot.core.messages import Message, Reply
from bot.platforms.slack.blocks import (
    BLOCKS_BUDGET,
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    blocks_size,
    fallback_text,
    message_blocks,
    mrkdwn_escape,
    parse_fragment,
    problems,
    reply_blocks,
    slack_renderer,
)
from tests.render.test_templates import _sample_events

HOSTILE = 'x/<!channel> *bold* _it_ ~s~ `c` <@U1|x> <https://evil|click> & "q" \\ }]'


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    return _sample_events(tmp_path_factory.mktemp("events"))


def _hostile(event: Event) -> Event:
    fields = dict(event.fields)
    for key in ("name", "previous_name", "author", "model"):
        if key in fields:
            fields[key] = HOSTILE
    return replace(event, fields=fields, attribution=f"Source: {HOSTILE}")


def _texts(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if isinstance(node.get("text"), str) else []
        return own + [t for v in node.values() for t in _texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in _texts(v)]
    return []


def _shown(blocks: list) -> str:
    """What Slack displays: entities decoded, zero-width spaces invisible."""
    text = "\n".join(_texts(blocks))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_mrkdwn_escape_makes_mentions_and_links_inert_without_invisible_characters() -> None:
    escaped = mrkdwn_escape("<!channel> <@U1> a&b *bold* new_leader `x`")
    assert "<" not in escaped and ">" not in escaped
    assert escaped == "&lt;!channel&gt; &lt;@U1&gt; a&amp;b *bold* new_leader `x`"
    assert not set(escaped) & {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


def test_every_kind_renders_alone_within_the_limits(events: list[Event]) -> None:
    renderer = slack_renderer()
    assert {e.kind for e in events} == set(KINDS)
    for event in events:
        blocks = message_blocks(renderer, Message(events=(event,)))
        assert problems(blocks) == [], event.kind
        assert blocks[0]["type"] == "section"
        assert event.fields.get("name", "") in blocks[0]["text"]["text"]
        alone = parse_fragment(renderer.event(event, "slack"))  # the template with attribution
        assert problems(alone) == [] and alone[-1]["type"] == "context", event.kind


def test_every_kind_with_a_hostile_name_is_valid_and_literal(events: list[Event]) -> None:
    renderer = slack_renderer()
    for event in map(_hostile, events):
        blocks = message_blocks(renderer, Message(events=(event,)))
        raw = json.dumps(blocks, ensure_ascii=False)
        for forbidden in ("<!channel>", "<@U1", "<https://", "\u200b"):
            assert forbidden not in raw, (event.kind, forbidden)
        if event.kind not in ("country_flip",):
            assert HOSTILE in _shown(blocks), event.kind


def test_grouped_message_keeps_order_header_and_attribution(events: list[Event]) -> None:
    blocks = message_blocks(slack_renderer(), Message(events=tuple(events)))
    assert problems(blocks) == []
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= MAX_HEADER
    assert "New #1" in blocks[1]["text"]["text"]
    assert blocks[-2]["type"] == "context" and "openrouter.ai" in json.dumps(blocks[-2])
    assert blocks[-1]["type"] == "actions"  # Top 10, Mute 1 day


def test_many_events_are_cut_to_the_limits_with_more(events: list[Event]) -> None:
    long_name = "n" * 400
    many = [
        replace(e, subject=f"{e.subject}{i}", fields={**e.fields, "name": f"{long_name}{i}"})
        for i in range(6)
        for e in events
    ]
    blocks = message_blocks(slack_renderer(), Message(events=tuple(many)))
    assert problems(blocks) == []
    assert len(blocks) <= MAX_BLOCKS and blocks_size(blocks) <= BLOCKS_BUDGET
    shown = sum(1 for b in blocks if b["type"] == "section")
    more = [b for b in blocks if "more." in json.dumps(b)]
    assert len(more) == 1 and f"…and {len(many) - shown} more." in _shown(more)
    assert f"rankbot: {len(many)} changes" in blocks[0]["text"]["text"]


def test_one_oversized_event_is_cut_not_dropped(events: list[Event]) -> None:
    giant = replace(events[0], fields={**events[0].fields, "name": "g" * 5000})
    blocks = message_blocks(slack_renderer(), Message(events=(giant,)))
    assert len(blocks[0]["text"]["text"]) == MAX_SECTION
    assert blocks[0]["text"]["text"].endswith("…")


def test_title_and_notice_come_first_and_are_escaped() -> None:
    message = Message(title="t" * 200, notice="Paused: <!here> & more\n" * 300)
    blocks = message_blocks(slack_renderer(), message)
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) == MAX_HEADER
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in blocks[1:])
    assert "<!here>" not in json.dumps(blocks)


def test_fallback_text_is_escaped_too(events: list[Event]) -> None:
    text = fallback_text(slack_renderer(), Message(events=(_hostile(events[0]),)))
    assert "New #1" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_replies_use_the_view_template_or_escaped_text() -> None:
    renderer = slack_renderer()
    view = {
        "source": "openrouter",
        "period": "week",
        "as_of": "2026-02-16",
        "n": 25,
        "total": None,
        "previous_as_of": None,
        "attribution": "Source: <x>",
        "rows": [
            {
                "rank": i,
                "name": f"{HOSTILE} {i}",
                "country": "US",
                "tokens": 10**12 - i,
                "lower_bound": False,
                "share": 0.01,
                "move": 0,
                "change_pct": None,
            }
            for i in range(1, 26)
        ],
    }
    blocks = reply_blocks(renderer, Reply(text="…", view="top", data=view))
    assert problems(blocks) == [] and [b["type"] for b in blocks][:3] == [
        "header",
        "section",
        "section",
    ]
    assert "<!channel>" not in json.dumps(blocks)
    plain = reply_blocks(renderer, Reply(text="No <@U1> here", view="error", ok=False))
    assert plain == [{"type": "section", "text": {"type": "mrkdwn", "text": "No &lt;@U1&gt; here"}}]


def test_override_templates_are_used(tmp_path: Path, events: list[Event]) -> None:
    (tmp_path / "slack").mkdir()
    (tmp_path / "slack" / "new_leader.j2").write_text(
        '{"type": "section", "text": {"type": "mrkdwn", "text": {{ ("Leader: " ~ (e.name | md)) '
        "| tojson }}}}"
    )
    blocks = message_blocks(slack_renderer(tmp_path), Message(events=(events[0],)))
    assert blocks[:1] == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"Leader: {events[0].fields['name']}"},
        }
    ]
