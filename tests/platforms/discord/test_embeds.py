"""Discord embeds, senders' error mapping, settings and the invite URL: no network needed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import discord
import pytest

from bot import app
from bot.config.file import Config
from bot.core.events import Event
from bot.core.messages import Attachment, Message, Reply
from bot.delivery.sender import SendStatus
from bot.errors import ConfigError
from bot.platforms.discord.commands import words_list
from bot.platforms.discord.embeds import (
    DESCRIPTION_MAX,
    FIELDS_MAX,
    TITLE_MAX,
    TOTAL_MAX,
    EmbedParts,
    discord_renderer,
    message_parts,
    reply_parts,
)
from bot.platforms.discord.invite import invite_url
from bot.platforms.discord.sender import nonce_for, result_for_error
from bot.platforms.discord.settings import DEFAULT_API_BASE, DEFAULT_GATEWAY_URL, DiscordSettings

RENDERER = discord_renderer()


def surge(i: int, name: str | None = None) -> Event:
    return Event(
        kind="surge",
        source="openrouter",
        period="week",
        as_of=date(2026, 2, 16),
        subject=f"lab/model-{i}",
        fields={
            "model": f"lab/model-{i}",
            "name": name or f"Model {i} " + "x" * 60,
            "tokens": 2_000_000_000 + i,
            "previous_tokens": 1_000_000_000,
            "change_pct": 100.0,
            "rank": i + 1,
        },
        attribution="Source: OpenRouter (openrouter.ai/rankings), as of 2026-02-16.",
    )


def assert_fits(parts: EmbedParts) -> None:
    embed = parts.to_embed().to_dict()
    fields = embed.get("fields", [])
    total = (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )
    assert total <= TOTAL_MAX
    assert len(embed.get("title", "")) <= TITLE_MAX
    assert len(embed.get("description", "")) <= DESCRIPTION_MAX
    assert len(fields) <= FIELDS_MAX


def test_a_big_group_drops_the_least_important_events_and_says_how_many() -> None:
    events = tuple(surge(i) for i in range(300))
    parts = message_parts(RENDERER, Message(events=events))
    assert_fits(parts)
    assert parts.title == "300 changes · 7 days to 16 Feb 2026"
    shown = parts.description.count("surged")
    assert 10 < shown < 300
    assert parts.description.endswith(f"+{300 - shown} more")
    assert "Model 0 " in parts.description  # the first (most important) events are kept


def test_one_event_is_its_own_embed_and_a_huge_one_is_cut_with_an_ellipsis() -> None:
    parts = message_parts(RENDERER, Message(events=(surge(1, name="N" * 9000),)))
    assert_fits(parts)
    assert parts.title.startswith("📈 Surge")
    assert parts.description.endswith("…")
    assert parts.footer.startswith("Source: OpenRouter")


def test_fields_beyond_25_become_plus_n_more_and_long_titles_are_cut() -> None:
    parts = EmbedParts(title="T" * 300, fields=[(f"n{i}", "v") for i in range(40)]).fitted()
    assert len(parts.title) == TITLE_MAX and parts.title.endswith("…")
    assert len(parts.fields) == FIELDS_MAX
    assert parts.fields[-1] == ("…", "+16 more")


def test_names_cannot_format_and_attachments_are_referenced_by_the_embed() -> None:
    event = surge(1, name="**bold** _x_ @everyone")
    chart = Attachment("trend.png", b"\x89PNG...")
    parts = message_parts(RENDERER, Message(events=(event,), attachments=(chart,)))
    assert "\\*\\*bold\\*\\* \\_x\\_ @everyone" in parts.description
    assert parts.to_embed().to_dict()["image"] == {"url": "attachment://trend.png"}


def test_a_notice_gets_the_planner_title() -> None:
    parts = message_parts(RENDERER, Message(notice="watching from now on", title="Subscribed"))
    assert (parts.title, parts.description) == ("Subscribed", "watching from now on")


def test_plain_replies_keep_the_core_text() -> None:
    parts = reply_parts(RENDERER, Reply("Use `top 5`.", view="error", ok=False))
    assert (parts.title, parts.description) == ("Sorry", "Use `top 5`.")


def test_nonce_is_stable_and_fits_discord() -> None:
    key = "post:discord:1:2:" + "e" * 200
    assert nonce_for(key) == nonce_for(key) != nonce_for(key + "x")
    assert len(nonce_for(key)) == 25


def http_error(status: int, code: int, message: str = "x") -> discord.HTTPException:
    response = Mock(status=status, reason="x", headers={"Retry-After": "7"})
    return discord.HTTPException(response, {"code": code, "message": message})


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, 50013, SendStatus.PERMANENT),
        (403, 50001, SendStatus.PERMANENT),
        (404, 10003, SendStatus.PERMANENT),
        (404, 0, SendStatus.PERMANENT),
        (401, 0, SendStatus.HELD),  # the token: every channel waits for it
        (400, 50035, SendStatus.PERMANENT),
        (500, 0, SendStatus.RETRY),
        (503, 0, SendStatus.RETRY),
    ],
)
def test_discord_errors_map_to_delivery_outcomes(
    status: int, code: int, expected: SendStatus
) -> None:
    result = result_for_error(http_error(status, code))
    assert result.status is expected
    if code in (50001, 50013, 10003):
        assert str(code) in (result.reason or "")


def test_429s_are_retried_at_retry_after() -> None:
    assert result_for_error(discord.RateLimited(45.0)).retry_after == 45.0
    cloudflare = result_for_error(http_error(429, 0))  # discord.py gave up in place
    assert (cloudflare.status, cloudflare.retry_after) == (SendStatus.RETRY, 7.0)


def test_options_stay_one_word_of_the_command_line() -> None:
    assert words_list("openai/*, x-ai/*  top=1") == "openai/*,x-ai/*,top=1"


def config(data: dict[str, Any]) -> Config:
    return app.config_from_mapping(data, base=Path("."))


def test_discord_settings_default_to_the_real_service() -> None:
    settings = app.load_config(None).section("discord")
    assert settings == DiscordSettings()
    assert (settings.api_base, settings.gateway_url) == (DEFAULT_API_BASE, DEFAULT_GATEWAY_URL)


def test_discord_settings_are_read_and_checked() -> None:
    settings = config(
        {
            "discord": {
                "api_base": "http://127.0.0.1:9/api/v10/",
                "gateway_url": "ws://127.0.0.1:9/gateway",
                "application_id": 123,
                "dev_guild_id": 456,
            }
        }
    ).section("discord")
    assert settings.api_base == "http://127.0.0.1:9/api/v10"
    assert (settings.application_id, settings.dev_guild_id) == (123, 456)
    with pytest.raises(ConfigError, match=r"\[discord\] gateway_url: expected a ws"):
        config({"discord": {"gateway_url": "https://gateway.discord.gg"}})
    with pytest.raises(ConfigError, match=r"\[discord\] tokn: unknown key"):
        config({"discord": {"tokn": "x"}})


def test_invite_asks_for_the_two_scopes_and_four_permissions_only() -> None:
    url = invite_url(123)
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=123&")
    assert "scope=bot+applications.commands" in url
    view, send, embed, attach = 1 << 10, 1 << 11, 1 << 14, 1 << 15  # Discord's bit values
    assert url.endswith(f"&permissions={view | send | embed | attach}")
