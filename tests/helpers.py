"""Small builders shared by the tests: snapshots from (model, tokens) pairs."""

from __future__ import annotations

from bot.core.model import Snapshot


def snap(
    as_of: str,
    figures: dict[str, int] | list[tuple[str, int]],
    *,
    period: str = "week",
    source: str = "openrouter",
    total: int | None = None,
    attribution: str | None = None,
) -> Snapshot:
    items = figures.items() if isinstance(figures, dict) else figures
    return Snapshot.create(
        source=source,
        period=period,
        as_of=as_of,
        entries=[{"model": m, "tokens": t} for m, t in items],
        total=total,
        attribution=attribution,
    )
