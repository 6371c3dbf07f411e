"""Which events a subscription wants: pure rules, every filter combined with AND.

A filter only judges events that carry what it filters on: an author list says nothing about
a `country_flip`, which has no author, and such an event passes that filter. Include lists
left empty mean "any"; globs (`openai/*`, `*-preview*`) match case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from fnmatch import translate
from functools import lru_cache

from bot.core.events import Event
from bot.core.model import author_of
from bot.core.subscription import Subscription


def matches_any(value: str, patterns: tuple[str, ...]) -> bool:
    return _matcher(patterns)(value.lower()) is not None


@lru_cache(maxsize=1024)
def _matcher(patterns: tuple[str, ...]) -> Callable[[str], re.Match[str] | None]:
    """A whole pattern list as one compiled expression (`fnmatch`'s own translation of each
    glob, lowercased, as alternatives), made once per list: a poll judges each of a few
    dozen events for every distinct subscription, and `fnmatchcase` per pattern lowercased
    and looked up each pattern every time."""
    return re.compile("|".join(translate(p.lower()) for p in patterns)).match


def _included(values: Sequence[str], include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    """`values` are what the event says on one dimension (a flip names two countries)."""
    if not values:
        return True
    if include and not any(matches_any(v, include) for v in values):
        return False
    return not (exclude and matches_any(values[0], exclude))


def _models(event: Event) -> list[str]:
    model = event.fields.get("model")
    return [model] if isinstance(model, str) else []


def _authors(event: Event) -> list[str]:
    author = event.fields.get("author")
    if isinstance(author, str) and author:
        return [author]
    return [author_of(m) for m in _models(event)]


def _countries(event: Event) -> list[str]:
    if event.kind == "country_flip":
        names = [event.fields.get("country"), event.fields.get("previous_country")]
    else:
        names = [event.fields.get("country")]
    return [n for n in names if isinstance(n, str) and n]


def _within_top(sub: Subscription, event: Event) -> bool:
    top_n = sub.filters.top_n
    if event.kind in ("top_entry", "top_exit"):
        return event.fields.get("top_n") == top_n
    if event.kind == "rank_change":
        # a channel whose top N the model just entered hears it as the entry, not as a move
        rank = event.fields.get("rank")
        entered = event.fields.get("entered_top") or ()
        return isinstance(rank, int) and rank <= top_n and top_n not in entered
    return True


def _thresholds(sub: Subscription, event: Event) -> bool:
    """A channel's own minimum when it set one; otherwise detection's default, which the
    event says it fell short of when it was only detected for another channel's lower one."""
    f = sub.filters
    if event.kind == "rank_change" and f.min_move is not None:
        return abs(int(event.fields.get("move") or 0)) >= f.min_move
    if event.kind in ("surge", "drop") and f.min_change_pct is not None:
        return abs(float(event.fields.get("change_pct") or 0)) >= f.min_change_pct
    return not event.fields.get("below_default", False)


def wants(sub: Subscription, event: Event) -> bool:
    """Does this channel's subscription ask for this event?"""
    f = sub.filters
    return (
        event.kind in sub.kinds
        and event.period in sub.periods
        and _within_top(sub, event)
        and _thresholds(sub, event)
        and _included(_models(event), f.models, f.exclude_models)
        and _included(_authors(event), f.authors, f.exclude_authors)
        and _included(_countries(event), f.countries, f.exclude_countries)
    )


def select(sub: Subscription, events: Iterable[Event]) -> list[Event]:
    """The events `sub` wants, each once (an event key seen twice is kept once)."""
    seen: set[str] = set()
    out = []
    for event in events:
        if event.key not in seen and wants(sub, event):
            seen.add(event.key)
            out.append(event)
    return out
