"""Issue 15 end to end through `bot.app`'s wiring and the Slack fake: a subscription's
confirmation goes out as soon as the command is answered (no poller tick involved), and a
channel that chose Chinese gets its alerts in Chinese on Slack and on a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from bot import app
from bot.app import build_bot, default_senders, start_chat_adapters
from bot.engine.ingest import ingest
from bot.render.templates import Renderer
from bot.sources.replay import ReplaySource
from bot.store.tinydb import TinyStore
from tests.fakes.slack_env import WEEK_1, WEEK_2, week
from tests.fakes.slack_fake import SlackFake


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackFake]:
    fake = await SlackFake().start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    yield fake
    await fake.close()


async def test_the_confirmation_goes_out_right_after_the_reply_without_a_tick(
    tmp_path: Path, slack: SlackFake
) -> None:
    config = app.config_from_mapping({"slack": {"api_url": slack.api_url}}, base=tmp_path)
    slack.add_user("U0ADMIN", owner=True)
    async with TinyStore.open(tmp_path / "db.json") as store:
        await ingest(
            store, week("2026-02-09", WEEK_1), params=config.detect, countries=config.countries
        )
        async with httpx.AsyncClient() as client, contextlib.AsyncExitStack() as stack:
            senders = default_senders(config, client, Renderer())
            bot = await build_bot(config, store, ReplaySource([]), senders)
            await start_chat_adapters(config, bot, senders, stack)
            await slack.wait_connected()
            deliveries = asyncio.ensure_future(bot.delivery.serve())  # no poller loop at all
            try:
                await slack.push_slash_command("/rankbot", "subscribe new_leader")
                await slack.wait_for(lambda: slack.called("chat.postMessage"))
            finally:
                deliveries.cancel()
            ticked = bot.poller.next_poll is not None
    order = [c.method for c in slack.calls if c.method in ("response", "chat.postMessage")]
    assert order == ["response", "chat.postMessage"]  # the reply, then the confirmation
    assert not ticked  # nothing polled: the command itself enqueued the confirmation
    confirmation = slack.called("chat.postMessage")[0].params
    assert "rankbot is now watching this channel" in confirmation["text"]


async def test_a_chinese_channel_gets_its_alerts_in_chinese_on_slack_and_a_webhook(
    tmp_path: Path, slack: SlackFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.test/rankbot")
    config = app.config_from_mapping(
        {
            "slack": {"api_url": slack.api_url},
            "channels": [
                {"name": "zh-hook", "platform": "webhook", "url_env": "HOOK_URL", "lang": "zh-CN"},
                {"name": "en-hook", "platform": "webhook", "url_env": "HOOK_URL"},
            ],
        },
        base=tmp_path,
    )
    slack.add_user("U0ADMIN", owner=True)
    async with TinyStore.open(tmp_path / "db.json") as store, respx.mock() as router:
        hook = router.post("https://hooks.example.test/rankbot").respond(200)
        await ingest(
            store, week("2026-02-09", WEEK_1), params=config.detect, countries=config.countries
        )
        async with httpx.AsyncClient() as client, contextlib.AsyncExitStack() as stack:
            senders = default_senders(config, client, Renderer())
            source = ReplaySource([week("2026-02-16", WEEK_2)])
            bot = await build_bot(config, store, source, senders)
            await start_chat_adapters(config, bot, senders, stack)
            await slack.wait_connected()
            await slack.push_slash_command(
                "/rankbot", "subscribe new_leader country_flip lang=zh-CN"
            )
            await slack.wait_for(lambda: slack.responses)
            await bot.poller.tick()
            await bot.delivery.run_until_idle()
            sub = await store.subscriptions.all()
        texts = [json.loads(call.request.content)["text"] for call in hook.calls]

    reply = slack.responses[0]["text"]
    assert "订阅成功" in reply and "语言：zh-CN" in reply
    alert = [c.params for c in slack.called("chat.postMessage")][-1]
    shown = json.dumps(alert["blocks"], ensure_ascii=False)
    assert "新晋第一" in shown and "国家领先易位" in shown and "中国" in shown
    assert "万亿" in shown  # 1.7T in Chinese counting
    assert "New #1" not in shown and "Country flip" not in alert["text"]
    assert "新晋第一" in alert["text"]  # the notification fallback too
    zh = [t for t in texts if "新晋第一" in t]
    en = [t for t in texts if "New #1" in t]
    assert len(zh) == 1 and len(en) == 1  # each webhook in its own language
    assert "国家领先易位" in zh[0] and "美国" in zh[0] and "1.7万亿" in zh[0]
    assert {s.channel.channel: s.lang for s in sub}["zh-hook"] == "zh-CN"


def test_the_demo_in_chinese_prints_chinese_figures_and_country_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.main import main

    assert main(["demo", "--lang", "zh-CN", "--no-charts"]) == 0
    out = capsys.readouterr().out
    assert "万亿" in out and "中国" in out and "美国" in out
    assert "新晋第一" in out and "国家领先易位" in out
    assert "1.7T" not in out and "New #1" not in out


def test_replay_and_top_print_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.main import main

    history = Path(__file__).parents[2] / "bot" / "data" / "demo-history.jsonl"
    db = tmp_path / "db.json"
    assert main(["replay", str(history), "--db", str(db), "--lang", "zh-CN"]) == 0
    replayed = capsys.readouterr().out
    assert "新晋第一" in replayed and "万亿" in replayed
    assert main(["top", "3", "--db", str(db), "--lang", "zh-CN"]) == 0
    top = capsys.readouterr().out
    assert top.startswith("Token 用量前 3 名（周榜，2026年2月16日）")
    assert main(["top", "3", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("Top 3 by tokens (weekly, 2026-02-16)")


def test_an_unknown_language_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--lang", "klingon", "--no-charts"])
    assert exit_.value.code == 2
    assert "choose one of en, zh-CN" in capsys.readouterr().err


def test_a_webhook_channel_in_a_language_rankbot_does_not_speak_is_a_config_error(
    tmp_path: Path,
) -> None:
    from bot.errors import ConfigError

    channel = {"name": "ops", "platform": "webhook", "url_env": "OPS_URL", "lang": "tlh"}
    with pytest.raises(
        ConfigError, match=r'\[\[channels\]\] #1 lang: rankbot does not speak "tlh"'
    ):
        app.config_from_mapping({"channels": [channel]}, base=tmp_path)
