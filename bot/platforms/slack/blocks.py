"""Block Kit messages from the `templates/slack/` Jinja2 templates, inside Slack's limits.

Slack templates render JSON: an event template renders a *fragment* (one or more blocks
separated by commas), `grouped.j2` and the reply templates (`top.j2`) a list of blocks. Every
string in them goes through the `tojson` filter, so a hostile model name can never break the
JSON, and everything that came from data goes through the `md` filter first (`mrkdwn_escape`).

Limits (platform-rules.md): 50 blocks, 3,000 characters per section text, 150 per header, 10
context elements, and a budget of about 10k characters of blocks per message (Slack rejects
around 13k with `msg_blocks_too_long` even under every documented limit). Events are dropped
from the end (the oldest snapshot's least important first: they come in `bot.core.grouping`
order) into the "+N more" line until a message fits;
only one event too long on its own is cut, with an ellipsis.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateNotFound

from bot.core.messages import Message, Reply
from bot.core.subscription import Subscription, summary
from bot.core.text import T, Text
from bot.i18n import DEFAULT, say
from bot.render.templates import Renderer
from bot.render.text import render_text

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_CONTEXT_ELEMENTS = 10
BLOCKS_BUDGET = 10_000
"""Characters of JSON-encoded blocks per message: Slack's real limit is lower than documented."""
MAX_FALLBACK = 3000

Block = dict[str, Any]

log = logging.getLogger("rankbot.slack")

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def mrkdwn_escape(value: object) -> str:
    """Text from data, made inert in Slack mrkdwn: the escaping Slack documents.

    `&`, `<` and `>` become entities, which Slack shows as the characters and never parses:
    no `<!channel>`, `<@U…>` or link can come out of a model name. Nothing else is added:
    invisible characters (zero-width spaces around `*` or `_`) would travel with any text a
    reader copies, and a command copied from a reply would no longer be the command. Command
    text in replies sits in code spans, where Slack applies no formatting.
    """
    return str(value).translate(_ENTITIES)


def slack_renderer(templates_dir: Path | None = None) -> Renderer:
    """A renderer for Slack: the shipped (or overridden) templates plus the `md` filter."""
    return Renderer(templates_dir, extra_filters={"md": mrkdwn_escape})


def rendered(
    renderer: Renderer, message: Message, where: str, *, actions: bool = True
) -> tuple[str, list[Block] | None]:
    """A message's plain-text fallback and its blocks (None: text only); `actions=False`
    leaves out the buttons, which an incoming webhook cannot answer."""
    text = fallback_text(renderer, message)
    return text, blocks_or_none(lambda: message_blocks(renderer, message, actions=actions), where)


def blocks_or_none(build: Callable[[], list[Block]], what: str) -> list[Block] | None:
    """`build()`, or None (post the text alone) when a template fails: an operator's override
    rendering broken JSON must not turn every alert into a retry that can never succeed."""
    try:
        return build()
    except (ValueError, TemplateError) as exc:
        log.warning(
            "slack template for %s failed (%s: %s); text only", what, type(exc).__name__, exc
        )
        return None


def parse_fragment(text: str) -> list[Block]:
    """A rendered template (a list, or a fragment of comma-separated blocks) as blocks."""
    body = text.strip()
    if not body:
        return []
    if not body.startswith("["):
        body = f"[{body}]"
    blocks = json.loads(body)
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise ValueError("a Slack template must render Block Kit blocks (JSON objects)")
    return blocks


def blocks_size(blocks: list[Block]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False))


def problems(blocks: list[Block]) -> list[str]:
    """What in `blocks` breaks a Slack limit (empty when the message can be posted)."""
    found = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks (max {MAX_BLOCKS})")
    for i, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > MAX_SECTION:
            found.append(f"block {i}: section text of {len(text)} chars (max {MAX_SECTION})")
        if block.get("type") == "header" and len(text) > MAX_HEADER:
            found.append(f"block {i}: header of {len(text)} chars (max {MAX_HEADER})")
        elements = block.get("elements", [])
        if block.get("type") == "context" and len(elements) > MAX_CONTEXT_ELEMENTS:
            found.append(f"block {i}: {len(elements)} context elements")
    if blocks_size(blocks) > BLOCKS_BUDGET:
        found.append(f"{blocks_size(blocks)} chars of blocks (budget {BLOCKS_BUDGET})")
    return found


def header(text: str) -> Block:
    """A header block; plain text is never parsed by Slack, so data needs no escaping here."""
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER)}}


def sections(mrkdwn: str) -> list[Block]:
    """Already-escaped mrkdwn as section blocks of at most 3,000 characters, split at lines."""
    chunks: list[str] = []
    for line in mrkdwn.splitlines() or [""]:
        if chunks and len(chunks[-1]) + 1 + len(line) <= MAX_SECTION:
            chunks[-1] += "\n" + line
        else:
            chunks.append(_cut(line, MAX_SECTION))
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in chunks
        if chunk.strip()
    ]


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return _PARTIAL_ENTITY.sub("", text[: limit - 1]) + "…"


def _clip(blocks: list[Block]) -> list[Block]:
    """Last resort for a single oversized event: cut texts and lists to the hard limits."""
    out = []
    for block in blocks[:MAX_BLOCKS]:
        block = dict(block)
        kind = block.get("type")
        if kind in ("section", "header") and isinstance(block.get("text"), Mapping):
            limit = MAX_SECTION if kind == "section" else MAX_HEADER
            block["text"] = {**block["text"], "text": _cut(block["text"]["text"], limit)}
        if kind == "context":
            block["elements"] = block.get("elements", [])[:MAX_CONTEXT_ELEMENTS]
        out.append(block)
    return out


BUTTONS: Mapping[str, str] = {
    "rankbot_top": "top 10",
    "rankbot_mute": "mute 1d",
    "rankbot_resume": "resume",
}
"""The buttons rankbot puts on messages (action id → the command line it runs). A press runs
the line through the same core and permission checks as the typed command
(`bot.platforms.slack.app.SlashCommands.button`)."""
_BUTTON_LABELS: Mapping[str, Text] = {
    "rankbot_top": T("Top 10"),
    "rankbot_mute": T("Mute 1 day"),
    "rankbot_resume": T("Resume"),
}


def buttons(action_ids: Sequence[str], lang: str = DEFAULT) -> Block:
    """An actions block with rankbot's buttons, labelled in `lang`."""
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": action,
                "value": BUTTONS[action],
                "text": {"type": "plain_text", "text": say(_BUTTON_LABELS[action], lang)},
            }
            for action in action_ids
        ],
    }


def message_blocks(renderer: Renderer, message: Message, *, actions: bool = True) -> list[Block]:
    """Title (header), notice (sections) and the grouped events, fitted into the limits;
    an alert ends with its buttons (Top 10, Mute 1 day) unless `actions` is off (incoming
    webhooks: their messages do not reach the app's button handlers).

    `renderer` must carry the `md` filter (see `slack_renderer`).
    """
    head: list[Block] = []
    if message.title:
        head.append(header(message.title))
    if message.notice:
        head += sections(mrkdwn_escape(message.notice))
    events = message.events
    if not events:
        return _clip(head)
    tail = [buttons(("rankbot_top", "rankbot_mute"), message.lang)] if actions else []

    def attempt(shown: int) -> list[Block]:
        rendered = renderer.group(
            events, "slack", shown=shown, note=message.note, lang=message.lang
        )
        return head + parse_fragment(rendered) + tail

    blocks = attempt(len(events))
    if not problems(blocks):
        return blocks
    # The most events that fit, found by bisection: size grows with every event shown.
    fits, too_many = 1, len(events)
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        if problems(attempt(middle)):
            too_many = middle
        else:
            fits = middle
    return _clip(attempt(fits))


def fallback_text(renderer: Renderer, message: Message) -> str:
    """The plain `text` next to the blocks (notifications, screen readers), escaped too:
    Slack parses mentions in it as well."""
    return render_text(renderer, message, max_chars=MAX_FALLBACK, escape=mrkdwn_escape)


def reply_blocks(renderer: Renderer, reply: Reply) -> list[Block]:
    """A command's answer: `slack/<view>.j2` when there is one (e.g. `top`), else its text;
    in a paused channel the pause note comes first either way."""
    try:
        rendered = renderer.render(f"slack/{reply.view}.j2", lang=reply.lang, view=reply.data)
    except TemplateNotFound:
        text = reply.text
        note = reply.data.get("paused")
        if isinstance(note, str) and text.startswith(note):  # the note goes with its button
            text = text[len(note) :].lstrip("\n")
        return _clip(pause_blocks(reply) + sections(mrkdwn_escape(text)))
    return _clip(pause_blocks(reply) + parse_fragment(rendered))


def pause_blocks(reply: Reply) -> list[Block]:
    """In a paused channel: the note, and a Resume button (which the core refuses to people
    who may not manage alerts, as it refuses the typed `resume`)."""
    note = reply.data.get("paused")
    if not isinstance(note, str):
        return []
    return [*sections(mrkdwn_escape(note)), buttons(("rankbot_resume",), reply.lang)]


HOME_CHANNELS = 22
"""Channels listed on the App Home tab: two blocks each, within the 50 blocks rankbot keeps a
message to (a home view allows 100) and its ~10k characters."""


def home_blocks(
    renderer: Renderer,
    subscriptions: Sequence[Subscription],
    now: datetime,
    *,
    command: str,
    lang: str = DEFAULT,
) -> list[Block]:
    """The App Home view: each subscribed channel of the workspace with its settings (the
    same lines `subscriptions` answers), in the reader's language."""
    shown = sorted(subscriptions, key=lambda s: s.channel.channel)[:HOME_CHANNELS]
    channels = [
        {
            "id": sub.channel.channel,
            "lines": [say(line, lang) for line in summary(sub, now)],
            "paused": sub.paused,
            "pause_reason": sub.pause_reason,
        }
        for sub in shown
    ]
    rendered = renderer.render(
        "slack/home.j2",
        lang=lang,
        channels=channels,
        more=len(subscriptions) - len(shown),
        subscribe=f"{command} subscribe",
        help=f"{command} help subscribe",
    )
    return _clip(parse_fragment(rendered))
