"""The HTTP shell around OpenRouter's Data API and model catalogue (httpx, async).

Everything that can go wrong on the wire ends here as an `OpenRouterError` whose message an
operator can act on, and which never contains the API key: the key travels only in the
`Authorization` header, and any text echoed from a response is redacted before it is used.
Transient failures (429, 5xx, timeouts, dropped connections) are retried with exponential
backoff, honouring `Retry-After`; every attempt first passes the client-side limiter, so
retries count against the 30/min and 500/day budgets like any other request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx

from bot.clock import utcnow
from bot.errors import ExitCode, SourceError
from bot.net.bodies import ANSWER_BYTES, read_at_most
from bot.net.retry import backoff, parse_retry_after
from bot.sources.openrouter.limiter import RequestLimiter

log = logging.getLogger("rankbot.openrouter")

VERSION = "0.1.0"
KEY_ENV = "OPENROUTER_API_KEY"
BAD_KEY = f"{KEY_ENV} is missing or wrong: create a key at openrouter.ai/keys and export it"
RANKINGS_PATH = "/api/v1/datasets/rankings-daily"
MODELS_PATH = "/api/v1/models"


class OpenRouterError(SourceError):
    """A failure an operator can read; never contains the API key."""


class AuthError(OpenRouterError):
    """401: the key is missing or wrong."""

    exit_code = ExitCode.CREDENTIALS


class RequestRejected(OpenRouterError):
    """400: the request itself is wrong (e.g. a date before 2025-01-01); not retried."""


class Unavailable(OpenRouterError):
    """429s, 5xx or timeouts outlasted every retry."""


class BadResponse(OpenRouterError):
    """The response is not the JSON object the API documents (truncated, garbage)."""


MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest answer read from the API: the model catalogue and a year of daily rankings
are a few MB; an answer of 64 MB is an endpoint gone wrong, not data."""


def user_agent(contact: str | None) -> str:
    """`rankbot/<version> (+contact)`: lets OpenRouter tell who is calling and reach them."""
    return f"rankbot/{VERSION} (+{contact})" if contact else f"rankbot/{VERSION}"


def new_client(base_url: str, timeout: float, contact: str | None) -> httpx.AsyncClient:
    """The HTTP client of the source's polls. It keeps no connection open between requests:
    polls are hours apart (a kept connection would be closed by the server long before the
    next one), so one client serves every poll of a process and leaves nothing open behind
    it, and making a client (~0.5 ms of CPU, most of it reading the proxy settings from the
    environment) is paid once."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        verify=tls_context(),
        headers={"User-Agent": user_agent(contact), "Accept": "application/json"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every poll's client shares: loading the system's CA certificates takes
    ~30 ms of CPU, which a new httpx client would otherwise spend on every poll."""
    return httpx.create_ssl_context()


class OpenRouterApi:
    """Use as `async with OpenRouterApi(...) as api:`; the httpx client lives in between."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        contact: str | None,
        timeout: float,
        limiter: RequestLimiter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retries: int = 4,
        backoff_base: float = 2.0,
        max_backoff: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """`client`: the source's shared one (`new_client`), used and left open; without it
        the `async with` block makes one and closes it."""
        self._shared = client
        self._base_url = base_url
        self._key = api_key or None
        self._contact = contact
        self._timeout = timeout
        self._limiter = limiter
        self._sleep = sleep
        self._retries = retries
        self._backoff_base = backoff_base
        self._max_backoff = max_backoff
        self._client: httpx.AsyncClient | None = None
        self.requests = 0
        """Requests sent so far (every attempt), for progress reports and tests."""

    async def __aenter__(self) -> OpenRouterApi:
        self._client = self._shared or new_client(self._base_url, self._timeout, self._contact)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None and self._client is not self._shared:
            await self._client.aclose()
        self._client = None

    async def rankings_daily(self, start: date, end: date) -> Any:
        """The raw JSON of one rankings-daily range (both ends inclusive)."""
        if self._key is None:
            raise AuthError(BAD_KEY)
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        headers = {"Authorization": f"Bearer {self._key}"}
        return await self._get(RANKINGS_PATH, params=params, headers=headers)

    async def models(self) -> Any:
        """The raw JSON of the public model catalogue (no key needed)."""
        return await self._get(MODELS_PATH, params={}, headers={})

    async def _get(self, path: str, *, params: dict[str, str], headers: dict[str, str]) -> Any:
        if self._client is None:
            raise RuntimeError("OpenRouterApi used outside `async with`")
        what = f"GET {path}"
        problem = ""
        unreachable = False
        hint: float | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                step = backoff(attempt, base=self._backoff_base, cap=self._max_backoff)
                delay = min(max(step, hint or 0.0), self._max_backoff)  # the server's hint wins
                await self._sleep(delay)
                hint = None
            await self._limiter.acquire()
            self.requests += 1
            unreachable = False
            try:
                response, body = await self._fetch(path, params, headers)
            except httpx.TimeoutException:
                problem = f"no answer within {self._timeout:g} s"
            except httpx.TransportError as exc:
                problem = self._redact(f"connection failed ({type(exc).__name__}: {exc})")
                unreachable = True
            else:
                status = response.status_code
                if status == 200:
                    return self._json(body, what)
                problem = f"HTTP {status}: {self._error_text(response, body)}"
                if status == 401:
                    raise AuthError(BAD_KEY)
                if status == 400 or (400 <= status < 500 and status != 429):
                    raise RequestRejected(f"{what} was refused ({problem})")
                hint = parse_retry_after(response.headers.get("Retry-After"), utcnow())
            log.warning("%s attempt %d failed: %s", what, attempt + 1, problem)
        raise Unavailable(
            f"{what} failed after {self._retries + 1} attempts (last: {problem})",
            exit_code=ExitCode.NETWORK if unreachable else None,
        )

    async def _fetch(
        self, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes]:
        """One GET and its body: at most `MAX_RESPONSE_BYTES` of an answer (`BadResponse`
        beyond), `ANSWER_BYTES` of an error (`bot.net.bodies`)."""
        assert self._client is not None
        async with self._client.stream("GET", path, params=params, headers=headers) as response:
            limit = MAX_RESPONSE_BYTES if response.status_code == 200 else ANSWER_BYTES
            body, more = await read_at_most(response, limit)
        if more and response.status_code == 200:
            raise BadResponse(
                f"GET {path} answered more than {MAX_RESPONSE_BYTES // (1024 * 1024)} MB, "
                "far beyond any real answer: not read"
            )
        return response, body

    def _json(self, content: bytes, what: str) -> Any:
        try:
            body = json.loads(content)
        except RecursionError:
            raise BadResponse(f"{what} returned JSON nested too deeply to be data") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadResponse(
                f"{what} returned a body that is not JSON (truncated or garbage: {exc.msg} "
                f"at byte {exc.pos} of {len(content)})"
                if isinstance(exc, json.JSONDecodeError)
                else f"{what} returned a body that is not UTF-8 JSON"
            ) from None
        if not isinstance(body, dict):
            raise BadResponse(f"{what} returned JSON that is not an object")
        return body

    def _error_text(self, response: httpx.Response, content: bytes) -> str:
        """The API's `{"error": {"message"}}`, or the reason phrase; redacted, kept short."""
        message = response.reason_phrase or "error"
        try:
            body = json.loads(content)
            err = body.get("error") if isinstance(body, dict) else None
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                message = err["message"]
        except (ValueError, RecursionError):
            pass
        return self._redact(message[:200])

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text
