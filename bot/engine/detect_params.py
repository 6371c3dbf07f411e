"""The detection thresholds of each period, from `[detect]`, the source and the subscriptions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.core.events import DetectParams
from bot.sources.base import Source
from bot.store.subscriptions import Subscriptions


def detect_params(
    detect: DetectParams, source: Source, subscriptions: Subscriptions
) -> Callable[[str], DetectParams]:
    """`[detect]`, with `confirm` per period when the source sets one (OpenRouter's
    `[source.confirm]`: its rolling week needs 2), a top-N stream for every N some
    subscription watches, and the smallest rank move and surge any subscription asked for
    (events below `[detect]`'s own thresholds reach only the channels that asked). A
    replayed history uses `[detect] confirm`, as `rankbot replay`.

    Read at every snapshot, so a subscription changed in chat applies from the next poll.
    """

    def params(period: str) -> DetectParams:
        extra = tuple(n for n in subscriptions.top_ns() if n != detect.top_n)
        confirm = source.confirm_for(period)
        filters = [s.filters for s in subscriptions.all()]
        moves = [f.min_move for f in filters if f.min_move is not None]
        changes = [f.min_change_pct for f in filters if f.min_change_pct is not None]
        return replace(
            detect,
            confirm=detect.confirm if confirm is None else confirm,
            extra_top_ns=extra,
            rank_move_floor=min(moves, default=None),
            surge_pct_floor=min(changes, default=None),
        )

    return params
