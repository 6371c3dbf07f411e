"""The detection thresholds of each period, from `[detect]`, the source and the subscriptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.core.events import DetectParams
from bot.sources.base import Source
from bot.store.protocols import Subscriptions


def detect_params(
    detect: DetectParams, source: Source, subscriptions: Subscriptions
) -> Callable[[str], Awaitable[DetectParams]]:
    """`[detect]`, with `confirm` per period when the source sets one (OpenRouter's
    `[source.confirm]`: its rolling week needs 2), a top-N stream for every N some
    subscription watches, and the smallest rank move and surge any subscription asked for
    (events below `[detect]`'s own thresholds reach only the channels that asked). A
    replayed history uses `[detect] confirm`, as `rankbot replay`.

    Read at every snapshot, so a subscription changed in chat applies from the next poll
    (`Subscriptions.detection_asks` keeps the aggregate, not a scan per snapshot).
    """

    async def params(period: str) -> DetectParams:
        asks = await subscriptions.detection_asks()
        confirm = source.confirm_for(period)
        return replace(
            detect,
            confirm=detect.confirm if confirm is None else confirm,
            extra_top_ns=tuple(n for n in asks.top_ns if n != detect.top_n),
            rank_move_floor=asks.min_move,
            surge_pct_floor=asks.min_change_pct,
        )

    return params
