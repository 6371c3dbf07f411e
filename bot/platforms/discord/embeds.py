"""Embeds from the Jinja2 templates in `templates/discord/`, fitted into Discord's limits.

A Discord template renders the embed's description as its body and sets the other parts as
template variables: `title`, `color`, `footer` and, for lists such as `/top`, `fields` (a list
of `(name, value)` pairs). Reading them through `Template.make_module` keeps every word of a
message in the template, where operators may override it, while the limits (title 256,
description 4,096, 25 fields, footer 2,048, 6,000 characters over all embeds) are enforced
here: a grouped alert drops its oldest snapshot's least important events first and says
"+N more"; only a single
event or reply that is too long on its own is cut, with an ellipsis.

Data never formats or pings: names go through the `md` filter (Discord markdown escaped) and
every send sets `allowed_mentions` to none, so a model called `@everyone` is shown as text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
from discord.utils import escape_markdown

from bot.core.events import Event
from bot.core.messages import Attachment, Message, Reply
from bot.core.text import T, Text
from bot.i18n import DEFAULT, say
from bot.render.templates import Renderer, group_context, language_context

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
TOTAL_MAX = 6000
DEFAULT_COLOR = 0x5865F2

REPLY_TITLES: Mapping[str, Text] = {
    "model": T("Model"),
    "countries": T("Countries"),
    "subscription": T("Subscription"),
    "status": T("Status"),
    "help": T("rankbot commands"),
    "error": T("Sorry"),
}


def escape(value: object) -> str:
    """Discord markdown escaped, so a name like `**x**` or `a_b_c` shows as typed."""
    return escape_markdown(str(value))


def code(value: object) -> str:
    """Safe inside an inline code span (which cannot contain a backtick)."""
    return str(value).replace("`", "'")


def discord_renderer(override_dir: Path | None = None) -> Renderer:
    """The shared `Renderer` with the filters Discord templates need."""
    return Renderer(override_dir, extra_filters={"md": escape, "code": code})


@dataclass(slots=True)
class EmbedParts:
    """An embed as plain data, before it is fitted and turned into a `discord.Embed`."""

    title: str = ""
    description: str = ""
    color: int = DEFAULT_COLOR
    footer: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    image: str | None = None

    def size(self) -> int:
        """Characters Discord counts towards the 6,000 limit."""
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(n) + len(v) for n, v in self.fields)
        )

    def fitted(self) -> EmbedParts:
        """Every part cut to its own limit, then the description to the total limit."""
        fields = [(_cut(n, FIELD_NAME_MAX), _cut(v, FIELD_VALUE_MAX)) for n, v in self.fields]
        if len(fields) > FIELDS_MAX:
            more = len(fields) - (FIELDS_MAX - 1)
            fields = [*fields[: FIELDS_MAX - 1], ("…", f"+{more} more")]
        out = EmbedParts(
            _cut(self.title, TITLE_MAX),
            _cut(self.description, DESCRIPTION_MAX),
            self.color,
            _cut(self.footer, FOOTER_MAX),
            fields,
            self.image,
        )
        excess = out.size() - TOTAL_MAX
        if excess > 0:
            out.description = _cut(out.description, max(1, len(out.description) - excess))
        return out

    def to_embed(self) -> discord.Embed:
        embed = discord.Embed(
            title=self.title or None, description=self.description or None, color=self.color
        )
        for name, value in self.fields:
            embed.add_field(name=name or "\u200b", value=value or "\u200b", inline=False)
        if self.footer:
            embed.set_footer(text=self.footer)
        if self.image:
            embed.set_image(url=self.image)
        return embed


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_parts(
    renderer: Renderer, name: str, *, lang: str = DEFAULT, tz: str | None = None, **context: Any
) -> EmbedParts:
    """Render `discord/<name>` in `lang` and read the embed parts it set."""
    module = renderer.env.get_template(f"discord/{name}").make_module(
        {**language_context(lang, tz), **context}
    )
    fields = getattr(module, "fields", None) or []
    return EmbedParts(
        title=str(getattr(module, "title", "") or "").strip(),
        description=str(module).strip(),
        color=int(getattr(module, "color", None) or DEFAULT_COLOR),
        footer=str(getattr(module, "footer", "") or "").strip(),
        fields=[(str(n).strip(), str(v).strip()) for n, v in fields],
    )


def event_parts(
    renderer: Renderer, event: Event, *, under_heading: bool = False, lang: str = DEFAULT
) -> EmbedParts:
    """One event's embed in `lang`; `under_heading`: shown in a grouped post whose headline
    or section heading already names the event's window, so the event does not repeat it."""
    return render_parts(
        renderer, f"{event.kind}.j2", lang=lang, e=event.to_dict(), under_heading=under_heading
    )


def message_parts(renderer: Renderer, message: Message) -> EmbedParts:
    """One embed for a planned post, within every limit (see the module docstring): the
    events in sections (`bot.core.grouping`), each shown as its own embed's title and body."""
    grouped = len(message.events) > 1
    items = {
        e.key: _as_item(event_parts(renderer, e, under_heading=grouped, lang=message.lang))
        for e in message.events
    }
    shown = len(message.events)
    while True:
        parts = render_parts(
            renderer,
            "grouped.j2",
            lang=message.lang,
            tz=message.tz,
            **_group_context(message, shown, items),
            notice=message.notice or "",
            heading=message.title or "",
        )
        if shown <= 1 or (parts.size() <= TOTAL_MAX and len(parts.description) <= DESCRIPTION_MAX):
            break
        shown -= 1
    if message.attachments:
        parts.image = f"attachment://{message.attachments[0].filename}"
    return parts.fitted()


def _group_context(
    message: Message, shown: int, items: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """`Renderer.group`'s context, each event view joined with its own embed's parts."""
    if not message.events:
        return {"sections": [], "items": [], "span": None, "citation": "", "note": "", "more": 0}
    context = group_context(message.events, shown, message.note)
    for section in context["sections"]:
        section["embeds"] = [{**view, **items[view["key"]]} for view in section["events"]]
    context["items"] = [item for section in context["sections"] for item in section["embeds"]]
    return context


def _as_item(parts: EmbedParts) -> dict[str, Any]:
    return {"title": parts.title, "body": parts.description, "color": parts.color}


def reply_parts(renderer: Renderer, reply: Reply) -> EmbedParts:
    """An embed for a command's reply: a template of its own for `top`, the text otherwise."""
    if reply.view == "top":
        parts = render_parts(renderer, "top.j2", lang=reply.lang, view=reply.data)
        note = reply.data.get("paused")
        if isinstance(note, str):  # the template shows the data; the pause note comes first
            parts.description = f"{note}\n\n{parts.description}".strip()
    else:
        parts = render_parts(
            renderer,
            "reply.j2",
            lang=reply.lang,
            text=reply.text,
            title=say(REPLY_TITLES.get(reply.view, ""), reply.lang),
            ok=reply.ok,
        )
    if reply.attachments:
        parts.image = f"attachment://{reply.attachments[0].filename}"
    return parts.fitted()


def files_of(attachments: Sequence[Attachment]) -> list[discord.File]:
    """`discord.File`s for attachments, which the embed shows as `attachment://<filename>`."""
    return [
        discord.File(
            io.BytesIO(a.content),
            filename=a.filename,
            description=(a.alt or a.title)[:1024] or None,
        )
        for a in attachments
    ]
