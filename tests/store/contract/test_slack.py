"""Slack installations and OAuth states."""

from __future__ import annotations

from bot.store.protocols import Store
from tests.store.contract.conftest import Backend


async def test_the_newest_install_wins_and_deletes_are_scoped(
    store: Store, backend: Backend
) -> None:
    slack = store.slack
    await slack.save(
        "bot", {"enterprise_id": None, "team_id": "T1", "bot_token": "old", "installed_at": 1.0}
    )
    await slack.save(
        "bot", {"enterprise_id": None, "team_id": "T1", "bot_token": "new", "installed_at": 2.0}
    )
    await slack.save(
        "bot", {"enterprise_id": None, "team_id": "T2", "bot_token": "t2", "installed_at": 1.0}
    )
    await slack.save("installation", {"enterprise_id": None, "team_id": "T1", "user_id": "U1"})
    store = await backend.reopen(store)
    slack = store.slack
    found = await slack.find("bot", None, "T1")
    assert found is not None and found["bot_token"] == "new" and "kind" not in found
    assert await slack.find("installation", None, "T1", "U2") is None
    assert await slack.find("installation", None, "T1", "U1") is not None
    await slack.delete("bot", None, "T1")
    assert await slack.find("bot", None, "T1") is None
    assert await slack.find("bot", None, "T2") is not None


async def test_an_oauth_state_is_consumed_once_before_it_expires(store: Store) -> None:
    slack = store.slack
    await slack.issue_state("s1", expires=1600.0, now=1000.0)
    await slack.issue_state("s2", expires=1700.0, now=1100.0)
    assert not await slack.consume_state("s2", now=1800.0)  # expired
    assert await slack.consume_state("s1", now=1500.0)
    assert not await slack.consume_state("s1", now=1500.0)  # once
    await slack.issue_state("s3", expires=2500.0, now=1900.0)  # drops the expired s2
    assert not await slack.consume_state("s2", now=1000.0)
