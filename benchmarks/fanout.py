"""Fan-out: one alert to thousands of channels, through rankbot and through a bare client.

Production wiring: the alert is planned by the real poller (a replayed week whose new #1 the
channels subscribed to), stored in the TinyDB outbox, its chart drawn in the chart worker
process, and delivered by `Delivery` through the real senders (discord.py, slack_sdk, httpx)
to the loopback fakes of the test suite, each running in a process of its own
(`platform_fakes.py`) that waits 30 ms per request (a network round trip) and enforces the
platform's limits. The bare client in each row sends the same posts with the same library and
the same concurrency (16), paced by the same windows, without rankbot around it.

Rows (issue 12's goals):
- discord: 2,000 channels, 50/s for the bot and 5 per 5 s per channel; the time ÷ the bound
  the limits allow ((2,000 − 1) // 50 s = 39 s) must be ≤ 1.05, with and without a chart;
- slack: 2,000 channels, 1/s per channel (so the limits allow everything at once):
  compared with the bare client;
- webhook poll: `rankbot poll --once` as the CLI runs it (declared `[[channels]]`, the same
  httpx client) to 2,000 webhooks on loopback (no latency): ≥ 50 % of a bare httpx client's
  throughput; and 5,000 webhooks: drained, no duplicates, no false timeouts;
- hanging: 18 webhooks that never answer beside 200 healthy ones: a healthy channel's post
  is delayed by at most 1 s compared with the same run without them.

Run: .venv/bin/python benchmarks/fanout.py [--only discord,slack,webhook,hanging]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from benchmarks.charts import year_of_weeks
from bot import app
from bot.core.messages import ChannelRef
from bot.core.model import Snapshot
from bot.core.subscription import Subscription
from bot.delivery.sender import Sender
from bot.engine.ingest import ingest_baseline
from bot.net.sliding_window import SlidingWindow
from bot.render.chart_pool import default_pool
from bot.render.templates import Renderer
from bot.sources.replay import ReplaySource

CONCURRENCY = 16
LATENCY = 0.03


class Fake:
    """A platform fake in a child process (`platform_fakes.py`)."""

    def __init__(self, kind: str, *args: str) -> None:
        script = Path(__file__).with_name("platform_fakes.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), kind, *args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.urls: dict[str, str] = json.loads(self.proc.stdout.readline())
        self.stats_url = self.urls["stats"]

    def stats(self) -> dict[str, Any]:
        return dict(shapes.harness_http().get(self.stats_url).json())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def history() -> list[Snapshot]:
    """A year of weekly rankings; the last week is the alert: a new #1."""
    weeks = year_of_weeks()
    last = weeks[-1]
    top = last.entries[0].tokens
    entries = [{"model": "moonshotai/kimi-k3", "name": "Kimi K3", "tokens": top * 2}]
    entries += [{"model": e.model, "name": e.name, "tokens": e.tokens} for e in last.entries]
    alert = Snapshot.create(
        source="openrouter", period="week", as_of=last.as_of + timedelta(weeks=1), entries=entries
    )
    return [*weeks, alert]


@dataclass
class Run:
    seconds: float
    cpu: float
    accepted: int
    duplicates: int
    limited: int
    timeouts: int = 0
    spread: float = 0.0
    """Seconds from the platform's first accepted post to its last."""


async def rankbot_fanout(
    tmp: Path,
    channels: list[ChannelRef],
    senders: dict[str, Sender],
    fake: Fake,
    *,
    charts: bool,
    config_data: dict[str, Any] | None = None,
) -> Run:
    """Plan one alert for `channels` with the real poller and deliver it."""
    weeks = history()
    config = app.config_from_mapping(config_data or {}, base=tmp)
    path = tmp / f"fanout-{time.monotonic_ns()}.db.json"
    async with app.open_database(path) as store:
        await ingest_baseline(store, weeks[:-1], params=config.detect, countries=config.countries)
        subs = [
            Subscription(c, kinds=("new_leader",), confirmed=True, charts=charts) for c in channels
        ]
        await shapes.add_subscriptions(store, subs)
        bot = await app.build_bot(config, store, ReplaySource(weeks[-1:]), senders)
        meter = shapes.Meter(default_pool().worker_pids())
        with meter:
            await bot.poller.tick()
            await asyncio.gather(bot.charts.settle(), bot.delivery.run_until_idle())
        timeouts = sum(
            1 for i in await store.outbox.items() if "no answer within" in (i.last_error or "")
        )
    stats = fake.stats()
    accepted = stats["accepted"]
    return Run(
        meter.wall,
        meter.cpu,
        len(accepted),
        sum(n - 1 for n in accepted.values()),
        stats["limited"],
        timeouts,
        (stats["last"] or 0) - (stats["first"] or 0),
    )


# --- discord ---------------------------------------------------------------------------------


async def discord_row(tmp: Path, chart: bool) -> tuple[Run, Run]:
    import discord

    from bot.platforms.discord.embeds import discord_renderer, message_parts
    from bot.platforms.discord.runtime import apply_endpoints, login
    from bot.platforms.discord.sender import NO_MENTIONS, DiscordSender
    from bot.platforms.discord.settings import DiscordSettings

    channels = [ChannelRef("discord", "G1", str(700000000000000000 + i)) for i in range(2000)]
    fake = Fake("discord", "--limits", "--latency", str(LATENCY))
    try:
        settings = DiscordSettings(
            api_base=fake.urls["api_base"], gateway_url=fake.urls["gateway_url"]
        )
        apply_endpoints(settings)
        client = discord.Client(intents=discord.Intents.none())
        await login(client, "bench-token", settings.api_base)
        sender = DiscordSender(client, discord_renderer())
        ours = await rankbot_fanout(tmp, channels, {"discord": sender}, fake, charts=chart)
        await client.close()
    finally:
        fake.close()
    # the bare client: discord.py, the same embed (and chart bytes), 16 at a time, paced 50/s
    fake = Fake("discord", "--limits", "--latency", str(LATENCY))
    try:
        settings = DiscordSettings(
            api_base=fake.urls["api_base"], gateway_url=fake.urls["gateway_url"]
        )
        apply_endpoints(settings)
        client = discord.Client(intents=discord.Intents.none())
        await login(client, "bench-token", settings.api_base)
        from bot.core.messages import Message

        png = None
        if chart:
            from bot.render.charts import render_chart

            png = render_chart("trend", history(), countries=app.load_config(None).countries)
        message = Message(notice="🏆 New #1 (weekly): Kimi K3 leads with 2T tokens")
        embed = message_parts(discord_renderer(), message).to_embed()
        window = SlidingWindow(50, 1.0)
        slots = asyncio.Semaphore(CONCURRENCY)
        lock = asyncio.Lock()
        began = time.monotonic()
        cpu0 = time.process_time()

        async def post(channel: ChannelRef) -> None:
            async with lock:
                while (delay := window.wait(time.monotonic() - began)) > 0:
                    await asyncio.sleep(delay)
                window.record(time.monotonic() - began)
            async with slots:
                target = client.get_partial_messageable(int(channel.channel))
                while True:  # what any caller of discord.py does with a 429 it gave up on
                    files = [discord.File(io.BytesIO(png), "chart.png")] if png else []
                    try:
                        await target.send(embeds=[embed], files=files, allowed_mentions=NO_MENTIONS)
                        return
                    except discord.HTTPException as exc:
                        if exc.status != 429:
                            raise
                        await asyncio.sleep(0.05)

        await asyncio.gather(*(post(c) for c in channels))
        bare = Run(time.monotonic() - began, time.process_time() - cpu0, 0, 0, 0)
        stats = fake.stats()
        bare.accepted, bare.limited = len(stats["accepted"]), stats["limited"]
        await client.close()
    finally:
        fake.close()
    return ours, bare


# --- slack -----------------------------------------------------------------------------------


async def slack_row(tmp: Path) -> tuple[Run, Run]:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.platforms.slack.blocks import message_blocks, slack_renderer
    from bot.platforms.slack.sender import SlackSender

    channels = [ChannelRef("slack", "T1", f"C{i:06d}") for i in range(2000)]
    fake = Fake("slack", "--limits", "--latency", str(LATENCY))
    try:
        client = AsyncWebClient(token="xoxb-bench", base_url=fake.urls["api_url"])

        async def client_for(team: str) -> AsyncWebClient:
            return client

        sender = SlackSender(client_for, slack_renderer())
        ours = await rankbot_fanout(tmp, channels, {"slack": sender}, fake, charts=False)
    finally:
        fake.close()
    fake = Fake("slack", "--limits", "--latency", str(LATENCY))
    try:
        from bot.core.messages import Message

        client = AsyncWebClient(token="xoxb-bench", base_url=fake.urls["api_url"])
        message = Message(notice="🏆 New #1 (weekly): Kimi K3 leads with 2T tokens")
        blocks = message_blocks(slack_renderer(), message)
        slots = asyncio.Semaphore(CONCURRENCY)
        began, cpu0 = time.monotonic(), time.process_time()

        async def post(channel: ChannelRef) -> None:
            async with slots:
                await client.chat_postMessage(
                    channel=channel.channel, text=message.notice or "", blocks=blocks
                )

        await asyncio.gather(*(post(c) for c in channels))
        bare = Run(time.monotonic() - began, time.process_time() - cpu0, 0, 0, 0)
        stats = fake.stats()
        bare.accepted, bare.limited = len(stats["accepted"]), stats["limited"]
    finally:
        fake.close()
    return ours, bare


# --- webhooks --------------------------------------------------------------------------------


def declared(names: list[str], base: str) -> list[dict[str, Any]]:
    """`[[channels]]` tables for webhook channels, their URLs in the environment."""
    tables = []
    for name in names:
        variable = f"BENCH_HOOK_{name.upper()}"
        os.environ[variable] = f"{base}/hook/{name}"
        tables.append(
            {
                "name": name,
                "platform": "webhook",
                "url_env": variable,
                "kinds": ["new_leader"],
            }
        )
    return tables


async def webhook_poll(
    tmp: Path,
    count: int,
    hang: int = 0,
    latency: float = 0.0,
    around: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
) -> Run:
    """`rankbot poll --once` to `count` declared webhooks (the CLI's wiring: its httpx client,
    `default_senders`, one cycle); the first `hang` never answer. `around()` is entered for
    the cycle alone (`loop_lag.py` runs its ticker there: the benchmark's own setup, which
    starts the fake and fills the store, is not the fan-out)."""
    fake = Fake("webhook", "--latency", str(latency), "--hang", str(hang))
    try:
        names = [f"hang{i:04d}" for i in range(hang)] + [f"hook{i:05d}" for i in range(count)]
        config_data = {"channels": declared(names, fake.urls["base"])}
        config = app.config_from_mapping(config_data, base=tmp)
        weeks = history()
        path = tmp / f"hooks-{time.monotonic_ns()}.db.json"
        settings = config.section("delivery")
        async with app.open_database(path) as store:
            await ingest_baseline(
                store, weeks[:-1], params=config.detect, countries=config.countries
            )
            async with app.webhook_client(settings) as client:
                senders = app.default_senders(config, client, Renderer())
                bot = await app.build_bot(config, store, ReplaySource(weeks[-1:]), senders)
                async with store.transaction():  # declared channels start confirmed
                    for sub in await store.subscriptions.all():
                        await store.subscriptions.upsert(replace(sub, confirmed=True))
                meter = shapes.Meter(default_pool().worker_pids())
                async with around():
                    with meter:
                        await app.one_cycle(bot)
            timeouts = sum(
                1
                for i in await store.outbox.items()
                if "no answer within" in (i.last_error or "")
                and not i.channel.channel.startswith("hang")
            )
        stats = fake.stats()
        accepted = stats["accepted"]
        duplicates = sum(n - 1 for n in accepted.values())
        spread = (stats["last"] or 0) - (stats["first"] or 0)
        return Run(meter.wall, meter.cpu, len(accepted), duplicates, 0, timeouts, spread)
    finally:
        fake.close()


async def bare_webhooks(count: int) -> Run:
    fake = Fake("webhook", "--latency", "0")
    try:
        base = fake.urls["base"]
        slots = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient() as client:
            began, cpu0 = time.monotonic(), time.process_time()

            async def post(i: int) -> None:
                async with slots:
                    r = await client.post(f"{base}/hook/bare{i:05d}", json={"text": "🏆 New #1"})
                    r.raise_for_status()

            await asyncio.gather(*(post(i) for i in range(count)))
            run = Run(time.monotonic() - began, time.process_time() - cpu0, count, 0, 0)
        stats = fake.stats()
        run.accepted = len(stats["accepted"])
        return run
    finally:
        fake.close()


# --- main ------------------------------------------------------------------------------------


async def main(only: set[str]) -> None:
    app.warm_charts()
    print(f"fan-out benchmarks; {shapes.load()}; {LATENCY * 1000:.0f} ms per platform request")
    with tempfile.TemporaryDirectory(prefix="rankbot-fanout-") as tmp:
        workdir = Path(tmp)
        if "discord" in only:
            bound = (2000 - 1) // 50
            for chart in (False, True):
                ours, bare = await discord_row(workdir, chart)
                what = "with a chart" if chart else "no chart"
                ratio = ours.seconds / bound
                print(
                    f"discord 2,000 channels, {what}: rankbot {ours.seconds:5.1f} s "
                    f"(÷ bound {bound} s = {ratio:5.3f}; goal ≤ 1.05: "
                    f"{shapes.verdict(ratio <= 1.05)}), CPU {ours.cpu:4.1f} s, "
                    f"{ours.accepted} delivered, {ours.duplicates} duplicates, {ours.limited} 429s"
                    f" (first to last post {ours.spread:4.1f} s); bare discord.py "
                    f"{bare.seconds:5.1f} s ({bare.seconds / bound:5.3f}), {bare.limited} 429s"
                )
        if "slack" in only:
            ours, bare = await slack_row(workdir)
            print(
                f"slack 2,000 channels: rankbot {ours.seconds:5.1f} s, CPU {ours.cpu:4.1f} s, "
                f"{ours.accepted} delivered, {ours.duplicates} duplicates, {ours.limited} 429s; "
                f"bare slack_sdk {bare.seconds:5.1f} s: ratio {ours.seconds / bare.seconds:4.2f}"
            )
        if "webhook" in only:
            bare = await bare_webhooks(2000)
            ours = await webhook_poll(workdir, 2000)
            ours_rate, bare_rate = ours.accepted / ours.seconds, bare.accepted / bare.seconds
            share = ours_rate / bare_rate
            print(
                f"poll --once to 2,000 webhooks: {ours.accepted} posts in {ours.seconds:5.2f} s "
                f"({ours_rate:6.0f}/s, CPU {ours.cpu:4.1f} s); bare httpx {bare_rate:6.0f}/s: "
                f"{share:4.0%} of it (goal ≥ 50 %: {shapes.verdict(share >= 0.5)})"
            )
            big = await webhook_poll(workdir, 5000)
            met = big.accepted == 5000 and not big.duplicates and not big.timeouts
            print(
                f"5,000 webhooks: {big.accepted} delivered in {big.seconds:5.1f} s (CPU "
                f"{big.cpu:4.1f} s), {big.duplicates} duplicates, {big.timeouts} timeouts (goal: "
                f"drained, 0, 0: {shapes.verdict(met)})"
            )
        if "hanging" in only:
            calm = await webhook_poll(workdir, 200, latency=LATENCY)
            stormy = await webhook_poll(workdir, 200, hang=18, latency=LATENCY)
            delay = stormy.spread - calm.spread
            print(
                f"200 healthy webhooks beside 18 that never answer: the last healthy post "
                f"arrives {stormy.spread:4.2f} s after the first, vs {calm.spread:4.2f} s "
                f"without them: delayed {delay:+.2f} s (goal ≤ 1 s: "
                f"{shapes.verdict(delay <= 1.0)}); {stormy.accepted} healthy delivered, "
                f"{stormy.timeouts} false timeouts"
            )
    default_pool().close()
    print(f"after the runs: {shapes.load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="discord,slack,webhook,hanging")
    asyncio.run(main(set(parser.parse_args().only.split(","))))
