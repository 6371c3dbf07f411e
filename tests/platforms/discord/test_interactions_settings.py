"""The `[discord]` keys of HTTP interactions and sharding: read, checked, explained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import app
from bot.errors import ConfigError
from bot.platforms.discord.settings import DiscordSettings

KEY = "a" * 64


def discord(**table: Any) -> DiscordSettings:
    settings: DiscordSettings = app.config_from_mapping({"discord": table}, base=Path(".")).section(
        "discord"
    )
    return settings


def test_defaults_are_the_gateway_and_auto_shards() -> None:
    settings = discord()
    assert (settings.interactions, settings.shards, settings.public_key) == ("gateway", None, None)
    assert not settings.serves_http
    assert (settings.host, settings.port, settings.path) == (
        "0.0.0.0",
        3001,
        "/discord/interactions",
    )


def test_http_interactions_read_with_their_listener() -> None:
    settings = discord(
        interactions="http",
        public_key=KEY.upper(),
        host="127.0.0.1",
        port=8080,
        path="/interactions",
        signature_max_age_seconds=60,
    )
    assert settings.serves_http and settings.public_key == KEY
    assert (settings.host, settings.port, settings.path) == ("127.0.0.1", 8080, "/interactions")
    assert settings.signature_max_age_seconds == 60


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"interactions": "http"}, r"interactions = \"http\" needs public_key"),
        ({"interactions": "webhook"}, r"\[discord\] interactions: expected one of"),
        ({"public_key": "abc"}, r"\[discord\] public_key: expected the 64 hex digits"),
        ({"public_key": "g" * 64}, r"\[discord\] public_key: expected the 64 hex digits"),
        ({"path": "interactions"}, r"\[discord\] path: expected a path starting with /"),
        ({"port": 70000}, r"\[discord\] port: expected an integer"),
        ({"signature_max_age_seconds": 0}, r"\[discord\] signature_max_age_seconds"),
        ({"shards": "many"}, r"\[discord\] shards: expected one of 'auto'"),
        ({"shards": 0}, r"\[discord\] shards: expected an integer of at least 1"),
    ],
)
def test_bad_values_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        discord(**table)


def test_shards_auto_or_a_number() -> None:
    assert discord(shards="auto").shards is None
    assert discord(shards=4).shards == 4
