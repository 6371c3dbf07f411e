"""`rankbot poll --once` end to end: a dry run keeps nothing; a real one posts each alert once
and pauses a deleted webhook."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import respx

from bot.cli.main import main
from bot.core.history_format import write_history
from bot.core.messages import ChannelRef
from bot.errors import ExitCode
from tests.engine.test_poller import weeks
from tests.helpers import read_store, snap

HOOK = "https://hooks.example.test/T0/ops"


def poll_setup(tmp_path: Path) -> tuple[Path, Path]:
    history = tmp_path / "history.jsonl"
    with history.open("w") as out:
        write_history(weeks(), out)
    config = tmp_path / "rankbot.toml"
    config.write_text(
        '[store]\npath = "bot.db.json"\n\n'
        '[[channels]]\nname = "ops"\nplatform = "webhook"\nurl_env = "OPS_HOOK"\n'
        'kinds = ["new_leader"]\n'
    )
    return config, history


def test_poll_once_dry_run_prints_who_gets_what_and_keeps_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    argv = ["poll", "--once", "--dry-run", "--config", str(config), "--history", str(history)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("→ webhook:config:ops\n  Subscribed")  # the confirmation first
    # + ONE grouped post for both new leaders the poll brought (no burst of posts)
    assert out.count("→ webhook:config:ops") == 2
    assert out.count("New #1") == 2
    assert "2 would be sent, 0 pending" in err and "nothing stored" in err
    assert not (tmp_path / "bot.db.json").exists()


@respx.mock
def test_poll_once_posts_each_alert_once_and_pauses_a_deleted_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    argv = ["poll", "--once", "--config", str(config), "--history", str(history)]
    assert main(argv) == 0
    assert hook.call_count == 2  # the confirmation, then one grouped post
    assert main(argv) == 0  # the same history again: nothing new to say
    assert hook.call_count == 2

    hook.mock(return_value=httpx.Response(404))
    later = tmp_path / "later.jsonl"
    with later.open("w") as out:
        write_history([snap("2026-02-23", {"a/x": 1200, "b/y": 1500})], out)
    assert main([*argv[:-1], str(later)]) == ExitCode.POSTS_FAILED  # cron learns it
    assert hook.call_count == 3  # tried once, not retried
    ops = ChannelRef("webhook", "config", "ops")
    sub = read_store(tmp_path / "bot.db.json", lambda store: store.subscriptions.get(ops))
    assert sub is not None and sub.paused
    assert sub.pause_reason == "webhook deleted or forbidden (HTTP 404)"
    err = capsys.readouterr().err
    assert "0 sent, 0 pending, 1 failed" in err
    assert HOOK not in err  # the URL is a secret


@respx.mock
def test_poll_once_exits_11_while_posts_wait_for_a_retry_then_0_once_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    hook = respx.post(HOOK).mock(return_value=httpx.Response(503))
    argv = ["poll", "--once", "--config", str(config), "--history", str(history)]
    assert main(argv) == ExitCode.POSTS_WAITING  # the endpoint is down: posts wait
    assert hook.call_count == 1  # one attempt per run; the backoff is stored
    hook.mock(return_value=httpx.Response(200))
    for _ in range(20):  # later runs, once the stored backoff (about 1 s) has passed
        code = main(argv)
        if code != ExitCode.POSTS_WAITING:
            break
        time.sleep(0.5)
    assert code == ExitCode.OK
    assert hook.call_count >= 3  # the confirmation and the alert went out


def test_run_and_poll_refuse_to_start_without_a_channels_url_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.delenv("OPS_HOOK", raising=False)
    for command in (["poll", "--once"], ["run"]):
        argv = [*command, "--config", str(config), "--history", str(history)]
        assert main(argv) == ExitCode.USAGE
        err = capsys.readouterr().err
        assert "OPS_HOOK" in err and "[[channels]] 'ops'" in err
    assert not (tmp_path / "bot.db.json").exists()  # nothing was started
    # a dry run sends nothing, so it needs no URL
    dry_run = ["poll", "--once", "--dry-run", "--config", str(config), "--history", str(history)]
    assert main(dry_run) == ExitCode.OK


@pytest.mark.parametrize("role", ["poller", "worker"])
def test_roles_beside_other_processes_need_postgresql(
    tmp_path: Path, role: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    code = main(["run", "--role", role, "--config", str(config), "--history", str(history)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"--role {role} needs a database several processes share (PostgreSQL)" in err
    assert "RANKBOT_DATABASE_URL" in err
