"""The `[slack]` section, the secrets from the environment, the manifest and start-up errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import app
from bot.cli.main import main
from bot.config.file import Config
from bot.errors import ConfigError
from bot.platforms.slack.manifest import manifest
from bot.platforms.slack.runtime import SlackStartError, slack_wanted, start_slack
from bot.platforms.slack.settings import BOT_SCOPES, SlackSecrets, SlackSettings
from bot.store.tinydb import TinyStore
from tests.fakes.slack_fake import SlackFake


def _settings(tmp_path: Path, **slack: object) -> SlackSettings:
    return app.config_from_mapping({"slack": slack}, base=tmp_path).section("slack")  # type: ignore[no-any-return]


def test_defaults_without_a_slack_table() -> None:
    settings: SlackSettings = app.load_config(None).section("slack")
    assert settings.api_url == "https://slack.com/api/"
    assert (settings.mode, settings.top_command, settings.command) == ("socket", "/top", "/rankbot")
    assert settings.managers == () and settings.everyone_can_manage is False
    assert settings.scopes == BOT_SCOPES and not settings.oauth


def test_values_are_read_and_the_api_url_gets_its_slash(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        api_url="http://127.0.0.1:9/api",
        mode="http",
        port=8080,
        managers=["U1"],
        client_id="1.2",
        command="/llm-ranks",
    )
    assert settings.api_url == "http://127.0.0.1:9/api/"
    assert (settings.mode, settings.port, settings.managers) == ("http", 8080, ("U1",))
    assert settings.oauth and settings.command == "/llm-ranks"


@pytest.mark.parametrize(
    ("slack", "message"),
    [
        ({"mode": "websocket"}, "[slack] mode: expected one of 'socket', 'http'"),
        ({"command": "rankbot"}, '[slack] command: expected a slash command like "/top"'),
        ({"top_command": "/Top"}, "[slack] top_command: expected a slash command"),
        ({"command": "/top"}, "[slack] command: must differ from top_command"),
        ({"client_id": "1.2"}, '[slack] client_id: OAuth installs need mode = "http"'),
        ({"api_url": "slack.com"}, "[slack] api_url: expected an http(s) URL"),
        ({"port": 70000}, "[slack] port: expected an integer from 0 to 65535"),
        ({"manager": ["U1"]}, "[slack] manager: unknown key (did you mean 'managers'?)"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, slack: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, **slack)
    assert str(caught.value).startswith(message)


def test_secrets_come_from_the_environment_and_never_show() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-secret", "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": "s3"}
    secrets = SlackSecrets.from_env(env)
    assert "xoxb-secret" not in repr(secrets) and "s3" not in repr(secrets)
    assert secrets.missing(SlackSettings()) == ["SLACK_APP_TOKEN"]
    assert secrets.missing(SlackSettings(mode="http")) == []
    oauth = SlackSettings(mode="http", client_id="1.2")
    assert secrets.missing(oauth) == ["SLACK_CLIENT_SECRET"]


def test_manifest_for_socket_mode() -> None:
    data = manifest(SlackSettings())
    commands = data["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/top", "/rankbot"]
    assert all("url" not in c for c in commands)
    assert data["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "users:read",
    ]
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "app_uninstalled",
        "tokens_revoked",
    ]


def test_manifest_for_http_mode_with_oauth() -> None:
    settings = SlackSettings(mode="http", client_id="1.2", command="/ranks")
    with pytest.raises(ValueError, match="--url"):
        manifest(settings)
    data = manifest(settings, url="https://bot.example.org/")
    assert data["settings"]["socket_mode_enabled"] is False
    assert data["features"]["slash_commands"][1] == {
        **data["features"]["slash_commands"][1],
        "command": "/ranks",
        "url": "https://bot.example.org/slack/events",
    }
    assert data["oauth_config"]["redirect_urls"] == ["https://bot.example.org/slack/oauth_redirect"]
    assert data["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")


def test_cli_prints_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RANKBOT_CONFIG", raising=False)
    assert main(["slack-manifest"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["settings"]["socket_mode_enabled"] is True
    config = tmp_path / "rankbot.toml"
    config.write_text('[slack]\nmode = "http"\n')
    assert main(["slack-manifest", "--config", str(config)]) == 2
    assert "--url" in capsys.readouterr().err


async def test_start_fails_clearly_on_missing_env_or_a_refused_token(tmp_path: Path) -> None:
    fake = await SlackFake().start()
    config = app.config_from_mapping({"slack": {"api_url": fake.api_url}}, base=tmp_path)
    try:
        async with TinyStore.open(tmp_path / "db.json") as store:
            with pytest.raises(SlackStartError, match="SLACK_BOT_TOKEN, SLACK_APP_TOKEN"):
                await start_slack(config, store, secrets=SlackSecrets(None, None, None, None))
            fake.fail("auth.test", error="invalid_auth")
            secrets = SlackSecrets("xoxb-revoked", "xapp-1", None, None)
            with pytest.raises(SlackStartError, match=r"refused SLACK_BOT_TOKEN \(invalid_auth\)"):
                await start_slack(config, store, secrets=secrets)
            fake.fail("apps.connections.open", error="invalid_auth")
            with pytest.raises(SlackStartError, match=r"refused SLACK_APP_TOKEN \(invalid_auth\)"):
                await start_slack(config, store, secrets=secrets)
    finally:
        await fake.close()
    assert len(fake.called("apps.connections.open")) == 1


async def test_start_fails_clearly_when_slack_is_unreachable(tmp_path: Path) -> None:
    fake = await SlackFake().start()
    api_url = fake.api_url
    await fake.close()  # nothing listens there any more
    config = app.config_from_mapping({"slack": {"api_url": api_url}}, base=tmp_path)
    secrets = SlackSecrets("xoxb-1", "xapp-1", None, None)
    async with TinyStore.open(tmp_path / "db.json") as store:
        with pytest.raises(SlackStartError, match=r"cannot reach Slack at http://127\.0\.0\.1"):
            await start_slack(config, store, secrets=secrets)


def test_slack_is_wanted_with_a_table_or_a_secret(tmp_path: Path) -> None:
    assert not slack_wanted(Config(), {})
    assert slack_wanted(Config(), {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert slack_wanted(app.config_from_mapping({"slack": {}}, base=tmp_path), {})
