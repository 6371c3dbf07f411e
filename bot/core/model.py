"""The snapshot model: one reading of a ranking, validated once at the edge.

Everything downstream (detection, rendering, the store) trusts a `Snapshot`, so all checks
live in `Snapshot.create`; a bad reading is rejected here with an error naming the entry,
before it can produce a single alert.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.errors import UsageError

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
WINDOW_DAYS: Mapping[str, int] = {"day": 1, "week": 7, "month": 30}
"""Days a snapshot of each period covers, ending on its `as_of` (the last day covered): the
live source's rolling windows, and how a history file's snapshots are read too."""


class SnapshotError(UsageError, ValueError):
    """A reading that must not be stored: the message names the offending entry or field."""


def author_of(model: str) -> str:
    """The author slug of a model id: the part before `/`, lower-cased, without `:variant`."""
    head = model.split("/", 1)[0] if "/" in model else model
    return head.split(":", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Entry:
    """One model's figure in a snapshot; `rank` is implied by tokens (ties by model id)."""

    model: str
    name: str
    author: str
    tokens: int
    rank: int
    country: str | None = None
    lower_bound: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "name": self.name,
            "author": self.author,
            "tokens": self.tokens,
        }
        if self.country is not None:
            out["country"] = self.country
        if self.lower_bound:
            out["lower_bound"] = True
        return out


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A validated, ranked reading of one source for one period and date."""

    source: str
    period: Period
    as_of: date
    fetched_at: datetime | None
    entries: tuple[Entry, ...]
    total: int | None = None
    attribution: str | None = None
    _by_model: Mapping[str, Entry] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        *,
        source: object,
        period: str,
        as_of: date | str,
        entries: Iterable[Mapping[str, Any]],
        fetched_at: datetime | str | None = None,
        total: Any = None,
        attribution: str | None = None,
    ) -> Snapshot:
        """Validate raw fields and rank the entries; raise `SnapshotError` on anything suspect."""
        if not isinstance(source, str) or not source.strip():
            raise SnapshotError("snapshot: 'source' must be a non-empty string")
        if period not in PERIODS:
            raise SnapshotError(
                f"snapshot: 'period' must be one of {', '.join(PERIODS)}, got {period!r}"
            )
        as_of_date = _parse_date(as_of, "as_of")
        fetched = _parse_datetime(fetched_at) if fetched_at is not None else None
        parsed: list[tuple[str, str, str, int, str | None, bool]] = []
        seen: set[str] = set()
        for index, raw in enumerate(entries, start=1):
            where = f"entry {index}"
            if not isinstance(raw, Mapping):
                raise SnapshotError(f"{where}: expected an object, got {type(raw).__name__}")
            model = raw.get("model")
            if not isinstance(model, str) or not model.strip():
                raise SnapshotError(f"{where}: 'model' must be a non-empty string")
            model = model.strip()
            where = f"entry {index} ({model})"
            if model in seen:
                raise SnapshotError(f"{where}: duplicate model")
            seen.add(model)
            tokens = _parse_tokens(raw.get("tokens"), where)
            name = raw.get("name") or model
            if not isinstance(name, str):
                raise SnapshotError(f"{where}: 'name' must be a string")
            author = raw.get("author") or author_of(model)
            if not isinstance(author, str):
                raise SnapshotError(f"{where}: 'author' must be a string")
            country = raw.get("country")
            if country is not None and not isinstance(country, str):
                raise SnapshotError(f"{where}: 'country' must be a string")
            parsed.append((model, name, author, tokens, country, bool(raw.get("lower_bound"))))
        if not parsed:
            raise SnapshotError("snapshot: no entries (an empty ranking is never stored)")
        parsed.sort(key=lambda p: (-p[3], p[0]))
        ranked = tuple(
            Entry(model=m, name=n, author=a, tokens=t, rank=i, country=c, lower_bound=lb)
            for i, (m, n, a, t, c, lb) in enumerate(parsed, start=1)
        )
        total_tokens = None
        if total is not None:
            total_tokens = _parse_tokens(total, "snapshot 'total'")
            listed = sum(e.tokens for e in ranked)
            if total_tokens < listed:
                raise SnapshotError(
                    f"snapshot 'total': {total_tokens} is less than the entries' sum {listed}"
                )
        return cls(
            source=source.strip(),
            period=period,
            as_of=as_of_date,
            fetched_at=fetched,
            entries=ranked,
            total=total_tokens,
            attribution=attribution,
            _by_model={e.model: e for e in ranked},
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        """Build from the JSON Lines / store form (see README, "History format")."""
        if not isinstance(data, Mapping):
            raise SnapshotError(f"snapshot: expected an object, got {type(data).__name__}")
        if "as_of" not in data:
            raise SnapshotError("snapshot: missing 'as_of'")
        entries = data.get("entries")
        if not isinstance(entries, list):
            raise SnapshotError("snapshot: 'entries' must be a list")
        return cls.create(
            source=data.get("source", "openrouter"),
            period=data.get("period", "week"),
            as_of=data["as_of"],
            entries=entries,
            fetched_at=data.get("fetched_at"),
            total=data.get("total"),
            attribution=data.get("attribution"),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "entries": [e.to_dict() for e in self.entries],
        }
        if self.fetched_at is not None:
            out["fetched_at"] = self.fetched_at.isoformat()
        if self.total is not None:
            out["total"] = self.total
        if self.attribution is not None:
            out["attribution"] = self.attribution
        return out

    def content_hash(self) -> str:
        """Identity of what the snapshot says, ignoring when it was fetched."""
        body = self.to_dict()
        body.pop("fetched_at", None)
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(raw).hexdigest()

    def get(self, model: str) -> Entry | None:
        return self._by_model.get(model)

    @property
    def leader(self) -> Entry:
        return self.entries[0]

    def top(self, n: int) -> tuple[Entry, ...]:
        return self.entries[:n]

    @property
    def listed_total(self) -> int:
        return sum(e.tokens for e in self.entries)

    def share(self, entry: Entry) -> float | None:
        """An entry's share of the platform total, or of the listed entries when no total."""
        base = self.total or self.listed_total
        return entry.tokens / base if base else None


def _parse_tokens(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise SnapshotError(f"{where}: 'tokens' must be an integer, got {value!r}")
    if isinstance(value, int):
        tokens = value
    elif isinstance(value, float) and value.is_integer():
        tokens = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        tokens = int(value.strip())
    else:
        raise SnapshotError(f"{where}: 'tokens' must be a non-negative integer, got {value!r}")
    if tokens < 0:
        raise SnapshotError(f"{where}: 'tokens' must be non-negative, got {tokens}")
    return tokens


def _parse_date(value: date | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise SnapshotError(f"snapshot: {name!r} must be a date like 2026-02-09, got {value!r}")


def _parse_datetime(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise SnapshotError(f"snapshot: 'fetched_at' must be an ISO timestamp, got {value!r}")
