"""A loopback fake of Discord (REST + gateway websocket) for driving the real discord.py.

It serves what rankbot uses, on 127.0.0.1 with an ephemeral port, records every request, and
lets a test make the next answers of a route fail (429 with `retry_after`, 403 with a JSON
error code, ...). Payloads are complete enough for discord.py 2.7 to parse them (see
../shared/docs/testing-chat-offline.md); every JSON answer carries `Content-Type:
application/json` exactly, because discord.py treats anything else as text.

For the Interactions Endpoint URL it plays Discord's other side too: `post_interaction`
signs an interaction with the application's Ed25519 key (a fresh pair per fake; the endpoint
is configured with `fake.public_key`) and POSTs it to the bot, as Discord does.

Point discord.py at it with `discord.http.Route.BASE = fake.api_base` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)` (monkeypatched:
both are process-wide class attributes).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from nacl.signing import SigningKey

API_PREFIX = "/api/v10"
APP_ID = "100000000000000001"
BOT_ID = "100000000000000002"
GUILD_ID = "200000000000000001"
CHANNEL_ID = "300000000000000001"
OWNER_ID = "400000000000000001"
MANAGE_CHANNELS = 1 << 4
VIEW_AND_SEND = (1 << 10) | (1 << 11)
BOT_PERMISSIONS = VIEW_AND_SEND | (1 << 14) | (1 << 15)
"""What the invite grants the bot: View Channel, Send Messages, Embed Links, Attach Files."""
TIMESTAMP = "2026-02-16T09:00:00.000000+00:00"


@dataclass
class Call:
    """One REST request as the fake received it."""

    method: str
    path: str
    """Without the `/api/v10` prefix, e.g. `/channels/300.../messages`."""
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    files: dict[str, bytes] = field(default_factory=dict)
    """Multipart file parts by part name (`files[0]`), when the request was multipart."""
    status: int = 0
    """What the fake answered."""
    at: float = 0.0
    """When it arrived (the loop's clock)."""


@dataclass
class Canned:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def user_payload(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
        "public_flags": 0,
    }


class FakeDiscord:
    """Start with `await fake.start()`, stop with `await fake.close()`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        """Registered commands by scope: `global` or a guild id."""
        self.identify: list[dict[str, Any]] = []
        """Every IDENTIFY payload, in order (its `shard` is `[id, count]`)."""
        self.shards = 1
        """The shard count GET /gateway/bot recommends."""
        self.connections = 0
        """Gateway connections opened (a resume after a close opens another)."""
        self.closed_with: list[int] = []
        self.ready = asyncio.Event()
        self.ready_gate = asyncio.Event()
        """READY is sent only once this is set (`hold_ready` / `release_ready`)."""
        self.ready_gate.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._canned: dict[tuple[str, str], list[Canned]] = {}
        self._ids = itertools.count(500000000000000001)
        self._seq = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self.port = 0
        self.signing_key = SigningKey.generate()
        """The application's key pair: Discord signs interactions with the private half."""

    # --- control from tests ------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def fail_next(
        self, method: str, path_regex: str, status: int, body: Any, *, times: int = 1
    ) -> None:
        """Answer the next `times` requests whose path matches `path_regex` with `status`.

        A 429 gets the headers Discord sends with it (`Retry-After`, and `Via`, without which
        discord.py takes the 429 for a Cloudflare ban and gives up at once).
        """
        headers: dict[str, str] = {}
        if status == 429:
            headers = {"Retry-After": str(body.get("retry_after", 1)), "Via": "1.1 google"}
        self._canned.setdefault((method, path_regex), []).extend(
            Canned(status, body, headers) for _ in range(times)
        )

    def requests(self, method: str, path_regex: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(path_regex, c.path)]

    def channel_messages(self, channel_id: str) -> list[Call]:
        """Messages that were accepted (2xx) in a channel."""
        return [
            c
            for c in self.requests("POST", rf"/channels/{channel_id}/messages")
            if 200 <= c.status < 300
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until `predicate()` holds after some request (fails the test on timeout)."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(wait(), timeout)

    async def push_interaction(self, payload: dict[str, Any]) -> None:
        """Dispatch `INTERACTION_CREATE` on every connected gateway socket."""
        await self.ready.wait()
        event = {"op": 0, "t": "INTERACTION_CREATE", "s": next(self._seq), "d": payload}
        for ws in self._sockets:
            await ws.send_str(json.dumps(event))

    def hold_ready(self) -> None:
        """Answer IDENTIFY with READY only after `release_ready()` (call before start)."""
        self.ready_gate.clear()

    def release_ready(self) -> None:
        """Let READY go out; safe to call from any thread (e.g. a test driving `threaded`)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.ready_gate.set)

    @property
    def public_key(self) -> str:
        """What the developer portal shows as the application's Public Key (hex)."""
        return self.signing_key.verify_key.encode().hex()

    async def post_interaction(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        key: SigningKey | None = None,
        timestamp: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, Any]:
        """POST `payload` to an Interactions Endpoint as Discord does: the signature covers
        the timestamp and the exact bytes sent. `key` signs with another key, `timestamp`
        claims another time, `headers` replaces the signature headers, `body` sends other
        bytes than were signed. Returns the status and the JSON (or text) answer."""
        raw = json.dumps(payload).encode()
        stamp = timestamp or str(int(time.time()))
        signature = (key or self.signing_key).sign(stamp.encode() + raw).signature.hex()
        sent = {
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": stamp,
            "Content-Type": "application/json",
        }
        if headers is not None:
            sent = {"Content-Type": "application/json", **headers}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body if body is not None else raw, headers=sent) as response,
        ):
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    def new_id(self) -> str:
        return str(next(self._ids))

    async def close_gateway(self, code: int) -> None:
        """Close every gateway connection with `code` (4000: resumable; 4004: bad token)."""
        self.closed_with.append(code)
        for ws in list(self._sockets):
            await ws.close(code=code)

    # --- server ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self.connections += 1
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                if frame["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif frame["op"] == 2:
                    self.identify.append(frame["d"])
                    shard = frame["d"].get("shard") or [0, 1]
                    self._tasks.add(asyncio.ensure_future(self._send_ready(ws, shard)))
        finally:
            self._sockets.remove(ws)
        return ws

    async def _send_ready(self, ws: web.WebSocketResponse, shard: list[int]) -> None:
        await self.ready_gate.wait()
        if not ws.closed:
            await ws.send_str(json.dumps(self._ready_event(shard)))
            self.ready.set()

    def _ready_event(self, shard: list[int]) -> dict[str, Any]:
        return {
            "op": 0,
            "t": "READY",
            "s": next(self._seq),
            "d": {
                "v": 10,
                "user": user_payload(BOT_ID, "rankbot", bot=True),
                "guilds": [],
                "session_id": "fake-session",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": APP_ID, "flags": 0},
                "shard": shard,
            },
        }

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        call = Call(request.method, path, dict(request.query), dict(request.headers))
        call.at = asyncio.get_running_loop().time()
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":  # type: ignore[union-attr]
                    call.json = json.loads(data)
                else:
                    call.files[part.name or ""] = bytes(data)  # type: ignore[union-attr]
        elif request.can_read_body:
            call.json = json.loads(await request.read())
        canned = self._take_canned(request.method, path)
        if canned is not None:
            response = _json(canned.body, canned.status, canned.headers)
        else:
            response = self._answer(call)
        call.status = response.status
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        return response

    def _take_canned(self, method: str, path: str) -> Canned | None:
        for (m, regex), answers in self._canned.items():
            if m == method and answers and re.fullmatch(regex, path):
                return answers.pop(0)
        return None

    def _answer(self, call: Call) -> web.Response:
        m, p = call.method, call.path
        if m == "GET" and p == "/users/@me":
            return _json(user_payload(BOT_ID, "rankbot", bot=True))
        if m == "GET" and p == "/oauth2/applications/@me":
            return _json(self._application())
        if m == "GET" and p == "/gateway":
            return _json({"url": self.gateway_url})
        if m == "GET" and p == "/gateway/bot":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": self.shards,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if match := re.fullmatch(r"/applications/(\d+)(?:/guilds/(\d+))?/commands", p):
            if m == "PUT":
                scope = match.group(2) or "global"
                self.commands[scope] = [self._command(c) for c in call.json]
                return _json(self.commands[scope])
            if m == "GET":
                return _json(self.commands.get(match.group(2) or "global", []))
        if m == "POST" and re.fullmatch(r"/interactions/(\d+)/[^/]+/callback", p):
            return self._callback(call)
        if re.fullmatch(r"/webhooks/\d+/[^/]+/messages/@original", p) and m == "PATCH":
            return _json(self._message(CHANNEL_ID, call.json or {}))
        if m == "POST" and (match := re.fullmatch(r"/webhooks/(\d+)/[^/]+", p)):
            if call.query.get("wait") in ("true", "1", "True"):
                return _json(self._message(CHANNEL_ID, call.json or {}, webhook=match[1]))
            return web.Response(status=204)
        if m == "POST" and (match := re.fullmatch(r"/channels/(\d+)/messages", p)):
            return _json(self._message(match.group(1), call.json or {}))
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": APP_ID,
            "name": "rankbot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(OWNER_ID, "owner"),
            "verify_key": self.public_key,
            "flags": 0,
            "summary": "",
        }

    def _command(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.new_id(),
            "application_id": APP_ID,
            "version": self.new_id(),
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **body,
        }

    def _callback(self, call: Call) -> web.Response:
        body = call.json or {}
        flags = (body.get("data") or {}).get("flags", 0)
        interaction_id = call.path.split("/")[2]
        return _json(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": 2,
                    "response_message_id": self.new_id(),
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": bool(flags & 64),
                }
            }
        )

    def _message(
        self, channel_id: str, body: dict[str, Any], *, webhook: str | None = None
    ) -> dict[str, Any]:
        author = user_payload(webhook or BOT_ID, "rankbot", bot=True)
        message = {
            "id": self.new_id(),
            "channel_id": channel_id,
            "author": author,
            "content": body.get("content") or "",
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags", 0),
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if webhook is not None:
            message["webhook_id"] = webhook
        return message


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly `application/json` (no charset)."""
    response = web.Response(body=json.dumps(body).encode(), status=status, headers=headers)
    response.headers["Content-Type"] = "application/json"
    return response


# --- payload builders for INTERACTION_CREATE ------------------------------------------------


def channel_payload(channel_id: str = CHANNEL_ID, guild_id: str = GUILD_ID) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": "llm-rankings",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
    }


def command_interaction(
    fake: FakeDiscord,
    name: str,
    options: list[dict[str, Any]] | None = None,
    *,
    permissions: int = VIEW_AND_SEND,
    app_permissions: int = BOT_PERMISSIONS,
    locale: str = "en-US",
    user_id: str = "600000000000000001",
    channel_id: str = CHANNEL_ID,
    guild_id: str | None = GUILD_ID,
    interaction_type: int = 2,
) -> dict[str, Any]:
    """An application-command interaction (type 2; 4 for autocomplete) as Discord sends it.

    `permissions` is the member's computed permissions in the channel: what
    `interaction.permissions` reads, whatever a server did to the command's default;
    `app_permissions` the bot's own there; `locale` the user's client language.
    """
    payload: dict[str, Any] = {
        "id": fake.new_id(),
        "application_id": APP_ID,
        "type": interaction_type,
        "token": f"itoken-{fake.new_id()}",
        "version": 1,
        "channel_id": channel_id,
        "data": {"id": fake.new_id(), "name": name, "type": 1, "options": options or []},
        "locale": locale,
        "app_permissions": str(app_permissions),
        "attachment_size_limit": 8 * 1024 * 1024,
        "entitlements": [],
        "authorizing_integration_owners": {"0": guild_id or user_id},
        "context": 0 if guild_id else 1,
    }
    user = user_payload(user_id, "member")
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["channel"] = channel_payload(channel_id, guild_id)
        payload["member"] = {
            "user": user,
            "roles": [],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions),
        }
    else:
        payload["channel"] = {"id": channel_id, "type": 1, "recipients": [user]}
        payload["user"] = user
    return payload
