"""The admin command line on a database no bot holds: status, channels, outbox,
subscriptions, send-test and db backup, in text and JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from bot import app
from bot.cli.main import main
from bot.commands.execute import Services, execute
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.errors import ExitCode
from tests.cli.test_run import HOOK, poll_setup
from tests.helpers import read_store

OPS = ChannelRef("webhook", "config", "ops")
NOW = datetime(2026, 2, 16, 12, tzinfo=UTC)


def out_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


@respx.mock
def test_a_paused_webhook_is_seen_resumed_and_delivered_without_a_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    hook = respx.post(HOOK).mock(return_value=httpx.Response(404))
    poll = ["poll", "--once", "--config", str(config), "--history", str(history)]
    assert main(poll) == ExitCode.POSTS_FAILED
    capsys.readouterr()
    cfg = ["--config", str(config)]

    assert main(["status", "--json", *cfg]) == 0
    before = out_json(capsys)
    assert before["bot"] == {"running": False}
    assert before["paused"][0]["channel"] == OPS.key
    assert before["outbox"] == {
        "pending": 1,
        "failed": 1,
        "channels": [{"channel": OPS.key, "pending": 1, "failed": 1}],
    }
    assert main(["status", *cfg]) == 0
    text = capsys.readouterr().out
    assert "paused channels (rankbot channels resume NAME):" in text
    assert "webhook:config:ops: webhook deleted or forbidden (HTTP 404)" in text

    assert main(["channels", "list", *cfg]) == 0
    assert "webhook:config:ops (ops): PAUSED: webhook deleted" in capsys.readouterr().out
    assert main(["outbox", "list", "--state", "failed", "--json", *cfg]) == 0
    failed = out_json(capsys)["posts"]
    assert [p["failure"] for p in failed] == ["access"]

    assert main(["channels", "resume", "ops", *cfg]) == 0
    said = capsys.readouterr().out
    assert "resumed (was paused); 1 missed post(s) sent again" in said
    assert "at the next `rankbot run` or `poll --once`" in said
    hook.mock(return_value=httpx.Response(200))
    assert main(poll) == ExitCode.OK
    texts = [json.loads(c.request.content)["text"] for c in hook.calls[1:]]
    assert texts[0].startswith("Subscribed") and "New #1" in texts[1]
    assert main(["status", "--json", *cfg]) == 0
    after = out_json(capsys)
    assert after["paused"] == [] and after["outbox"]["pending"] == 0


def test_a_config_channel_is_removed_in_the_file_not_by_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    main(["poll", "--once", "--dry-run", "--config", str(config), "--history", str(history)])
    monkeypatch.setenv("OPS_HOOK", HOOK)
    with respx.mock:
        respx.post(HOOK).mock(return_value=httpx.Response(200))
        main(["poll", "--once", "--config", str(config), "--history", str(history)])
    capsys.readouterr()
    assert main(["channels", "remove", "ops", "--config", str(config)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "declared in the config file" in err and "remove its table there" in err
    assert main(["channels", "pause", "nope", "--config", str(config)]) == ExitCode.USAGE
    assert "no channel 'nope'" in capsys.readouterr().err


def test_outbox_drop_and_retry_by_key_and_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    cfg = ["--config", str(config)]
    with respx.mock:
        respx.post(HOOK).mock(return_value=httpx.Response(404))  # paused after the first
        main(["poll", "--once", *cfg, "--history", str(history)])
    capsys.readouterr()
    assert main(["outbox", "list", "--json", *cfg]) == 0
    posts = out_json(capsys)["posts"]
    assert [p["state"] for p in posts] == ["failed", "pending"]
    assert main(["outbox", "drop", posts[1]["key"], *cfg]) == 0
    assert "1 of 1 post(s) dropped" in capsys.readouterr().out
    assert main(["outbox", "retry", "--channel", "ops", *cfg]) == 0
    said = capsys.readouterr().out
    assert "1 of 1 post(s) back to pending" in said
    assert "paused, so they wait: webhook:config:ops" in said
    assert main(["outbox", "drop", "no-such-key", *cfg]) == ExitCode.USAGE
    assert "no post with key 'no-such-key'" in capsys.readouterr().err
    states = read_store(
        tmp_path / "bot.db.json",
        lambda store: asyncio.gather(*(store.outbox.state_of(p["key"]) for p in posts)),
    )
    assert states == ["pending", "dropped"]


def test_subscriptions_export_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "a.json", tmp_path / "b.json"
    channel = ChannelRef("slack", "T1", "C1")

    async def subscribe() -> None:
        config = app.config_from_mapping({}, base=tmp_path)
        async with app.open_database(source) as store:
            ctx = CommandContext(channel, Caller("U1", "admin", can_manage=True), NOW)
            reply = await execute("subscribe top_entry top=5", ctx, Services(store, config))
            assert reply.ok

    asyncio.run(subscribe())
    export = tmp_path / "subs.json"
    assert main(["subscriptions", "export", "-o", str(export), "--db", str(source)]) == 0
    assert "1 subscription(s) written" in capsys.readouterr().out
    assert main(["subscriptions", "import", str(export), "--db", str(target)]) == 0
    assert "1 subscription(s) imported (1 new, 0 replaced)" in capsys.readouterr().out
    sub = read_store(target, lambda store: store.subscriptions.get(channel))
    assert sub is not None and sub.filters.top_n == 5 and "top_entry" in sub.kinds
    export.write_text('{"subscriptions": []}')
    assert main(["subscriptions", "import", str(export), "--db", str(target)]) == 2
    assert "not a rankbot subscriptions export" in capsys.readouterr().err


@respx.mock
def test_send_test_posts_a_marked_sample_and_says_when_it_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = poll_setup(tmp_path)
    monkeypatch.setenv("OPS_HOOK", HOOK)
    hook = respx.post(HOOK).mock(return_value=httpx.Response(200))
    assert main(["send-test", "ops", "--config", str(config)]) == 0
    assert "webhook:config:ops: test post sent" in capsys.readouterr().out
    text = json.loads(hook.calls[0].request.content)["text"]
    assert text.startswith("🧪 rankbot test post") and "New #1" in text
    assert "not real rankings" in text
    hook.mock(return_value=httpx.Response(404))
    assert main(["send-test", "ops", "--config", str(config)]) == ExitCode.POSTS_FAILED
    assert "NOT sent (permanent): webhook deleted or forbidden" in capsys.readouterr().out
    # a test post is not an alert: nothing is kept, the channel is not paused
    sub = read_store(tmp_path / "bot.db.json", lambda store: store.subscriptions.get(OPS))
    assert sub is not None and not sub.paused


def test_db_backup_writes_a_copy_that_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = poll_setup(tmp_path)
    main(["poll", "--once", "--config", str(config), "--history", str(history), "--dry-run"])
    monkeypatch.setenv("OPS_HOOK", HOOK)
    with respx.mock:
        respx.post(HOOK).mock(return_value=httpx.Response(200))
        main(["poll", "--once", "--config", str(config), "--history", str(history)])
    backup = tmp_path / "backups" / "copy.db.json"
    assert main(["db", "backup", str(backup), "--config", str(config)]) == 0
    assert "verified" in capsys.readouterr().out
    count = read_store(backup, lambda store: store.history.snapshot_count())
    assert count == read_store(tmp_path / "bot.db.json", lambda s: s.history.snapshot_count())
    assert main(["db", "backup", str(backup), "--config", str(config)]) == ExitCode.USAGE
