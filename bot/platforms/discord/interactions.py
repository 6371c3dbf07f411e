"""Discord's Interactions Endpoint URL: slash commands arriving as HTTPS POSTs, no gateway.

Once an Interactions Endpoint URL is set in the developer portal, Discord POSTs every
interaction there instead of sending it over the gateway. This endpoint:

- verifies each request with Ed25519 (PyNaCl) against the application's public key: the
  signature in `X-Signature-Ed25519` covers `X-Signature-Timestamp` + the raw body. A missing
  or wrong signature, or a timestamp further than `signature_max_age_seconds` from our clock
  (a replayed request), gets 401 and runs nothing. Discord itself sends bad signatures now
  and then and removes the URL of an app that accepts them;
- answers PING (type 1) with PONG;
- runs application commands (type 2) and autocomplete (type 4) through the very command tree
  the gateway uses (`commands.command_tree`): discord.py parses the payload into an
  `Interaction` as it does for a gateway event, the same callbacks turn options into the
  core's command line, check permissions (the member's and the bot's arrive in the payload),
  and render the same embeds.

The one difference is where the first answer goes. Over the gateway, discord.py POSTs it to
`/interactions/{id}/{token}/callback`; here it is the body of the HTTP answer, so the tree runs
with discord.py's webhook adapter replaced, for this interaction only, by `_HttpAnswer`, which
hands the first answer to the waiting request and sends everything after it (the edit of a
deferred answer: PATCH `/webhooks/{app}/{token}/messages/@original`, follow-ups) to Discord's
REST API as usual (`[discord] api_base`), with this endpoint's own session (the interaction
token is the credential there). Discord allows 3 s for the first answer: a command that has not
answered after `ANSWER_WITHIN_SECONDS` is acknowledged as "thinking" (ephemeral, the safe
choice when the reply's visibility is not known yet) and its answer edited in when ready.
Discord's HTTP answer carries JSON only, so a first answer with files is acknowledged the same
way and the files go with the edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
from aiohttp import web
from discord import app_commands
from discord.http import MultipartParameters, Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.errors import UsageError
from bot.platforms.discord.endpoints import apply_endpoints
from bot.platforms.discord.settings import DiscordSettings

log = logging.getLogger("rankbot.discord.http")

SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
PING, APPLICATION_COMMAND, AUTOCOMPLETE = 1, 2, 4
"""Interaction types this endpoint handles (components and modals: rankbot sends none)."""
PONG, CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, AUTOCOMPLETE_RESULT = 1, 4, 5, 8
"""Interaction callback types."""
EPHEMERAL = 64
REFUSALS_LOGGED_EVERY_SECONDS = 60.0
ANSWER_WITHIN_SECONDS = 2.5
"""Discord waits 3 s for the first answer; what has not answered by then is deferred."""


class SignatureCheck:
    """Ed25519 verification of Discord's interaction requests."""

    def __init__(
        self,
        public_key_hex: str,
        *,
        max_age_seconds: float,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._key = VerifyKey(bytes.fromhex(public_key_hex))
        self._max_age = max_age_seconds
        self._now = now

    def refusal(self, signature: str | None, timestamp: str | None, body: bytes) -> str | None:
        """Why the request must be refused, or None when it is Discord's and fresh."""
        if not signature or not timestamp:
            return "no signature"
        try:
            self._key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return "bad signature"
        try:
            age = abs(self._now() - float(timestamp))
        except ValueError:
            return "bad timestamp"
        if age > self._max_age:
            return f"timestamp {age:.0f} s away from the clock"
        return None


def _callback(interaction_id: int, kind: int, flags: int) -> dict[str, Any]:
    """What Discord's callback endpoint answers, which discord.py parses after each response."""
    return {
        "interaction": {
            "id": str(interaction_id),
            "type": kind,
            "response_message_id": None,
            "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
    }


class _HttpAnswer(AsyncWebhookAdapter):
    """discord.py's webhook adapter for one interaction that arrived over HTTP.

    The first interaction response resolves `first` (the HTTP answer's body) instead of being
    POSTed to the callback endpoint; every other request goes to Discord's REST API over the
    endpoint's `session`, authorised by the interaction's token.
    """

    def __init__(self, application_id: int, session: aiohttp.ClientSession) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # discord.py leaves it unannotated
        self.first: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._application_id = application_id
        self._session = session
        self._deferred_by_us = False
        self.sent = asyncio.Event()
        """Set once the HTTP answer is written: Discord knows of no original response to
        edit before it has that answer, so every other request waits for it."""

    def defer_now(self) -> None:
        """Acknowledge ("thinking", ephemeral) before Discord's 3 s run out; the command's own
        answer then edits it in."""
        if not self.first.done():
            self._deferred_by_us = True
            self.first.set_result({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}})

    async def request(  # the session is always ours
        self, route: Route, session: aiohttp.ClientSession, **kwargs: Any
    ) -> Any:
        await self.sent.wait()
        return await super().request(route, self._session, **kwargs)

    async def create_interaction_response(  # type: ignore[override]  # a coroutine, not a Response
        self,
        interaction_id: int,
        token: str,
        *,
        session: aiohttp.ClientSession,
        proxy: str | None = None,
        proxy_auth: aiohttp.BasicAuth | None = None,
        params: MultipartParameters,
    ) -> dict[str, Any]:
        body, files = _response_of(params)
        kind = int(body["type"])
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        if not self.first.done():
            if files and kind == CHANNEL_MESSAGE:
                # the HTTP answer is JSON only: acknowledge, then the files go with the edit
                self.first.set_result(
                    {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": flags & EPHEMERAL}}
                )
                await self._edit_original(token, data, files)
            else:
                self.first.set_result(body)
            return _callback(interaction_id, kind, flags)
        if self._deferred_by_us:
            # we acknowledged it in time: the command's answer is the edit (its own defer
            # is already done, and autocomplete choices this late are shown by nobody)
            if kind == CHANNEL_MESSAGE:
                await self._edit_original(token, data, files)
            return _callback(interaction_id, kind, flags)
        # a second answer: Discord's own callback endpoint refuses it, as over the gateway
        answer = await super().create_interaction_response(
            interaction_id,
            token,
            session=self._session,
            proxy=proxy,
            proxy_auth=proxy_auth,
            params=params,
        )
        return dict(answer)

    async def _edit_original(
        self, token: str, data: dict[str, Any], files: Sequence[discord.File]
    ) -> None:
        """PATCH the original response with a message's data (its flags were fixed when it
        was acknowledged)."""
        message = {k: v for k, v in data.items() if k != "flags"}
        if files:
            multipart: list[dict[str, Any]] = [
                {"name": "payload_json", "value": json.dumps(message)}
            ]
            multipart += [
                {
                    "name": f"files[{i}]",
                    "value": file.fp,
                    "filename": file.filename,
                    "content_type": "application/octet-stream",
                }
                for i, file in enumerate(files)
            ]
            await self.edit_original_interaction_response(
                self._application_id, token, session=self._session, multipart=multipart, files=files
            )
        else:
            await self.edit_original_interaction_response(
                self._application_id, token, session=self._session, payload=message
            )


def _response_of(params: MultipartParameters) -> tuple[dict[str, Any], Sequence[discord.File]]:
    """The response JSON (`{"type": …, "data": …}`) and its files, from discord.py's params."""
    if params.payload is not None:
        return params.payload, ()
    multipart = params.multipart or []
    payload = next(p["value"] for p in multipart if p["name"] == "payload_json")
    return json.loads(payload), params.files or ()


@dataclass
class InteractionsEndpoint:
    """The aiohttp handler of Discord's Interactions Endpoint URL (see the module doc)."""

    tree: app_commands.CommandTree
    client: discord.Client
    check: SignatureCheck
    session: aiohttp.ClientSession
    answer_within: float = ANSWER_WITHIN_SECONDS
    _running: set[asyncio.Task[None]] = field(default_factory=set)
    _refused: int = 0
    _refusal_logged: float = -REFUSALS_LOGGED_EVERY_SECONDS

    def web_app(self, path: str) -> web.Application:
        app = web.Application()
        app.router.add_post(path, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        refusal = self.check.refusal(
            request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER), body
        )
        if refusal is not None:
            self._log_refusal(refusal, request.remote)
            return web.Response(status=401, text="invalid request signature")
        try:
            payload = json.loads(body)
            kind = int(payload["type"])
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="expected an interaction as JSON")
        if kind == PING:
            return web.json_response({"type": PONG})
        if kind not in (APPLICATION_COMMAND, AUTOCOMPLETE):
            return web.Response(status=400, text=f"rankbot handles no interaction of type {kind}")
        interaction: discord.Interaction[discord.Client] = discord.Interaction(
            data=payload,  # checked by discord.py as it parses
            state=self.client._connection,
        )
        adapter = _HttpAnswer(interaction.application_id, self.session)
        try:
            response = web.json_response(await self.answer(interaction, adapter))
            await response.prepare(request)
            await response.write_eof()
        finally:
            adapter.sent.set()
        return response

    def _log_refusal(self, refusal: str, remote: str | None) -> None:
        """One warning per minute at most, with the count: Discord probes with bad
        signatures and strangers send junk, but a wrong public key refuses everything, and
        that must show."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refusal_logged < REFUSALS_LOGGED_EVERY_SECONDS:
            return
        log.warning(
            "refused %d interaction request(s) since the last report, the latest from %s: %s "
            "(if Discord's own are refused, check [discord] public_key and the clock)",
            self._refused,
            remote,
            refusal,
        )
        self._refused, self._refusal_logged = 0, now

    async def answer(
        self, interaction: discord.Interaction[discord.Client], adapter: _HttpAnswer
    ) -> dict[str, Any]:
        """The HTTP answer to a command or autocomplete; the command may go on after it (to
        edit a deferred answer in)."""
        task = asyncio.create_task(self._run(interaction, adapter), name="discord-interaction")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        waited: list[asyncio.Future[Any]] = [adapter.first, task]
        await asyncio.wait(waited, timeout=self.answer_within, return_when=asyncio.FIRST_COMPLETED)
        if not adapter.first.done():
            if interaction.type is discord.InteractionType.autocomplete:
                return {"type": AUTOCOMPLETE_RESULT, "data": {"choices": []}}
            if task.done():  # ended without answering: an error it already logged
                return {
                    "type": CHANNEL_MESSAGE,
                    "data": {
                        "content": "Something went wrong on rankbot's side; please try again.",
                        "flags": EPHEMERAL,
                    },
                }
            adapter.defer_now()
        return adapter.first.result()

    async def _run(self, interaction: discord.Interaction[discord.Client], adapter: Any) -> None:
        """The tree's own dispatch, as discord.py runs it for a gateway event, with the
        adapter that answers over HTTP."""
        async_context.set(adapter)
        try:
            await self.tree._call(interaction)
        except app_commands.AppCommandError as exc:
            await self.tree.on_error(interaction, exc)
        except Exception:
            log.exception("interaction %s failed", interaction.id)

    async def close(self) -> None:
        """Let commands still editing their answers finish (they are short), then stop."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=5)
        for task in list(self._running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class InteractionsServer:
    """The endpoint, listening; `close()` stops it (and what it started)."""

    endpoint: InteractionsEndpoint
    port: int
    """The port actually bound (useful with `port = 0`)."""
    _closers: list[Callable[[], Awaitable[object]]]

    async def close(self) -> None:
        while self._closers:
            await self._closers.pop()()


async def serve(
    settings: DiscordSettings,
    client: discord.Client,
    tree: app_commands.CommandTree,
    *,
    now: Callable[[], float] = time.time,
) -> InteractionsServer:
    """Listen on `[discord] host:port` + `path` in the running loop, answering with `tree`.

    `client` is logged in over REST (`runtime.start`): discord.py builds interactions as a
    logged-in client sees them, exactly as for a gateway event, and the token is checked at
    start rather than at the first command. `now` is the clock signatures' timestamps are
    checked against (tests move it)."""
    if settings.public_key is None:
        raise UsageError(
            "[discord] public_key is needed to verify interactions over HTTP: copy it from "
            "the developer portal (General Information → Public Key)"
        )
    apply_endpoints(settings)
    closers: list[Callable[[], Awaitable[object]]] = []
    session = aiohttp.ClientSession()
    closers.append(session.close)
    check = SignatureCheck(
        settings.public_key, max_age_seconds=settings.signature_max_age_seconds, now=now
    )
    endpoint = InteractionsEndpoint(tree, client, check, session)
    closers.append(endpoint.close)  # after the server stopped: answers being edited in
    runner = web.AppRunner(endpoint.web_app(settings.path))
    await runner.setup()
    closers.append(runner.cleanup)
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except BaseException as exc:
        for close in reversed(closers):
            await close()
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot listen on {settings.host}:{settings.port} for Discord interactions "
                f"({exc.strerror or exc}): change [discord] host or port"
            ) from None
        raise
    sockets = getattr(site._server, "sockets", None) or ()
    port = sockets[0].getsockname()[1] if sockets else settings.port
    log.info("discord interactions endpoint on %s:%s%s", settings.host, port, settings.path)
    return InteractionsServer(endpoint, port, closers)
