"""`rankbot demo`: the early-2026 story, told by the real bot to a console channel.

Nothing is simulated past the source: the bundled weekly history goes through the same poller,
store, detection, planner, outbox and delivery as live data, into a subscribed console
channel, and `/top 5` is answered by the same command core Slack and Discord use. Only the
clock of the data is the past; no tokens, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bot import app
from bot.cli.common import add_lang_option, config_from_args
from bot.clock import utcnow
from bot.commands.execute import Services, execute
from bot.config.file import Config
from bot.core.history_format import read_history
from bot.core.messages import Caller, ChannelRef, CommandContext
from bot.core.model import Snapshot
from bot.core.text import T
from bot.delivery.settings import DeliverySettings
from bot.engine.ingest import ingest
from bot.i18n import DEFAULT, say
from bot.i18n.formats import day
from bot.platforms.console import ConsoleSender
from bot.render.charts import KINDS, render_chart
from bot.render.templates import Renderer
from bot.sources.replay import ReplaySource
from bot.store.protocols import Store

CHANNEL = ChannelRef("console", "demo", "#llm-rankings")
SUBSCRIBE = "subscribe new_leader country_flip top_entry top_exit milestone new_model"
"""The default kinds plus `new_model`: the story is also one of new models arriving."""


def demo_history() -> list[Snapshot]:
    text = resources.files("bot").joinpath("data/demo-history.jsonl").read_text("utf-8")
    return list(read_history(text.splitlines(), name="demo-history.jsonl"))


async def run_demo(
    config: Config, out: TextIO, charts_dir: Path | None, lang: str = DEFAULT
) -> None:
    snapshots = demo_history()
    renderer = Renderer(config.templates_dir)
    now = utcnow()
    operator = CommandContext(CHANNEL, Caller("demo", "you", can_manage=True), now)
    intro = T(
        "rankbot demo: the weekly OpenRouter ranking of early 2026 (%(n)s weeks, figures "
        "reconstructed from public reporting), replayed\nthrough the real pipeline into the "
        "console channel %(channel)s.",
        n=len(snapshots),
        channel=CHANNEL.channel,
    )
    out.write(say(intro, lang) + "\n\n")
    with tempfile.TemporaryDirectory(prefix="rankbot-demo-") as tmp:
        async with app.open_database(Path(tmp) / "demo.db.json") as store:
            await _demo(store, snapshots, config, renderer, operator, out, charts_dir, lang)


async def _demo(
    store: Store,
    snapshots: list[Snapshot],
    config: Config,
    renderer: Renderer,
    operator: CommandContext,
    out: TextIO,
    charts_dir: Path | None,
    lang: str,
) -> None:
    subscribe = SUBSCRIBE if lang == DEFAULT else f"{SUBSCRIBE} lang={lang}"
    first, rest = snapshots[0], snapshots[1:]
    await ingest(store, first, params=config.detect, countries=config.countries)
    baseline = T("[week of %(day)s] stored as the silent baseline", day=_day(first, lang))
    out.write(say(baseline, lang) + "\n")
    services = Services(store, config)
    reply = await execute(subscribe, operator, services)
    out.write(f"> /rankbot {subscribe}\n{_indent(reply.text)}\n\n")
    bot = await app.build_bot(
        config,
        store,
        ReplaySource(rest, per_poll=1, interval=timedelta(0)),
        {"console": ConsoleSender(renderer, out)},
        settings=DeliverySettings(limits={}),
    )
    for snapshot in rest:
        out.write(say(T("[week of %(day)s]", day=_day(snapshot, lang)), lang) + "\n")
        report = await bot.poller.tick()
        await asyncio.gather(bot.charts.settle(), bot.delivery.run_until_idle())
        if report.events == 0:
            out.write("  " + say(T("(nothing worth an alert)"), lang) + "\n\n")
    for command in ("top 5", "countries"):
        answer = (await execute(command, replace(operator, lang=lang), services)).text
        out.write(f"> /{'' if command.startswith('top') else 'rankbot '}{command}\n")
        out.write(f"{_indent(answer)}\n\n")
    if charts_dir is not None:
        history = await store.history.snapshots(first.source, first.period)
        _write_charts(history, config, charts_dir, out, lang)


def _day(snapshot: Snapshot, lang: str) -> str:
    return day(snapshot.as_of, lang)


def _write_charts(
    history: list[Snapshot], config: Config, where: Path, out: TextIO, lang: str
) -> None:
    where.mkdir(parents=True, exist_ok=True)
    out.write("\n" + say(T("Charts of the same history:"), lang) + "\n")
    suffix = "" if lang == DEFAULT else f"-{lang}"
    for kind in KINDS:
        path = where / f"{kind}{suffix}.png"
        path.write_bytes(render_chart(kind, history, countries=config.countries, lang=lang))
        out.write(f"  {path}\n")


def _indent(text: str) -> str:
    return "\n".join(("  " + line) if line else "" for line in text.splitlines())


def cmd_demo(args: argparse.Namespace) -> int:
    charts = None if args.no_charts else Path(args.charts_dir)
    asyncio.run(run_demo(config_from_args(args), sys.stdout, charts, args.lang))
    return 0


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `demo` to the `rankbot` parser."""
    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="replay the early-2026 story into a console channel (no tokens, no network)",
        description="Replay the bundled early-2026 weekly history and show the alerts a "
        "channel would receive, then what `/top 5` answers.",
    )
    demo.add_argument(
        "--charts-dir",
        metavar="DIR",
        default="rankbot-demo",
        help="where the demo writes its charts (default: ./rankbot-demo)",
    )
    demo.add_argument("--no-charts", action="store_true", help="write no chart files")
    add_lang_option(demo)
    demo.set_defaults(handler=cmd_demo)
