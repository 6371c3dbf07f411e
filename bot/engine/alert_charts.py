"""Alert charts: drawn after the poll's transaction, off the event loop, never lost.

The planner decides which post carries which chart (`ChartSpec`: a new #1 the trend, a
country flip the shares) and the poller stores the post with it, marked as waiting for its
picture, in the poll's one transaction. Drawing happens afterwards, in the chart worker
process (`bot.render.chart_pool`), so neither the transaction nor the event loop waits for
matplotlib; delivery holds a waiting post back until `Outbox.attach_chart` gives it the PNG
(every post waiting for the same chart gets the same bytes). A chart that cannot be drawn is
attached as "none": the alert goes without it, as before. A process that dies between the
commit and the drawing leaves the posts waiting; `resume()` at start-up draws them again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bot.core.countries import CountryTable
from bot.core.messages import Attachment
from bot.core.model import Snapshot
from bot.render.chart_attachments import chart_attachment
from bot.render.chart_pool import render_chart_async
from bot.render.charts import DEFAULT_WEEKS, KINDS, NotEnoughHistory
from bot.store.protocols import ChartSpec, Store

log = logging.getLogger("rankbot.charts")

Draw = Callable[[str, Sequence[Snapshot], CountryTable, str], Awaitable[bytes]]
"""Draws one chart kind from a stream's history, in a language (the default: the chart worker
process)."""


async def draw_in_worker(
    kind: str, history: Sequence[Snapshot], countries: CountryTable, lang: str
) -> bytes:
    return await render_chart_async(kind, history, countries=countries, lang=lang)


class AlertCharts:
    """Draws the charts stored posts wait for and attaches them; `on_attached` is told
    (delivery's `kick`) each time posts stopped waiting."""

    def __init__(
        self,
        store: Store,
        countries: CountryTable,
        *,
        draw: Draw = draw_in_worker,
        on_attached: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._countries = countries
        self._draw = draw
        self.on_attached = on_attached
        self._drawing: dict[str, asyncio.Task[None]] = {}

    def start(self, charts: Iterable[ChartSpec]) -> None:
        """Draw these (each once, however many posts wait for it) in background tasks."""
        for chart in charts:
            if chart.key not in self._drawing:
                task = asyncio.ensure_future(self._attach(chart))
                self._drawing[chart.key] = task
                task.add_done_callback(functools.partial(self._drawn, chart.key))

    def _drawn(self, key: str, task: asyncio.Task[None]) -> None:
        self._drawing.pop(key, None)

    async def resume(self) -> None:
        """Draw what posts stored before a crash or restart still wait for."""
        self.start(await self._store.outbox.charts_pending())

    @property
    def busy(self) -> bool:
        return bool(self._drawing)

    async def settle(self) -> None:
        """Wait until every chart started so far is attached (or given up)."""
        while self._drawing:
            await asyncio.gather(*self._drawing.values())

    async def _attach(self, chart: ChartSpec) -> None:
        attachment = await self._picture(chart)
        await self._store.outbox.attach_chart(chart, attachment)
        self.on_attached()

    async def _picture(self, chart: ChartSpec) -> Attachment | None:
        history = await self._store.history.snapshots(
            chart.source, chart.period, last=DEFAULT_WEEKS, until=chart.as_of
        )
        if chart.kind not in KINDS:
            return None
        try:
            png = await self._draw(chart.kind, history, self._countries, chart.lang)
        except NotEnoughHistory:
            return None
        except Exception:  # a picture must never cost the alert
            log.exception("chart %s failed; the alert goes without it", chart.key)
            return None
        return chart_attachment(
            chart.kind, history, png, countries=self._countries, lang=chart.lang
        )
