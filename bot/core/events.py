"""Event detection: a pure state machine over successive snapshots of one source and period.

Why a state machine and not a plain diff of two snapshots: with `confirm` > 1 (rolling windows
that wobble day to day) a change is only announced once it held in that many consecutive
snapshots, and it is compared against what was last *announced*, not against the previous
reading. A model that sits at #10/#11 and flips every poll therefore never produces an
enter/leave pair it did not confirm. With `confirm` = 1 every rule reduces to "previous
snapshot versus current".

`detect(state, previous, current, ...)` returns the events of `current` and the state to keep;
`state is None` marks the first snapshot ever stored, a silent baseline.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.core.countries import CountryTable, balance
from bot.core.model import Entry, Snapshot

KINDS: tuple[str, ...] = (
    "new_leader",
    "country_flip",
    "top_entry",
    "top_exit",
    "milestone",
    "rank_change",
    "surge",
    "drop",
    "new_model",
)
"""Every event kind, most important first: the order events of one snapshot come out in."""

_IMPORTANCE = {kind: i for i, kind in enumerate(KINDS)}

DEFAULT_MILESTONES: tuple[int, ...] = (
    1_000_000_000_000,
    2_000_000_000_000,
    5_000_000_000_000,
    10_000_000_000_000,
)


@dataclass(frozen=True, slots=True)
class DetectParams:
    """Detection thresholds. The pipeline passes the loosest values any subscriber needs, so
    that each subscription can then filter with its own (a channel watching the top 5 and one
    watching the top 20 both get their top-N entries from the same detection)."""

    top_n: int = 10
    extra_top_ns: tuple[int, ...] = ()
    rank_move: int = 3
    surge_pct: float = 50.0
    milestones: tuple[int, ...] = DEFAULT_MILESTONES
    confirm: int = 1
    rank_move_floor: int | None = None
    """The smallest move some subscriber asked for, when below `rank_move`: such moves are
    detected too, marked `below_default`, and only channels that asked for them get them."""
    surge_pct_floor: float | None = None
    """Likewise for surges and drops below `surge_pct`."""

    def __post_init__(self) -> None:
        for n in (self.top_n, *self.extra_top_ns):
            if not 1 <= n <= 50:
                raise ValueError(f"top_n must be between 1 and 50, got {n}")
        if self.rank_move < 1:
            raise ValueError(f"rank_move must be at least 1, got {self.rank_move}")
        if self.surge_pct <= 0:
            raise ValueError(f"surge_pct must be positive, got {self.surge_pct}")
        if self.confirm < 1:
            raise ValueError(f"confirm must be at least 1, got {self.confirm}")
        if any(m <= 0 for m in self.milestones):
            raise ValueError("milestones must be positive token counts")

    @property
    def loosest_rank_move(self) -> int:
        return min(self.rank_move, self.rank_move_floor or self.rank_move)

    @property
    def loosest_surge_pct(self) -> float:
        return min(self.surge_pct, self.surge_pct_floor or self.surge_pct)

    @property
    def top_ns(self) -> tuple[int, ...]:
        return tuple(sorted({self.top_n, *self.extra_top_ns}))


@dataclass(frozen=True, slots=True)
class Event:
    """Something worth telling a channel; `key` is stable across restarts (used for dedup)."""

    kind: str
    source: str
    period: str
    as_of: date
    subject: str
    fields: Mapping[str, Any]
    attribution: str | None = None
    key: str = field(init=False, repr=False, compare=False)
    """`kind:source:period:as_of:subject`: made once, since planning, grouping and the store
    ask for it per channel."""

    def __post_init__(self) -> None:
        key = f"{self.kind}:{self.source}:{self.period}:{self.as_of.isoformat()}:{self.subject}"
        object.__setattr__(self, "key", key)

    @property
    def importance(self) -> int:
        return _IMPORTANCE[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "source": self.source,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "subject": self.subject,
            **self.fields,
            "attribution": self.attribution,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        reserved = {"kind", "key", "source", "period", "as_of", "subject", "attribution"}
        return cls(
            kind=data["kind"],
            source=data["source"],
            period=data["period"],
            as_of=date.fromisoformat(data["as_of"]),
            subject=data["subject"],
            fields={k: v for k, v in data.items() if k not in reserved},
            attribution=data.get("attribution"),
        )


@dataclass(frozen=True, slots=True)
class DetectorState:
    """What was last announced (or established at baseline) for one source and period.

    `pending` counts consecutive snapshots in which a not-yet-announced change held:
    key → [value, count]. Only keys seen in the latest snapshot survive, which is what makes
    the count *consecutive*.
    """

    leader: str
    country: str | None
    top: Mapping[str, Mapping[str, bool]]
    coverage: int
    ranks: Mapping[str, int]
    tokens: Mapping[str, int]
    milestones: Mapping[str, int]
    pending: Mapping[str, list[Any]] = field(default_factory=dict)
    milestones_complete: bool = True
    """False for states written before milestones were taken from the whole history (they
    knew only the newest snapshot's): the pipeline rebuilds those once from the store."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "leader": self.leader,
            "country": self.country,
            "top": {n: dict(members) for n, members in self.top.items()},
            "coverage": self.coverage,
            "ranks": dict(self.ranks),
            "tokens": dict(self.tokens),
            "milestones": dict(self.milestones),
            "pending": {k: list(v) for k, v in self.pending.items()},
            "milestones_complete": self.milestones_complete,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetectorState:
        return cls(
            leader=data["leader"],
            country=data.get("country"),
            top={n: dict(members) for n, members in data["top"].items()},
            coverage=int(data["coverage"]),
            ranks=dict(data["ranks"]),
            tokens=dict(data["tokens"]),
            milestones=dict(data["milestones"]),
            pending={k: list(v) for k, v in data.get("pending", {}).items()},
            milestones_complete=bool(data.get("milestones_complete", False)),
        )


def membership(snapshot: Snapshot, model: str, top_n: int) -> bool | None:
    """Is `model` in the top N of `snapshot`? None when the snapshot did not cover enough ranks."""
    entry = snapshot.get(model)
    if entry is not None:
        return entry.rank <= top_n
    return False if len(snapshot.entries) >= top_n else None


def _members(snapshot: Snapshot, n: int) -> dict[str, bool]:
    return {e.model: e.rank <= n for e in snapshot.entries}


def _milestone_reached(tokens: int, thresholds: tuple[int, ...]) -> int:
    return max((t for t in thresholds if tokens >= t), default=0)


def milestones_reached(
    snapshots: Iterable[Snapshot],
    thresholds: tuple[int, ...],
    already: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """The highest threshold each model reached in any of `snapshots` (or in `already`).

    A silent baseline must remember every milestone its history holds, not only the newest
    snapshot's: a model that passed 1T months ago and dips below has passed 1T, and crossing
    again is not news.
    """
    reached = dict(already or {})
    for snapshot in snapshots:
        for entry in snapshot.entries:
            level = _milestone_reached(entry.tokens, thresholds)
            if level > reached.get(entry.model, 0):
                reached[entry.model] = level
    return reached


def baseline(
    current: Snapshot,
    params: DetectParams,
    countries: CountryTable,
    *,
    history: Iterable[Snapshot] = (),
    milestones: Mapping[str, int] | None = None,
) -> DetectorState:
    """The state after a silent baseline: everything known, nothing announced.

    `current` is the newest snapshot of the stream; milestones also count every snapshot of
    `history` and the thresholds in `milestones` (a state kept from before).
    """
    return DetectorState(
        leader=current.leader.model,
        country=balance(current.entries, countries).leader,
        top={str(n): _members(current, n) for n in params.top_ns},
        coverage=len(current.entries),
        ranks={e.model: e.rank for e in current.entries},
        tokens={e.model: e.tokens for e in current.entries},
        milestones=milestones_reached([*history, current], params.milestones, milestones),
    )


class _Confirmer:
    """Counts consecutive sightings of a change; a change is due once seen `confirm` times.

    Each pending change also keeps its *base*: what the change is measured from, taken when it
    was first seen (the snapshot before it, the last one consistent with what was announced).
    The base stays while the change is pending, even if its value moves (a second challenger
    for #1), so an announced `previous_*` figure describes the state before the change began,
    not the snapshot just before the confirmation, which already showed it.
    """

    def __init__(self, previous: Mapping[str, list[Any]], confirm: int) -> None:
        self._previous = previous
        self._confirm = confirm
        self.pending: dict[str, list[Any]] = {}

    def due(self, key: str, value: Any, base: Any = None) -> tuple[bool, Any]:
        """(is the change due now, its base); `base` is used when the change is first seen."""
        before = self._previous.get(key)
        count = before[1] + 1 if before is not None and before[0] == value else 1
        if before is not None and len(before) > 2:
            base = before[2]
        if count >= self._confirm:
            return True, base
        self.pending[key] = [value, count, base]
        return False, base


def detect(
    state: DetectorState | None,
    previous: Snapshot | None,
    current: Snapshot,
    *,
    params: DetectParams,
    countries: CountryTable,
    known_models: Collection[str] = (),
) -> tuple[list[Event], DetectorState]:
    """Events of `current` against what was last announced, and the state to keep.

    `known_models` are the models any stored snapshot of this source has listed (for
    `new_model`); `previous` is the snapshot stored just before `current` (for figures shown
    next to a change, such as the former leader's tokens).
    """
    if state is None or previous is None:
        return [], baseline(current, params, countries)
    return _Detection(state, previous, current, params, countries).run(known_models)


class _Detection:
    """One pass of `detect`: the rules, each a method, sharing the confirmer and the output."""

    def __init__(
        self,
        state: DetectorState,
        previous: Snapshot,
        current: Snapshot,
        params: DetectParams,
        countries: CountryTable,
    ) -> None:
        self.state = state
        self.previous = previous
        self.current = current
        self.params = params
        self.countries = countries
        self.confirmer = _Confirmer(state.pending, params.confirm)
        self.events: list[Event] = []

    def run(self, known_models: Collection[str]) -> tuple[list[Event], DetectorState]:
        leader = self.leader()
        country = self.country()
        top: dict[str, dict[str, bool]] = {}
        entered: dict[str, set[int]] = {}
        for n in self.params.top_ns:
            top[str(n)], entered_n = self.top_changes(n)
            for model in entered_n:
                entered.setdefault(model, set()).add(n)
        ranks = self.rank_changes(entered)
        tokens = self.token_changes()
        milestones = self.milestones()
        known = set(known_models)
        for entry in self.current.entries:
            if entry.model not in known:
                self.emit("new_model", entry.model, **self.describe(entry))
        self.events.sort(key=lambda e: (e.importance, _rank_of(e), e.subject))
        return self.events, DetectorState(
            leader=leader,
            country=country,
            top=top,
            coverage=len(self.current.entries),
            ranks=ranks,
            tokens=tokens,
            milestones=milestones,
            pending=self.confirmer.pending,
        )

    def emit(self, kind: str, subject: str, **fields: Any) -> None:
        self.events.append(
            Event(
                kind=kind,
                source=self.current.source,
                period=self.current.period,
                as_of=self.current.as_of,
                subject=subject,
                fields=fields,
                attribution=self.current.attribution,
            )
        )

    def describe(self, entry: Entry) -> dict[str, Any]:
        return {
            "model": entry.model,
            "name": entry.name,
            "author": entry.author,
            "country": self.countries.for_entry(entry),
            "rank": entry.rank,
            "tokens": entry.tokens,
            "lower_bound": entry.lower_bound,
        }

    def leader(self) -> str:
        state, first = self.state, self.current.leader
        if first.model == state.leader:
            return state.leader
        was = self.previous.get(state.leader)
        due, base = self.confirmer.due(
            "leader", first.model, {"tokens": was.tokens if was else None}
        )
        if not due:
            return state.leader
        now = self.current.get(state.leader)
        known = now or was
        self.emit(
            "new_leader",
            first.model,
            **self.describe(first),
            previous_model=state.leader,
            previous_name=known.name if known else state.leader,
            previous_tokens=(base or {}).get("tokens"),
            previous_tokens_now=now.tokens if now else None,
            share=self.current.share(first),
        )
        return first.model

    def country(self) -> str | None:
        state = self.state
        bal = balance(self.current.entries, self.countries)
        if bal.leader is None:
            return state.country
        if state.country is None:
            return bal.leader
        if bal.leader == state.country or not self.confirmer.due("country", bal.leader)[0]:
            return state.country
        self.emit(
            "country_flip",
            bal.leader,
            country=bal.leader,
            previous_country=state.country,
            totals=dict(bal.totals),
            shares=bal.shares,
            unknown=bal.unknown,
        )
        return bal.leader

    def top_changes(self, n: int) -> tuple[dict[str, bool], set[str]]:
        """Top-N entries and exits, only where every snapshot involved knew the model's place.

        The state keeps, per N, the announced membership of each model whose place is known.
        A snapshot knows a model's place when it lists it, or when it lists at least N models
        (then an unlisted model is outside). A model whose place becomes unknown (it dropped
        out of a list shorter than N) leaves the state silently, and when its place is known
        again that is taken silently too: so an entry or exit is announced only when the model
        was announced on the other side, its place was known in every snapshot since, and the
        new snapshots prove the change. Without that, a source that listed 9 models for months
        and then 10 would "announce" the exit of every model that ever dropped out.

        A model absent from the state was not listed by the previous snapshot: it is outside
        when that snapshot listed at least N models, unknown otherwise. A top N no earlier
        snapshot was watched for (a subscriber just asked for it) starts as a silent baseline.
        """
        state, current = self.state, self.current
        if str(n) not in state.top:
            return _members(current, n), set()
        members = state.top[str(n)]
        top: dict[str, bool] = {}
        entered: set[str] = set()
        gone = [m for m, inside in members.items() if inside and current.get(m) is None]
        for model in [e.model for e in current.entries] + gone:
            now = membership(current, model, n)
            if now is None:
                continue  # place unknown now: the model leaves the state silently
            before = members.get(model)
            if before is None and state.coverage >= n:
                before = False
            if before is None or now == before:
                top[model] = now
                continue
            kind = "top_entry" if now else "top_exit"
            was = self.previous.get(model)
            due, base = self.confirmer.due(
                f"top{n}:{model}", kind, self.describe(was) if was else None
            )
            if not due:
                top[model] = before
                continue
            top[model] = now
            if now:
                entered.add(model)
            entry = current.get(model)
            if entry is not None:
                fields = self.describe(entry)
            else:
                fields = {**(base or {"model": model, "name": model}), "rank": None, "tokens": None}
            previous_rank = base.get("rank") if base else None
            self.emit(kind, f"{model}@top{n}", **fields, top_n=n, previous_rank=previous_rank)
        return top, entered

    def rank_changes(self, entered: Mapping[str, set[int]]) -> dict[str, int]:
        """Moves of at least `rank_move` places by models now inside a watched top N.

        A model that entered a top N is announced there as an entry, not also as a move; but
        it may have moved inside a larger top N it was already in (#8 → #5 enters the top 5
        and is a move inside the top 10). So a move is emitted when some watched N holds the
        model without it having entered that N, and carries `entered_top`, the Ns it entered,
        for matching to leave it out where the entry says it already.
        """
        ranks: dict[str, int] = {}
        for entry in self.current.entries:
            base = self.state.ranks.get(entry.model)
            ranks[entry.model] = entry.rank
            entered_ns = entered.get(entry.model, set())
            inside = any(entry.rank <= n and n not in entered_ns for n in self.params.top_ns)
            if base is None or not inside:
                continue
            move = base - entry.rank
            if abs(move) < self.params.loosest_rank_move:
                continue
            if self.confirmer.due(f"rank:{entry.model}", entry.rank)[0]:
                extra = {"entered_top": sorted(entered_ns)} if entered_ns else {}
                self.emit(
                    "rank_change",
                    entry.model,
                    **self.describe(entry),
                    previous_rank=base,
                    move=move,
                    below_default=abs(move) < self.params.rank_move,
                    **extra,
                )
            else:
                ranks[entry.model] = base
        return ranks

    def token_changes(self) -> dict[str, int]:
        """Surges and drops of at least `surge_pct` percent; lower-bound figures never qualify."""
        tokens: dict[str, int] = {}
        for entry in self.current.entries:
            base = self.state.tokens.get(entry.model)
            tokens[entry.model] = entry.tokens
            if not base or entry.lower_bound:
                continue
            change = (entry.tokens - base) / base * 100
            if abs(change) < self.params.loosest_surge_pct:
                continue
            kind = "surge" if change > 0 else "drop"
            if self.confirmer.due(f"tokens:{entry.model}", kind)[0]:
                self.emit(
                    kind,
                    entry.model,
                    **self.describe(entry),
                    previous_tokens=base,
                    change_pct=round(change, 1),
                    below_default=abs(change) < self.params.surge_pct,
                )
            else:
                tokens[entry.model] = base
        return tokens

    def milestones(self) -> dict[str, int]:
        """Each threshold is announced once per model, so a model hovering at 1T is not noise."""
        reached_before = dict(self.state.milestones)
        for entry in self.current.entries:
            reached = _milestone_reached(entry.tokens, self.params.milestones)
            if reached <= reached_before.get(entry.model, 0):
                continue
            if self.confirmer.due(f"milestone:{entry.model}", reached)[0]:
                self.emit("milestone", entry.model, **self.describe(entry), threshold=reached)
                reached_before[entry.model] = reached
        return reached_before


def _rank_of(event: Event) -> int:
    for name in ("rank", "previous_rank"):
        value = event.fields.get(name)
        if isinstance(value, int):
            return value
    return 10_000
