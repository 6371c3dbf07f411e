"""A whole rankbot wired to the Slack fake, as the runner wires it: store, Slack runtime
(Socket Mode or HTTP), outbox, planner and delivery, for the end-to-end Slack tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import app
from bot.config.file import Config
from bot.core.events import DetectParams
from bot.core.model import Snapshot
from bot.delivery.settings import DeliverySettings
from bot.delivery.workers import Delivery
from bot.engine.alert_charts import AlertCharts
from bot.engine.ingest import ingest
from bot.engine.planner import Planner
from bot.engine.poller import Poller
from bot.platforms.slack.runtime import SlackRuntime, start_slack
from bot.platforms.slack.settings import SlackSecrets
from bot.sources.replay import ReplaySource
from bot.store.protocols import Outbox, Store, Subscriptions
from tests.fakes.slack_fake import SlackFake
from tests.helpers import snap

B = 1_000_000_000
ATTRIBUTION = "Source: OpenRouter (openrouter.ai/rankings), as of 2026-02-16."
WEEK_1 = {
    "google/gemini-3-flash": 990 * B,
    "minimax/minimax-m2.5": 800 * B,
    "x-ai/grok-4.1-fast": 700 * B,
    "anthropic/claude-sonnet-4.5": 600 * B,
    "deepseek/deepseek-v3.2": 500 * B,
    "openai/gpt-5-mini": 400 * B,
}
WEEK_2 = {**WEEK_1, "minimax/minimax-m2.5": 1700 * B, "deepseek/deepseek-v3.2": 1000 * B}
"""A new #1 (and the China/US balance flips): what the alert test replays."""

SECRETS = SlackSecrets(
    bot_token="xoxb-test-token",
    app_token="xapp-test-token",
    signing_secret="test-signing-secret",
    client_secret="test-client-secret",
)


@dataclass
class SlackBot:
    fake: SlackFake
    store: Store
    config: Config
    runtime: SlackRuntime
    outbox: Outbox
    delivery: Delivery

    async def replay(self, *snapshots: Snapshot) -> None:
        """One poller tick over `snapshots`, then deliver everything that is due (charts
        drawn in the chart worker process, as in production)."""

        async def params(period: str) -> DetectParams:
            return self.config.detect

        charts = AlertCharts(self.store, self.config.countries, on_attached=self.delivery.kick)
        poller = Poller(
            self.store,
            ReplaySource(snapshots),
            Planner(self.store),
            charts,
            params=params,
            countries=self.config.countries,
        )
        await poller.tick()
        await asyncio.gather(charts.settle(), self.delivery.run_until_idle())

    def subscriptions(self) -> Subscriptions:
        return self.store.subscriptions


def week(day: str, figures: dict[str, int]) -> Snapshot:
    return snap(day, figures, attribution=ATTRIBUTION)


@asynccontextmanager
async def running_bot(
    tmp_path: Path, *, mode: str = "socket", **slack: Any
) -> AsyncIterator[SlackBot]:
    """A bot whose store holds a silent baseline week, connected to a fresh Slack fake."""
    fake = await SlackFake().start()
    config = app.config_from_mapping(
        {"slack": {"api_url": fake.api_url, "mode": mode, "host": "127.0.0.1", "port": 0, **slack}},
        base=tmp_path,
    )
    store = app.open_store(tmp_path / "rankbot.db.json")
    baseline = week("2026-02-09", WEEK_1)
    await ingest(store, baseline, params=config.detect, countries=config.countries)
    runtime = await start_slack(config, store, secrets=SECRETS)
    subscriptions = store.subscriptions
    outbox = store.outbox
    delivery = Delivery(
        outbox,
        {"slack": runtime.sender},
        DeliverySettings(limits={}),  # rate limits are delivery's tests; keep these fast
        on_permanent=subscriptions.pause,
        is_paused=subscriptions.is_paused,
    )
    try:
        if mode == "socket":
            await fake.wait_connected()
        yield SlackBot(fake, store, config, runtime, outbox, delivery)
    finally:
        await runtime.close()
        await fake.close()
        await store.close()
