"""Read-only views of stored rankings (what `/top` shows), computed purely from snapshots."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.core.countries import CountryTable
from bot.core.model import Snapshot


@dataclass(frozen=True, slots=True)
class TopRow:
    rank: int
    model: str
    name: str
    author: str
    country: str
    tokens: int
    lower_bound: bool
    share: float | None
    previous_rank: int | None
    change_pct: float | None

    @property
    def move(self) -> int | None:
        return None if self.previous_rank is None else self.previous_rank - self.rank


@dataclass(frozen=True, slots=True)
class TopView:
    source: str
    period: str
    as_of: str
    n: int
    rows: tuple[TopRow, ...]
    total: int | None
    previous_as_of: str | None
    attribution: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows"] = [{**asdict(r), "move": r.move} for r in self.rows]
        return out


def top_view(
    current: Snapshot, previous: Snapshot | None, n: int, countries: CountryTable
) -> TopView:
    rows = []
    for entry in current.top(n):
        before = previous.get(entry.model) if previous is not None else None
        change = None
        if before is not None and before.tokens:
            change = (entry.tokens - before.tokens) / before.tokens * 100
        rows.append(
            TopRow(
                rank=entry.rank,
                model=entry.model,
                name=entry.name,
                author=entry.author,
                country=countries.for_entry(entry),
                tokens=entry.tokens,
                lower_bound=entry.lower_bound,
                share=current.share(entry),
                previous_rank=before.rank if before is not None else None,
                change_pct=change,
            )
        )
    return TopView(
        source=current.source,
        period=current.period,
        as_of=current.as_of.isoformat(),
        n=n,
        rows=tuple(rows),
        total=current.total,
        previous_as_of=previous.as_of.isoformat() if previous is not None else None,
        attribution=current.attribution,
    )
