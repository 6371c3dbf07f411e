"""A loopback fake of Slack for tests: the Web API, file uploads, response URLs and Socket Mode.

Real slack_sdk / slack-bolt code talks to it through `AsyncWebClient(base_url=fake.api_url)`.
Every call is recorded (method, parameters, time), so tests assert on what the bot really
sent; `fail(method, ...)` makes the next calls of a method answer 429 with `Retry-After`, a 5xx
or `{"ok": false, "error": ...}`. Socket Mode: `apps.connections.open` returns
`ws://127.0.0.1:PORT/link`; `push_slash_command` sends an envelope and `wait_ack` returns the
`{"envelope_id": ..., "payload": ...}` the app answered with.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

TEAM_ID = "T0TEAM"
BOT_USER = "U0BOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    """`loop.time()` when the call arrived."""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class SlackFake:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        """Bodies posted to response URLs (slash command replies via `respond()`)."""
        self.uploads: list[bytes] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.installs: dict[str, dict[str, Any]] = {}
        """`oauth.v2.access` answers by code (OAuth installs)."""
        self._ids = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._ws_ready = asyncio.Event()
        self._ack_arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> SlackFake:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/link", self._link)
        app.router.add_post("/hooks/{id}", self._hook)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        return f"{self.base}/response/{next(self._ids)}"

    # --- test controls -----------------------------------------------------------------------

    def add_user(
        self, user_id: str, *, admin: bool = False, owner: bool = False, locale: str = "en-US"
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "real_name": f"User {user_id}",
            "is_admin": admin,
            "is_owner": owner,
            "is_primary_owner": False,
            "locale": locale,
        }

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail (429 implies `error="ratelimited"`)."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        if status == 429 and error is None:
            error = "ratelimited"
        fault = Fault(status=status, error=error, headers=headers, times=times)
        self.faults.setdefault(method, []).append(fault)

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def api_calls(self) -> list[Call]:
        """Calls a bot makes on its own behalf (everything except connection set-up)."""
        return [c for c in self.calls if c.method not in ("apps.connections.open",)]

    async def wait_connected(self, timeout: float = 5) -> None:
        await asyncio.wait_for(self._ws_ready.wait(), timeout)

    async def push(self, envelope: dict[str, Any]) -> None:
        assert self._ws is not None, "no Socket Mode connection"
        await self._ws.send_str(json.dumps(envelope))

    async def push_slash_command(self, command: str, text: str, **fields: str) -> str:
        """Send a `slash_commands` envelope as Slack does; returns its envelope id."""
        envelope_id = f"env-{next(self._ids)}"
        payload = slash_payload(command, text, response_url=self.response_url(), **fields)
        await self.push(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "payload": payload,
                "accepts_response_payload": True,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def push_button(
        self, action_id: str, *, user_id: str = "U0ADMIN", channel_id: str = "C0ALERTS"
    ) -> str:
        """A `block_actions` envelope: someone pressed one of the bot's buttons."""
        envelope_id = f"env-{next(self._ids)}"
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0RANKBOT",
            "token": "deprecated-verification-token",
            "container": {"type": "message", "channel_id": channel_id, "is_ephemeral": False},
            "trigger_id": f"trigger-{envelope_id}",
            "channel": {"id": channel_id, "name": "llm-rankings"},
            "response_url": self.response_url(),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": action_id,
                    "action_ts": "1767000000.000001",
                }
            ],
        }
        await self.push(
            {
                "envelope_id": envelope_id,
                "type": "interactive",
                "payload": payload,
                "accepts_response_payload": False,
            }
        )
        return envelope_id

    async def push_event(self, event: dict[str, Any]) -> str:
        """An `events_api` envelope carrying `event` (e.g. `app_home_opened`)."""
        envelope_id = f"env-{next(self._ids)}"
        payload = {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0RANKBOT",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids)}",
            "event_time": 1767000000,
        }
        await self.push(
            {
                "envelope_id": envelope_id,
                "type": "events_api",
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5) -> dict[str, Any]:
        async with self._ack_arrived:
            await asyncio.wait_for(
                self._ack_arrived.wait_for(lambda: envelope_id in self.acks), timeout
            )
        return self.acks[envelope_id]

    async def wait_for(self, predicate: Any, timeout: float = 5) -> None:
        """Poll until `predicate()` holds (calls and responses arrive from other tasks); an
        async predicate (a store read) is awaited."""
        async with asyncio.timeout(timeout):
            while True:
                held = predicate()
                if inspect.isawaitable(held):
                    held = await held
                if held:
                    return
                await asyncio.sleep(0.01)

    # --- handlers ----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            else:
                params.update(parse_qsl(raw.decode()))
        self.calls.append(
            Call(method, params, asyncio.get_running_loop().time(), dict(request.headers))
        )
        fault = self._take_fault(method)
        if fault is not None:
            body = {"ok": False, "error": fault.error or f"http_{fault.status}"}
            return web.json_response(body, status=fault.status, headers=fault.headers)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response(handler(params))

    def _take_fault(self, method: str) -> Fault | None:
        faults = self.faults.get(method)
        if not faults:
            return None
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        return fault

    def webhook_url(self, name: str = "alerts") -> str:
        """An incoming webhook URL; its calls are recorded as method `webhook`."""
        return f"{self.base}/hooks/{name}"

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        """Incoming webhooks answer plain text: `ok`, or the error (`invalid_blocks`, …)."""
        self.calls.append(Call("webhook", await request.json(), asyncio.get_running_loop().time()))
        fault = self._take_fault("webhook")
        if fault is not None:
            return web.Response(
                text=fault.error or "error", status=fault.status, headers=fault.headers
            )
        return web.Response(text="ok", content_type="text/plain")

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "rankbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": "B0BOT",
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = f"1767000000.{next(self._ids):06d}"
        return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {}}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        if str(params.get("include_locale", "")).lower() not in ("1", "true"):
            user = {k: v for k, v in user.items() if k != "locale"}  # as Slack: only on request
        return {"ok": True, "user": user}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        return {"ok": True, "view": json.loads(view) if isinstance(view, str) else view}

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel", "")
        return {"ok": True, "channel": {"id": channel, "name": "general", "is_member": True}}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids)}"
        return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        files = json.loads(files) if isinstance(files, str) else files
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _m_oauth_v2_access(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.installs.get(params.get("code", ""), {"ok": False, "error": "invalid_code"})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        self.uploads.append(await request.read())
        self.calls.append(Call("upload", {}, asyncio.get_running_loop().time()))
        return web.Response(text="OK", content_type="text/plain")

    async def _response(self, request: web.Request) -> web.StreamResponse:
        """A `response_url` answer; recorded as method `response` too, so tests can assert
        the order of what the bot sent."""
        body = await request.json()
        self.responses.append(body)
        self.calls.append(Call("response", body, asyncio.get_running_loop().time()))
        return web.Response(text="ok", content_type="text/plain")

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._ws_ready.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "envelope_id" in data:
                async with self._ack_arrived:
                    self.acks[data["envelope_id"]] = data
                    self._ack_arrived.notify_all()
        return ws


def slash_payload(command: str, text: str, **fields: str) -> dict[str, str]:
    """The fields Slack sends with a slash command (form body in HTTP mode)."""
    payload = {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": "C0ALERTS",
        "channel_name": "llm-rankings",
        "user_id": "U0ADMIN",
        "user_name": "ada",
        "command": command,
        "text": text,
        "api_app_id": "A0RANKBOT",
        "trigger_id": "1.2.3",
        "response_url": "",
    }
    payload.update(fields)
    return payload
