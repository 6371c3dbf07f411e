"""The snapshot model: one reading of a ranking, validated once at the edge.

Everything downstream (detection, rendering, the store) trusts a `Snapshot`, so all checks
live in `Snapshot.create`; a bad reading is rejected here with an error naming the entry,
before it can produce a single alert.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.core.iso3166 import is_country_code
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
        source_text = plain_text(source, "snapshot 'source'", MAX_SOURCE)
        if period not in PERIODS:
            raise SnapshotError(
                f"snapshot: 'period' must be one of {', '.join(PERIODS)}, got {period!r}"
            )
        as_of_date = _parse_date(as_of, "as_of")
        fetched = _parse_datetime(fetched_at) if fetched_at is not None else None
        if attribution is not None:
            attribution = plain_text(attribution, "snapshot 'attribution'", MAX_ATTRIBUTION)
        parsed: list[tuple[str, str, str, int, str | None, bool]] = []
        seen: set[str] = set()
        for index, raw in enumerate(entries, start=1):
            if index > MAX_ENTRIES:
                raise SnapshotError(f"snapshot: more than {MAX_ENTRIES} entries")
            if not isinstance(raw, Mapping):
                raise SnapshotError(f"entry {index}: expected an object, got {type(raw).__name__}")
            model, name, author = _identity(index, raw)
            if model in seen:
                raise SnapshotError(f"entry {index} ({model}): duplicate model")
            seen.add(model)
            tokens = raw.get("tokens")
            if type(tokens) is not int or not 0 <= tokens <= MAX_TOKENS:
                tokens = _parse_tokens(tokens, f"entry {index} ({model}) 'tokens'")
            country = raw.get("country")
            if country is not None:
                country = _parse_country(country, f"entry {index} ({model})")
            lower_bound = raw.get("lower_bound", False)
            if lower_bound is not True and lower_bound is not False:
                raise SnapshotError(
                    f"entry {index} ({model}): 'lower_bound' must be true or false, "
                    f"got {lower_bound!r}"
                )
            parsed.append((model, name, author, tokens, country, lower_bound))
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
            source=source_text,
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
        """Build from the JSON Lines / store form (docs/history-format.md)."""
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

    def content_hash(self, as_dict: Mapping[str, Any] | None = None) -> str:
        """Identity of what the snapshot says, ignoring when it was fetched; `as_dict` is its
        `to_dict()` when the caller made it already (a store keeps both)."""
        body = dict(as_dict) if as_dict is not None else self.to_dict()
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


MAX_TOKENS = 9_223_372_036_854_775_807  # 2**63 - 1
"""Token figures are exact integers up to 64 bits: more than a million years of today's
global volume, and still a number every renderer and database can hold."""
MAX_ENTRIES = 10_000
MAX_SOURCE = 64
MAX_ID = 200
MAX_NAME = 200
MAX_ATTRIBUTION = 500
_ASCII_DIGITS = frozenset("0123456789")


_IDENTITIES: dict[tuple[Any, Any, Any], tuple[str, str, str]] = {}
"""Entry identities already validated (model, name, author as given → as stored): a poll
derives its windows from the same few hundred models every day, and checking each string
character by character again was a quarter of building a snapshot. Bounded: cleared when
full (`_IDENTITIES_KEPT`)."""
_IDENTITIES_KEPT = 20_000


def _identity(index: int, raw: Mapping[str, Any]) -> tuple[str, str, str]:
    """An entry's model id, display name and author, validated (or known valid already)."""
    model, name, author = raw.get("model"), raw.get("name"), raw.get("author")
    key = (model, name, author)
    try:
        known = _IDENTITIES.get(key)
    except TypeError:  # an unhashable value (a list where a string belongs): not cacheable
        known, cacheable = None, False
    else:
        cacheable = True
    if known is not None:
        return known
    model = plain_text(model, f"entry {index} 'model'", MAX_ID)
    where = f"entry {index} ({model})"
    name = plain_text(name or model, f"{where} 'name'", MAX_NAME)
    author = plain_text(author or author_of(model), f"{where} 'author'", MAX_ID)
    if cacheable:
        if len(_IDENTITIES) >= _IDENTITIES_KEPT:
            _IDENTITIES.clear()
        _IDENTITIES[key] = (model, name, author)
    return model, name, author


def _parse_tokens(value: Any, where: str) -> int:
    """A non-negative integer of at most 64 bits: a JSON integer, an integral float, or a
    string of ASCII digits only (no sign, no spaces, no other script's digits)."""
    tokens: int | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        tokens = value
    elif _integral_float(value) or _ascii_digits(value):
        tokens = int(value)
    if tokens is None or not 0 <= tokens <= MAX_TOKENS:
        shown = (
            repr(value)
            if not isinstance(value, str | int) or len(str(value)) <= 40
            else (f"a number of {len(str(value))} digits")
        )
        raise SnapshotError(
            f"{where}: must be a whole number from 0 to {MAX_TOKENS} (digits only), got {shown}"
        )
    return tokens


def _integral_float(value: Any) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _ascii_digits(value: Any) -> bool:
    """Digits 0-9 only, and few enough that `int()` is cheap and within 64 bits' length."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= len(str(MAX_TOKENS))
        and set(value) <= _ASCII_DIGITS
    )


def plain_text(value: Any, where: str, limit: int, *, spaces: bool = True) -> str:
    """A non-empty single-line string of at most `limit` characters, without control
    characters (they would reach chat messages and logs as they are)."""
    if not isinstance(value, str) or not value.strip():
        raise SnapshotError(f"{where}: must be a non-empty string")
    text = value.strip()
    if len(text) > limit:
        raise SnapshotError(f"{where}: longer than {limit} characters ({len(text)})")
    # printable text has no control (or format) character: skip the per-character look-up
    printable = text.isprintable()
    bad = None if printable else next((c for c in text if unicodedata.category(c)[0] == "C"), None)
    if bad is not None:
        raise SnapshotError(f"{where}: contains the control character U+{ord(bad):04X}")
    # printable text holds no space but U+0020 (other spaces are separators, not printable)
    if not spaces and (" " in text or (not printable and any(c.isspace() for c in text))):
        raise SnapshotError(f"{where}: must not contain spaces, got {text!r}")
    return text


def _parse_country(value: Any, where: str) -> str | None:
    """An entry's own country: an assigned ISO 3166-1 alpha-2 code, or `unknown`."""
    if value is None:
        return None
    if isinstance(value, str) and (value.lower() == "unknown" or is_country_code(value)):
        return "unknown" if value.lower() == "unknown" else value.upper()
    raise SnapshotError(
        f'{where}: \'country\' must be an ISO 3166 alpha-2 code like "US" or "unknown", '
        f"got {value!r}"
    )


def _parse_date(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "…"
    raise SnapshotError(f"snapshot: {name!r} must be a date like 2026-02-09, got {shown}")


def _parse_datetime(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise SnapshotError(f"snapshot: 'fetched_at' must be an ISO timestamp, got {value!r}")
