"""Display names for ranking entries, from OpenRouter's public model catalogue.

The rankings identify a model by its permaslug, which is the catalogue's `canonical_slug`
(the dated id, `deepseek/deepseek-v4-flash-20260731`), not its `id`; a variant keeps a
`:suffix` (`…-20260723:free`) and shares the standard model's canonical slug. So names are
keyed by `canonical_slug` plus the variant taken from the catalogue `id`. The catalogue is
cached in the store and asked again only when a poll brings a model the cache cannot name (at
most once a day: a new model is when a name matters) or once the cache is a week old (a
renamed model): the catalogue is the largest answer OpenRouter gives, and asking it on every
daily poll doubled the requests and the CPU of a quiet poll. An entry it does not know
(retired models, embeddings) gets a readable name derived from its id instead of a raw slug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.core.model import MAX_NAME, SnapshotError, plain_text

MAX_AGE = timedelta(days=7)
"""Names older than this are refreshed even if they name every model (renames)."""
UNKNOWN_AGE = timedelta(days=1)
"""Names older than this are refreshed when a model they cannot name appears."""
_DATED = re.compile(r"-(?:20\d{6}|\d{4})$")


def names_from_models(payload: Any) -> dict[str, str]:
    """`canonical_slug[:variant]` → display name, from a `/api/v1/models` response.

    The catalogue's "Author: Model" prefix is dropped (the author is shown separately), and a
    malformed item is skipped: a name is a nicety, never a reason to reject figures.
    """
    items = payload.get("data") if isinstance(payload, Mapping) else None
    names: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        slug, model_id, name = item.get("canonical_slug"), item.get("id"), item.get("name")
        if not (isinstance(slug, str) and isinstance(model_id, str) and isinstance(name, str)):
            continue
        if not (slug and model_id and name):
            continue
        _, colon, variant = model_id.partition(":")
        try:  # a name that could not be shown safely (control characters, absurd length)
            short = plain_text(_short(name), "name", MAX_NAME)
        except SnapshotError:
            continue
        names[f"{slug}:{variant}" if colon else slug] = short
    return names


def display_name(permaslug: str, names: Mapping[str, str]) -> str:
    """The catalogue name of a ranking entry, or one derived from its id."""
    return catalogue_name(permaslug, names) or readable_name(permaslug)


def catalogue_name(permaslug: str, names: Mapping[str, str]) -> str | None:
    """The catalogue's name for a ranking entry (a variant the catalogue does not list borrows
    its standard model's), or None when the catalogue names neither."""
    if permaslug in names:
        return names[permaslug]
    base, colon, variant = permaslug.partition(":")
    return f"{names[base]} ({variant})" if colon and base in names else None


def readable_name(permaslug: str) -> str:
    """`perplexity/pplx-embed-v1-0.6B` → `Pplx Embed V1 0.6B`: no author, no date stamp."""
    base, colon, variant = permaslug.partition(":")
    slug = base.split("/", 1)[-1]
    slug = _DATED.sub("", slug) or slug
    words = [w[:1].upper() + w[1:] for w in re.split(r"[-_]+", slug) if w]
    name = " ".join(words) or permaslug
    return f"{name} ({variant})" if colon else name


def cached_names(
    state: Any, now: datetime, models: Iterable[str] = ()
) -> tuple[dict[str, str], bool]:
    """The names held in the store's cache, and whether to ask the catalogue again: the cache
    is missing or a week old, or it is a day old and one of `models` (what a poll brought) is
    a model it cannot name and was not already missing from the catalogue last time."""
    names, age = _cached(state, now)
    if age is None or age >= MAX_AGE:
        return names, True
    if age < UNKNOWN_AGE:
        return names, False
    return names, bool(_unnamed(models, names) - set(unnamed_of(state)))


def cache_state(
    names: Mapping[str, str], now: datetime, models: Iterable[str] = ()
) -> dict[str, Any]:
    """What the store keeps: the names, when they were fetched, and which of `models` they
    cannot name (those are no reason to ask the catalogue again before the weekly refresh)."""
    return {
        "fetched_at": now.isoformat(timespec="seconds"),
        "names": dict(names),
        "unnamed": sorted(_unnamed(models, names)),
    }


def noted_unnamed(state: Any, now: datetime, models: Iterable[str]) -> dict[str, Any] | None:
    """`state` also recording which of `models` it cannot name, if it was fetched less than a
    day ago (as after a backfill, which asks the catalogue first); None when nothing changes."""
    names, age = _cached(state, now)
    if age is None or age >= UNKNOWN_AGE:
        return None
    unnamed = set(unnamed_of(state)) | _unnamed(models, names)
    noted = {**state, "unnamed": sorted(unnamed)}
    return noted if noted != state else None


def unnamed_of(state: Any) -> list[str]:
    """The models the cached catalogue was found not to name."""
    unnamed = state.get("unnamed") if isinstance(state, Mapping) else None
    return [m for m in unnamed if isinstance(m, str)] if isinstance(unnamed, list) else []


def _unnamed(models: Iterable[str], names: Mapping[str, str]) -> set[str]:
    """The `models` the catalogue's `names` do not name."""
    return {m for m in models if catalogue_name(m, names) is None}


def _cached(state: Any, now: datetime) -> tuple[dict[str, str], timedelta | None]:
    """The cached names and their age (None: no cache, or no readable date)."""
    if not isinstance(state, Mapping) or not isinstance(state.get("names"), Mapping):
        return {}, None
    try:
        return dict(state["names"]), now - datetime.fromisoformat(state["fetched_at"])
    except (KeyError, TypeError, ValueError):
        return dict(state["names"]), None


def _short(name: str) -> str:
    """`DeepSeek: DeepSeek V4 Flash` → `DeepSeek V4 Flash`."""
    _, sep, tail = name.partition(": ")
    return (tail if sep and tail.strip() else name).strip()
