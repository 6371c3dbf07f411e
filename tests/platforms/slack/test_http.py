"""End to end over HTTP mode: signed requests to the Bolt endpoint the runtime serves, the OAuth
install flow into the TinyDB installation store, and uninstalls pausing a workspace."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest

from bot.core.messages import ChannelRef, Message
from bot.core.subscription import Subscription
from bot.platforms.slack.installation import StoreInstallationStore
from tests.fakes.slack_env import SECRETS, running_bot
from tests.fakes.slack_fake import TEAM_ID, slash_payload

SECRET = SECRETS.signing_secret or ""


def _signed(body: str, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    ts = str(int(time.time() - age))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


async def _post(port: int, body: str, headers: dict[str, str], content_type: str) -> tuple:
    url = f"http://127.0.0.1:{port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body.encode(), headers={**headers, "Content-Type": content_type}
        ) as response,
    ):
        return response.status, await response.text()


def _slash(command: str, text: str, **fields: str) -> str:
    return urlencode(slash_payload(command, text, **fields))


FORM = "application/x-www-form-urlencoded"


async def test_a_signed_top_5_is_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path, mode="http") as bot:
        body = _slash("/top", "5", response_url=bot.fake.response_url())
        status, text = await _post(bot.runtime.port or 0, body, _signed(body), FORM)
    assert status == 200
    answer = json.loads(text)
    assert answer["response_type"] == "ephemeral"
    assert len(answer["blocks"][1]["text"]["text"].splitlines()) == 5
    assert "google/gemini-3-flash" in answer["text"]


async def test_wrong_signature_or_stale_timestamp_gets_401_and_no_api_call(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, mode="http") as bot:
        calls_before = len(bot.fake.calls)
        body = _slash("/rankbot", "subscribe new_leader")
        port = bot.runtime.port or 0
        forged = await _post(port, body, _signed(body, secret="not-the-secret"), FORM)
        stale = await _post(port, body, _signed(body, age=301), FORM)
        tampered = await _post(port, body + "&x=1", _signed(body), FORM)
        unsigned = await _post(port, body, {}, FORM)
        calls_after = len(bot.fake.calls)
    assert [forged[0], stale[0], tampered[0], unsigned[0]] == [401, 401, 401, 401]
    assert calls_after == calls_before
    assert bot.fake.responses == []


async def test_app_uninstalled_pauses_the_workspace(tmp_path: Path) -> None:
    async with running_bot(tmp_path, mode="http") as bot:
        mine = ChannelRef("slack", TEAM_ID, "C0ALERTS")
        other = ChannelRef("slack", "T0OTHER", "C0ELSE")
        for channel in (mine, other):
            await bot.subscriptions().upsert(Subscription(channel=channel, confirmed=True))
        event = {
            "token": "x",
            "team_id": TEAM_ID,
            "api_app_id": "A0RANKBOT",
            "type": "event_callback",
            "event_id": "Ev1",
            "event_time": int(time.time()),
            "event": {"type": "app_uninstalled"},
        }
        body = json.dumps(event)
        status, _ = await _post(bot.runtime.port or 0, body, _signed(body), "application/json")
        await bot.fake.wait_for(lambda: bot.subscriptions().is_paused(mine))
        assert status == 200
        paused = await bot.subscriptions().get(mine)
        assert paused is not None and "uninstalled" in (paused.pause_reason or "")
        assert not await bot.subscriptions().is_paused(other)


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # slack_sdk's
async def test_oauth_install_stores_the_token_and_alerts_use_it(tmp_path: Path) -> None:
    async with running_bot(
        tmp_path, mode="http", client_id="111.222", public_url="https://bot.example.org"
    ) as bot:
        bot.fake.installs["the-code"] = {
            "ok": True,
            "app_id": "A0RANKBOT",
            "access_token": "xoxb-installed-in-t2",
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": "U0BOT2",
            "team": {"id": "T2", "name": "Second"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "U0INSTALLER"},
        }
        base = f"http://127.0.0.1:{bot.runtime.port}"
        async with aiohttp.ClientSession() as session:
            install = f"{base}/slack/install"
            async with session.get(install, allow_redirects=False) as page:
                # straight to Slack's authorize URL, with the redirect_uri
                assert page.status == 302
                location = page.headers["Location"]
                cookie = page.cookies["slack-app-oauth-state"]  # Secure: sent by hand over http
            assert location.startswith("https://slack.com/oauth/v2/authorize?")
            assert "client_id=111.222" in location and "chat:write.public" in location
            redirect_uri = parse_qs(urlsplit(location).query)["redirect_uri"][0]
            assert redirect_uri == "https://bot.example.org/slack/oauth_redirect"
            state = parse_qs(urlsplit(location).query)["state"][0]
            redirect = f"{base}/slack/oauth_redirect?code=the-code&state={state}"
            headers = {"Cookie": f"{cookie.key}={cookie.value}"}
            async with session.get(redirect, headers=headers, allow_redirects=False) as done:
                assert done.status == 200, await done.text()
        found = await StoreInstallationStore(bot.store).async_find_bot(
            enterprise_id=None, team_id="T2"
        )
        assert found is not None and found.bot_token == "xoxb-installed-in-t2"
        result = await bot.runtime.sender.send(
            ChannelRef("slack", "T2", "C0T2"), Message(notice="hello"), idempotency_key="k"
        )
        unknown = await bot.runtime.sender.send(
            ChannelRef("slack", "T9", "C0T9"), Message(notice="hello"), idempotency_key="k2"
        )
    post = bot.fake.called("chat.postMessage")[-1]
    assert result.status.value == "sent"
    assert post.headers["Authorization"] == "Bearer xoxb-installed-in-t2"
    assert unknown.status.value == "permanent" and "not installed" in (unknown.reason or "")
