"""Source-health notices reach the channels that asked for them, and the operator, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands.execute import Services, execute
from bot.config.file import Config, Section
from bot.core.events import DetectParams
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.delivery.settings import parse as parse_delivery
from bot.engine.alert_charts import AlertCharts
from bot.engine.planner import Planner
from bot.engine.poller import Poller
from bot.errors import ConfigError
from bot.store.tinydb import TinyStore
from tests.fakes.sources import FailingSource

NOW = datetime(2026, 8, 3, 0, 10, tzinfo=UTC)


async def test_outage_and_recovery_reach_opted_in_channels_and_the_operator(tmp_path: Path) -> None:
    opted = ChannelRef("slack", "T1", "C-opted")
    other = ChannelRef("slack", "T1", "C-other")
    operator = ChannelRef("webhook", "config", "ops")
    admin = Caller("U1", can_manage=True)
    async with TinyStore.open(tmp_path / "db.json") as store:
        services = Services(store, Config())
        for line, channel in (("subscribe source_health", opted), ("subscribe new_leader", other)):
            assert (await execute(line, CommandContext(channel, admin, NOW), services)).ok
        outbox = store.outbox
        source = FailingSource([None, "outage", None, None, "recovery", None])

        async def params(period: str) -> DetectParams:
            return Config().detect

        poller = Poller(
            store,
            source,
            Planner(store, operator=operator),
            AlertCharts(store, Config().countries),
            params=params,
            countries=Config().countries,
        )
        for _ in range(6):
            poller.next_poll = None
            report = await poller.tick()
            assert report.source_error is not None
        notices = [
            (item.channel, item.message.notice)
            for channel in (opted, other, operator)
            for item in await outbox.pending(channel)
            if item.message.title and item.message.title.startswith("Rankings source")
        ]
    assert [c for c, _ in notices] == [opted, opted, operator, operator]
    texts = [t for _, t in notices]
    assert (
        "No new ranking data from openrouter for more than 24 h (newest day held: 2026-08-01)"
        in texts[0]
    )
    assert "Last error: HTTP 500." in texts[0]
    assert texts[1].startswith("✅ Ranking data from openrouter is flowing again")


def test_operator_channel_setting_is_checked() -> None:
    good = parse_delivery(Section({"operator_channel": "slack:T1:C9"}, "[delivery]"), Path())
    assert good.operator_channel == ChannelRef("slack", "T1", "C9")
    with pytest.raises(
        ConfigError, match=r"\[delivery\] operator_channel: expected platform:workspace:channel"
    ):
        parse_delivery(Section({"operator_channel": "#ops"}, "[delivery]"), Path())
