"""The `[ops]` listener: `/healthz`, `/readyz`, `/metrics` and the admin channel, served by a
thread of its own.

Why a thread: `/healthz` judges the event loop, so it cannot be answered by it; a stuck loop
gets a 503 here while it stays stuck. The thread only reads values the loop publishes
(`bot.ops.health.Health`, the Prometheus registry); admin operations are the exception: they
are handed to the loop (`run_coroutine_threadsafe`) and run there, on the bot's own store.

The admin channel (`POST /admin/<operation>`, a JSON object of arguments in, JSON out) answers
only callers on the loopback interface that send `X-Rankbot-Admin: 1` with a JSON body: a
listener bound to every interface for Prometheus does not hand the bot to the network, and a
web page cannot forge the request (a custom header needs a CORS preflight it never gets).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.ops.admin import Admin, dumps, error_document
from bot.ops.health import Health
from bot.ops.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger("rankbot.ops")

ADMIN_HEADER = "X-Rankbot-Admin"
ADMIN_TIMEOUT_SECONDS = 60.0
"""Longest an admin operation may take on the loop (a backup of a big database is the slow
one); the command line waits a little longer."""
MAX_BODY = 16 * 1024 * 1024
"""Largest admin request (a subscriptions import of ~50,000 channels)."""


class OpsServer:
    """Start with `start()`, stop with `close()`; `port` is the bound port (`listen` may
    say port 0)."""

    def __init__(
        self,
        host: str,
        port: int,
        health: Health,
        metrics: Metrics,
        admin: Admin | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        handler = type("Handler", (_Handler,), {"ops": self})
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.health = health
        self.metrics = metrics
        self.admin = admin
        self.loop = loop
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rankbot-ops", daemon=True
        )

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    ops: OpsServer
    server_version = "rankbot-ops"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("ops %s", format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        health = self.ops.health
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            age = health.heartbeat_age()
            live = health.live()
            doc: dict[str, object] = {
                "status": "ok" if live else "stalled",
                "heartbeat_age_seconds": None if age is None else round(age, 3),
                "stale_after_seconds": health.stale_after,
            }
            self._send(200 if live else 503, dumps(doc))
        elif path == "/readyz":
            readiness = health.readiness()
            ready = {"ready": readiness.ready, "reasons": dict(readiness.reasons)}
            self._send(200 if readiness.ready else 503, dumps(ready))
        elif path == "/metrics":
            self.ops.metrics.ready.set(1 if health.readiness().ready else 0)
            self._send(200, self.ops.metrics.exposition(), CONTENT_TYPE)
        else:
            self._send(404, dumps({"error": "not found: /healthz, /readyz, /metrics"}))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if not path.startswith("/admin/"):
            self._send(404, dumps({"error": "not found"}))
            return
        refused = self._refused()
        if refused is not None:
            self._send(403, dumps({"error": refused}))
            return
        admin = self.ops.admin
        if admin is None:
            self._send(404, dumps({"error": "this process has no admin operations"}))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError(f"request larger than {MAX_BODY} bytes")
            args = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(args, dict):
                raise ValueError("expected a JSON object")
        except ValueError as exc:
            self._send(400, dumps({"error": f"bad request: {exc}", "exit_code": 2}))
            return
        op = path.removeprefix("/admin/")
        future = asyncio.run_coroutine_threadsafe(admin.call(op, args), self.ops.loop)
        try:
            result = future.result(ADMIN_TIMEOUT_SECONDS)
        except FutureTimeout:
            future.cancel()
            error = f"the bot did not answer within {ADMIN_TIMEOUT_SECONDS:g} s"
            self._send(503, dumps({"error": error, "exit_code": 6}))
            return
        except Exception as exc:
            status, doc = error_document(exc)
            if status == 500:
                log.error("admin %s failed: %s", op, type(exc).__name__, exc_info=exc)
            self._send(status, dumps(doc))
            return
        log.info("admin operation %s done", op)
        self._send(200, dumps(result))

    def _refused(self) -> str | None:
        try:
            peer = ipaddress.ip_address(self.client_address[0])
        except ValueError:
            return "admin operations answer loopback callers only"
        mapped = getattr(peer, "ipv4_mapped", None)
        if not (peer.is_loopback or (mapped is not None and mapped.is_loopback)):
            return "admin operations answer loopback callers only"
        if self.headers.get(ADMIN_HEADER) != "1":
            return f"admin requests carry the header {ADMIN_HEADER}: 1"
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return "admin requests are JSON (Content-Type: application/json)"
        return None
