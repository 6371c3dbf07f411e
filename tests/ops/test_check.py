"""`rankbot check`: one line per check with ✔/✘ and the fix; `--offline` asks nobody."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from bot.errors import ExitCode
from tests.fakes.discord_fake import FakeDiscord
from tests.fakes.threaded import threaded


def test_check_names_what_is_missing_and_checks_the_discord_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("OPENROUTER_API_KEY", "OPS_HOOK", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with threaded(FakeDiscord()) as discord:
        config = tmp_path / "rankbot.toml"
        config.write_text(
            f'[store]\npath = "{tmp_path / "db.json"}"\n\n'
            f'[discord]\napi_base = "{discord.api_base}"\n\n'
            '[[channels]]\nname = "ops"\nplatform = "webhook"\nurl_env = "OPS_HOOK"\n'
        )
        monkeypatch.setenv("DISCORD_BOT_TOKEN", "discord-test-token")
        assert main(["check", "--offline", "--config", str(config)]) == ExitCode.USAGE
        out = capsys.readouterr().out
        lines = out.splitlines()
        assert lines[0] == f"✔ config: {config}"
        assert "✔ environment: DISCORD_BOT_TOKEN set" in lines
        assert (
            "✘ environment: OPS_HOOK is not set: export OPS_HOOK=… (the webhook URL of "
            "[[channels]] 'ops')"
        ) in lines
        assert any(line.startswith("✔ templates: ") for line in lines)
        assert any(line.startswith("✔ store: ") and "does not exist yet" in line for line in lines)
        assert lines[-1] == "– network checks skipped (--offline)"
        assert discord.calls == []  # offline: nobody was asked

        monkeypatch.setenv("OPS_HOOK", "http://127.0.0.1:9/hook")
        # no source key: its check asks nobody (test_openrouter covers it against a fake)
        assert main(["check", "--config", str(config)]) == ExitCode.USAGE
        out = capsys.readouterr().out
        assert "✘ OPENROUTER_API_KEY is missing or wrong" in out
        assert "✔ Discord: DISCORD_BOT_TOKEN works (as rankbot)" in out
        assert "discord-test-token" not in out
