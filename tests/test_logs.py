"""Logs: the same levels and formats for every command, JSON that parses, and no secret or URL
in any line at any level."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import respx

from bot import logs
from bot.cli.main import main
from tests.cli.test_run import poll_setup

ROOT = Path(__file__).resolve().parent.parent
SECRET_HOOK = "https://hooks.slack.test/services/T0SECRET/B0SECRET/XyZsecretWebhookToken42"


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_redactor_masks_urls_tokens_and_secret_environment_values() -> None:
    redact = logs.Redactor(
        {"RANKBOT_WEBHOOK_OPS": "https://x.test/abc", "MY_API_KEY": "k3y-v4lue-0042"}
    )
    samples = {
        f"POST {SECRET_HOOK} 200": "POST https://hooks.slack.test/… 200",
        "token xoxb-1234-5678-abcdEFGH here": "token xox… here",
        "app xapp-1-A0-12-abc": "app xapp-… ",
        "key sk-or-v1-0123456789abcdef": "key sk-or-…",
        "Authorization: Bearer abc.def.ghi-jkl": "Authorization: Bearer …",
        "the key k3y-v4lue-0042 leaked": "the key …secret… leaked",
        "discord MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs": "discord …token…",
        "ws://user:pw@127.0.0.1:9000/link?t=1": "ws://127.0.0.1:9000/…",
    }
    for raw, expected in samples.items():
        assert redact(raw).strip() == expected.strip(), raw


def test_json_lines_carry_level_logger_message_and_context() -> None:
    out = io.StringIO()
    logs.configure("debug", "json", stream=out, environ={})
    logging.getLogger("rankbot.delivery").warning(
        "retry in %s s after %s",
        2,
        SECRET_HOOK,
        extra={"channel": "webhook:config:ops", "key": "k1"},
    )
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "warning" and record["logger"] == "rankbot.delivery"
    assert record["message"] == "retry in 2 s after https://hooks.slack.test/…"
    assert (record["channel"], record["key"]) == ("webhook:config:ops", "k1")


def test_text_lines_have_a_level_and_their_context() -> None:
    out = io.StringIO()
    logs.configure("info", "text", stream=out, environ={})
    logging.getLogger("rankbot.poller").info("poll: ok", extra={"source": "openrouter"})
    logging.getLogger("rankbot.poller").debug("not shown at info")
    [line] = out.getvalue().splitlines()
    assert " INFO rankbot.poller poll: ok source=openrouter" in line


def test_an_unknown_level_or_format_is_refused_by_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["top", "--log-level", "loud"])
    assert exit_.value.code == 2
    assert "--log-level: invalid choice: 'loud'" in capsys.readouterr().err


@respx.mock
def test_no_secret_in_any_line_at_debug_in_either_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", SECRET_HOOK)
    respx.post(SECRET_HOOK).mock(return_value=httpx.Response(500))  # retried: logged
    for fmt in ("text", "json"):
        argv = ["poll", "--once", "--config", str(config), "--history", str(history)]
        # the 500 leaves the post waiting for its retry: exit 11 tells cron so
        assert main([*argv, "--log-level", "debug", "--log-format", fmt]) == 11
        err = capsys.readouterr().err
        assert err.strip(), "debug logging wrote nothing"
        for secret in ("T0SECRET", "B0SECRET", "XyZsecretWebhookToken42"):
            assert secret not in err


def test_every_stderr_line_of_a_json_poll_parses_as_json(tmp_path: Path) -> None:
    config, history = poll_setup(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "poll",
            "--once",
            "--dry-run",
            "--config",
            str(config),
            "--history",
            str(history),
            "--log-format",
            "json",
            "--log-level",
            "debug",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]
    assert any(r["message"].startswith("polled replay:") for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_the_config_sets_the_level_and_the_flag_wins(tmp_path: Path) -> None:
    config, history = poll_setup(tmp_path)
    config.write_text(config.read_text() + '\n[log]\nlevel = "error"\nformat = "json"\n')
    base = [
        sys.executable,
        "-m",
        "bot",
        "poll",
        "--once",
        "--dry-run",
        "--config",
        str(config),
        "--history",
        str(history),
    ]
    quiet = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == ""  # the report is info: below error
    loud = subprocess.run(
        [*base, "--log-level", "info", "--log-format", "text"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loud.stderr.splitlines()[-1].startswith("polled replay:")
