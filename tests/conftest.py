"""Shared fixtures. Nothing in the suite may reach the internet: chat platforms are loopback
fakes started by the tests, the ranking source is served from recorded payloads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from tests.fakes.openrouter_api import Clock


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY: loopback calls would go out.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """respx in front of httpx: the OpenRouter fake mounts its routes here."""
    with respx.mock(assert_all_called=False) as r:
        yield r


@pytest.fixture
def clock() -> Clock:
    """The virtual clock the OpenRouter fake and its limiter share."""
    return Clock()
