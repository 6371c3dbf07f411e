"""One poll cycle with 10,000 subscriptions on PostgreSQL, on a quiet day (and a busy one).

The shapes and the cycle of `poll_cycle.py` (issue 12), with the store on PostgreSQL: a year of
daily OpenRouter data (50 models a day, day/week/month snapshots) backfilled through the real
`OpenRouterSource` and poller into a TinyDB file, moved to PostgreSQL with `rankbot db
migrate`'s code (`bot.store.moving`), then N subscriptions (`shapes.subscription_mix`). The
cycle measured is `Poller.tick()` plus the alert charts, production wiring, on the real clock.

CPU is measured as in issue 12: the whole rankbot process (every thread) plus the chart worker.
PostgreSQL's own CPU for the cycle (its server processes, read from /proc) is printed beside
it, not added: it runs on the database's machine. The baseline of each row is the same cycle
on TinyDB in the same run. Goal (issue 16): quiet day ≤ 100 ms at 10,000 subscriptions.

Run: .venv/bin/python benchmarks/pg_poll_cycle.py [--counts 1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import shapes
from bot import app
from bot.config.database import DatabaseUrl, Location
from bot.render.chart_pool import default_pool
from bot.store import moving
from bot.store.postgres import PgStore, migrate_schema
from tests.fakes import postgres


@dataclass
class Cycle:
    backend: str
    subscriptions: int
    kind: str
    cpu: float
    wall: float
    database_cpu: float
    posts: int
    events: int


async def cycle(
    where: Location, count: int, kind: str, server: postgres.PostgresServer, workdir: Path
) -> Cycle:
    with shapes.ApiServer() as api:
        config = shapes.bot_config(workdir, api.base_url)
        async with app.open_database(where) as store:
            clock = shapes.MovingClock(datetime.now(UTC))
            bot = await shapes.bot_on_the_eve(store, config, api, count, kind, clock)
            pids = default_pool().worker_pids()
            database = server.pids() if isinstance(where, DatabaseUrl) else []
            db0 = shapes.children_cpu(database)
            meter = shapes.Meter(pids)
            with meter:
                report = await bot.poller.tick()
                await bot.charts.settle()
            db_cpu = shapes.children_cpu(server.pids()) - db0 if database else 0.0
    backend = "postgres" if isinstance(where, DatabaseUrl) else "tinydb"
    return Cycle(
        backend, count, kind, meter.cpu, meter.wall, db_cpu, report.enqueued, report.events
    )


async def main(counts: list[int], repeat: int) -> None:
    server = postgres.start_server()
    if server is None:
        sys.exit(postgres.SKIP_REASON)
    app.warm_charts()
    try:
        with tempfile.TemporaryDirectory(prefix="rankbot-bench-") as tmp:
            workdir = Path(tmp)
            base = workdir / "year.db.json"
            with shapes.ApiServer() as api:
                took = await shapes.build_year_store(base, api)
            print(
                f"year store: {shapes.DAYS} days × 50 models, backfilled in {took:.1f} s; "
                f"{shapes.load()}"
            )
            print(f"each figure: median of {repeat} cycles; rankbot CPU = every thread + chart "
                  "worker; PostgreSQL's server CPU beside it")  # fmt: skip
            n = 0
            for kind in ("quiet", "busy"):
                for count in counts:
                    results = {}
                    for backend in ("tinydb", "postgres"):
                        runs = []
                        for _ in range(repeat):
                            n += 1
                            where: Location
                            if backend == "tinydb":
                                where = workdir / f"run-{n}.db.json"
                                shapes.copy_store(base, where)
                            else:
                                url = server.create_database(f"run_{n}")
                                await migrate_schema(url)
                                async with await PgStore.open(url) as pg:
                                    await moving.tiny_to_postgres(base, pg)
                                where = DatabaseUrl(url)
                            runs.append(await cycle(where, count, kind, server, workdir))
                        runs.sort(key=lambda c: c.cpu)
                        results[backend] = runs[len(runs) // 2]
                    tiny, pg = results["tinydb"], results["postgres"]
                    goal = ""
                    if kind == "quiet" and count >= 10_000:
                        goal = f"; goal ≤ 100 ms: {shapes.verdict(pg.cpu <= 0.1)}"
                    print(
                        f"{kind:5} {count:6,} subscriptions: PostgreSQL CPU {pg.cpu * 1e3:7.1f} "
                        f"ms (server {pg.database_cpu * 1e3:6.1f} ms), wall {pg.wall * 1e3:7.1f} "
                        f"ms; TinyDB CPU {tiny.cpu * 1e3:7.1f} ms, wall {tiny.wall * 1e3:7.1f} "
                        f"ms; ×{pg.cpu / tiny.cpu:4.1f} TinyDB; {pg.events} events, {pg.posts:,} "
                        f"posts{goal}"
                    )
            print(f"after the runs: {shapes.load()}")
    finally:
        default_pool().close()
        postgres.stop_server(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OPENROUTER_API_KEY", shapes.KEY)
    asyncio.run(main([int(c) for c in args.counts.split(",")], args.repeat))
