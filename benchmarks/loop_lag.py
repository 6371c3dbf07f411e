"""The event loop's worst lag while rankbot does its heaviest work.

A ticker task asks to wake every 10 ms and records how late it woke: the worst of those is
how long any command, interaction or delivery could have waited for the loop. Production
wiring throughout; measured during:

- the first-run backfill (a year of OpenRouter data fetched from the loopback Data API fake,
  the day/week/month history derived and stored), with `/top` asked every 100 ms meanwhile
  (its answer time is printed too: Discord gives an interaction 3 s);
- an alert with a chart: the busy day of `poll_cycle.py` for 1,000 channels on the
  year-sized store, its chart drawn, its posts delivered;
- one alert fanned out to 5,000 webhooks (`fanout.py`'s production wiring).

Goal (issue 12): worst lag ≤ 100 ms. The baseline is the ticker on an idle loop (the
machine's own jitter), measured in the same run.

Run: .venv/bin/python benchmarks/loop_lag.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import fanout, shapes
from bot import app
from bot.commands.execute import Services, execute
from bot.core.messages import Caller, ChannelRef, CommandContext, Message
from bot.delivery.sender import SendResult, SendStatus
from bot.render.chart_pool import default_pool

TICK = 0.01


class Ticker:
    """Wakes every `TICK` seconds and keeps the worst lateness."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.ticks = 0
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + TICK
            await asyncio.sleep(TICK)
            lag = loop.time() - due
            self.lags.append(lag)
            self.worst = max(self.worst, lag)
            self.ticks += 1

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.ensure_future(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def p99(self) -> float:
        """The 99th percentile: what a shared machine's own hiccups move less than the worst."""
        lags = sorted(self.lags)
        return lags[int(len(lags) * 0.99)] if lags else 0.0


class Accepting:
    async def send(
        self, channel: ChannelRef, message: Message, *, idempotency_key: str
    ) -> SendResult:
        await asyncio.sleep(0.005)
        return SendResult(SendStatus.SENT)


async def measured(work: Callable[[], Awaitable[object]]) -> tuple[Ticker, float]:
    """(the ticker, wall seconds) while `work` runs."""
    began = time.perf_counter()
    async with Ticker() as ticker:
        await work()
    return ticker, time.perf_counter() - began


async def idle() -> Ticker:
    async with Ticker() as ticker:
        await asyncio.sleep(2)
    return ticker


def lags(ticker: Ticker, base: Ticker | None = None) -> str:
    """The worst lag against the goal, and the 99th percentile."""
    worst = ticker.worst
    ratio = f" ×{worst / base.worst:.0f} idle;" if base is not None and base.worst else ""
    return (
        f"worst lag {worst * 1e3:.0f} ms ({ratio} goal ≤ 100 ms: {shapes.verdict(worst <= 0.1)}),"
        f" 99th percentile {ticker.p99() * 1e3:.0f} ms"
    )


async def backfill(tmp: Path) -> tuple[Ticker, float, float]:
    """(the ticker, seconds, slowest /top) during a first-run backfill."""
    path = tmp / "backfill.db.json"
    answers: list[float] = []
    with shapes.ApiServer() as api:
        config = shapes.bot_config(tmp, api.base_url)
        now = shapes.as_of_now(max(shapes.year_of_days()))
        async with app.open_database(path) as store:
            bot = await app.build_bot(
                config, store, app.build_source(config), {}, clock=shapes.MovingClock(now)
            )
            ctx = CommandContext(ChannelRef("discord", "G1", "1"), Caller("U1"), now)
            services = Services(store, config)
            done = asyncio.Event()

            async def ask_top() -> None:
                while not done.is_set():
                    t0 = time.perf_counter()
                    await execute("top 5", ctx, services)
                    answers.append(time.perf_counter() - t0)
                    await asyncio.sleep(0.1)

            async def run() -> None:
                asker = asyncio.ensure_future(ask_top())
                try:
                    await bot.poller.tick()
                finally:
                    done.set()
                    await asker

            lag, seconds = await measured(run)
            snapshots = await store.history.snapshot_count()
    assert snapshots > 1000, f"the backfill stored only {snapshots} snapshots"
    return lag, seconds, max(answers)


async def chart_alert(tmp: Path) -> tuple[Ticker, float]:
    base = tmp / "year.db.json"
    days = shapes.year_of_days()
    clock = shapes.MovingClock(shapes.as_of_now(max(days)))
    with shapes.ApiServer() as api:
        await shapes.build_year_store(base, api)
        config = shapes.bot_config(tmp, api.base_url)
        async with app.open_database(base) as store:
            await shapes.add_subscriptions(store, shapes.subscription_mix(1000, now=clock()))
            sender = Accepting()
            bot = await app.build_bot(
                config,
                store,
                app.build_source(config),
                {"slack": sender, "discord": sender},
                clock=clock,
            )
            await bot.poller.tick()
            news = shapes.busy_days(days)
            for day, rows in news[:-1]:
                api.publish(day, rows)
                clock.set(shapes.as_of_now(day))
                await app.one_cycle(bot)
            day, rows = news[-1]
            api.publish(day, rows)
            clock.set(shapes.as_of_now(day))
            return await measured(lambda: app.one_cycle(bot))


async def main() -> None:
    os.environ.setdefault("OPENROUTER_API_KEY", shapes.KEY)
    app.warm_charts()
    await asyncio.sleep(2)  # the chart worker is up, as in `rankbot run`
    print(f"worst event-loop lag (a {TICK * 1000:.0f} ms ticker); {shapes.load()}")
    base = await idle()
    print(
        f"idle loop: worst {base.worst * 1e3:.1f} ms, 99th percentile {base.p99() * 1e3:.1f} ms "
        "(the baseline: the machine's own jitter)"
    )
    with tempfile.TemporaryDirectory(prefix="rankbot-lag-") as tmp:
        workdir = Path(tmp)
        ticker, seconds, top = await backfill(workdir)
        print(
            f"first-run backfill ({seconds:.1f} s): {lags(ticker, base)}; "
            f"slowest /top meanwhile {top * 1e3:.0f} ms"
        )
        ticker, seconds = await chart_alert(workdir)
        print(f"an alert with a chart to 1,000 channels ({seconds:.1f} s): {lags(ticker, base)}")
        ticker = Ticker()
        run = await fanout.webhook_poll(workdir, 5000, around=lambda: ticker)
        print(f"one alert to 5,000 webhooks ({run.seconds:.1f} s): {lags(ticker, base)}")
    default_pool().close()
    print(f"after the runs: {shapes.load()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    asyncio.run(main())
