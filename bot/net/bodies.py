"""Reading an HTTP answer's body with a ceiling, for every httpx client rankbot runs.

A server decides how much it sends; rankbot decides how much it reads. A webhook answering a
post with 1 GB once pushed the process to 3.2 GB: `response.content` holds everything. The
callers stream instead (`client.stream(...)`) and read through `read_at_most`, which stops at
`limit` bytes. What a chat or webhook answer says fits in a few kilobytes (a status and an
error code); a JSON API's answer gets a limit far above any real one and fails loudly beyond.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

ANSWER_BYTES = 16 * 1024
"""All rankbot reads of a chat or webhook answer: its error code, its message id."""


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of a streamed `response`'s (decoded) body, and whether there was
    more. The rest is never read: closing the response then drops the connection."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            return bytes(body[:limit]), True
    return bytes(body), False


@dataclass(frozen=True, slots=True)
class Answer:
    """A webhook's answer as far as rankbot reads it: at most `ANSWER_BYTES` of its body."""

    status: int
    headers: httpx.Headers
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace").strip()


async def post_json(client: httpx.AsyncClient, url: str, payload: object) -> Answer:
    """POST `payload` as JSON; a 2xx answer's body is never read, another's only its first
    `ANSWER_BYTES` (`bot.net.bodies`: a hostile endpoint cannot make rankbot hold its 1 GB)."""
    async with client.stream("POST", url, json=payload) as response:
        status = response.status_code
        if 200 <= status < 300:
            return Answer(status, response.headers)
        body, _ = await read_at_most(response, ANSWER_BYTES)
        return Answer(status, response.headers, body)
