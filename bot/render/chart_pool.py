"""Charts drawn in a worker process, so the bot's event loop never waits for matplotlib.

Why a process and not a thread: a draw is 100-200 ms of pure Python and C holding the GIL
(plus most of a second to import matplotlib and load fonts the first time), so in a thread
it stalls the event loop almost as much as inline: Discord's 3 s deadline and every delivery
wait behind it. A process has its own GIL. The pool has one worker, started once (`warm()`
at bot start-up imports matplotlib there ahead of the first alert) and reused; what crosses
the process boundary is small (a few dozen snapshots in, a PNG out).

A worker that dies (killed, out of memory) is replaced on the next draw; the draw it was doing
raises `ChartUnavailable`, and a draw that takes longer than `DRAW_TIMEOUT_SECONDS` too: the
caller posts the alert without its picture rather than never.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.core.countries import CountryTable
from bot.core.model import Snapshot
from bot.i18n import DEFAULT
from bot.render.charts import DEFAULT_WEEKS, ChartError, render_chart

DRAW_TIMEOUT_SECONDS = 60.0
"""A draw normally takes 0.1-0.2 s; one this slow is stuck."""


class ChartUnavailable(ChartError):
    """The chart worker died or hung: an alert goes without its chart, a `chart` command
    answers that it could not draw."""


PARENT_CHECK_SECONDS = 1.0


def _exit_with_parent(parent: int) -> None:
    """Runs in the worker as it starts: a thread that ends the worker once the bot that
    started it is gone. A bot killed with SIGKILL cannot shut its pool down, and a spawned
    worker holds both ends of its own pipes, so it never reads end-of-file: without this it
    stayed behind for good, one orphan per crash."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="rankbot-chart-parent-watch", daemon=True).start()


def _warm() -> int:
    """Runs in the worker: import matplotlib and draw nothing, so the first real chart is fast."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    Figure()
    return os.getpid()


def _draw(
    kind: str,
    snapshots: Sequence[Snapshot],
    n: int | None,
    weeks: int,
    countries: CountryTable,
    lang: str,
) -> bytes:
    return render_chart(kind, snapshots, n=n, weeks=weeks, countries=countries, lang=lang)


class ChartPool:
    """One worker process drawing charts (see the module docstring)."""

    def __init__(self) -> None:
        self._executor: ProcessPoolExecutor | None = None
        self._warming: Future[int] | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the bot has threads (the store's journal writer), and a forked
            # child inherits their locks in whatever state they were.
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    def warm(self) -> None:
        """Start the worker and import matplotlib in it now, not at the first alert."""
        if self._warming is None:
            self._warming = self._pool().submit(_warm)

    def worker_pids(self) -> list[int]:
        """The worker processes (benchmarks add their CPU time to the bot's)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return [int(pid) for pid in processes]

    async def draw(
        self,
        kind: str,
        snapshots: Sequence[Snapshot],
        *,
        n: int | None,
        weeks: int,
        countries: CountryTable,
        lang: str = DEFAULT,
    ) -> bytes:
        """The PNG `bot.render.charts.render_chart` would return, drawn in the worker;
        its `ChartError`s come back as they are."""
        try:
            future = self._pool().submit(_draw, kind, list(snapshots), n, weeks, countries, lang)
            return await asyncio.wait_for(asyncio.wrap_future(future), DRAW_TIMEOUT_SECONDS)
        except (BrokenProcessPool, TimeoutError) as exc:
            self.close()
            raise ChartUnavailable(f"the chart worker failed ({type(exc).__name__})") from None

    def close(self) -> None:
        executor, self._executor, self._warming = self._executor, None, None
        if executor is not None:
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()
            executor.shutdown(wait=False, cancel_futures=True)


async def render_chart_async(
    kind: str,
    snapshots: Sequence[Snapshot],
    *,
    n: int | None = None,
    weeks: int = DEFAULT_WEEKS,
    countries: CountryTable,
    lang: str = DEFAULT,
) -> bytes:
    """`bot.render.charts.render_chart`, drawn in the process's chart worker."""
    return await default_pool().draw(
        kind, snapshots, n=n, weeks=weeks, countries=countries, lang=lang
    )


_DEFAULT: ChartPool | None = None


def default_pool() -> ChartPool:
    """The process's chart pool (one worker for the whole bot)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ChartPool()
    return _DEFAULT
