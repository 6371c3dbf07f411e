"""Shared fixtures. Nothing in the suite may reach the internet: chat platforms are loopback
fakes started by the tests, the ranking source is served from recorded payloads."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A throwaway PostgreSQL server on loopback for the whole session, started only when a
    test asks for it (`tests.fakes.postgres`); the tests skip, saying why, without one."""
    from tests.fakes import postgres

    server = postgres.start_server()
    if server is None:
        if os.environ.get("RANKBOT_REQUIRE_POSTGRES"):  # CI: .ci/run installs it
            pytest.fail(postgres.SKIP_REASON + " (RANKBOT_REQUIRE_POSTGRES is set)")
        pytest.skip(postgres.SKIP_REASON)
    try:
        yield server
    finally:
        postgres.stop_server(server)
