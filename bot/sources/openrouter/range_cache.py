"""An on-disk cache of the Data API's days, for `rankbot backtest` (and whoever replays the past).

Why: a backtest replays months of polls on a virtual clock through the real `OpenRouterSource`;
asking the API again for every virtual day would cost hundreds of requests out of the 500 a
day, and a second backtest over the same days should cost none. So `CachedApi` (an
`OpenRouterApi`) answers a rankings request from the cache when it holds every day asked for,
and otherwise asks the API (through the same limiter and retries) and keeps each day it gets.
`prefetch` fills the cache for a whole span in 30-day ranges first, so the replay itself needs
no request at all.

Days are kept as the API returned their rows, one JSON file per day under
`<user cache dir>/openrouter/<host>/days/` (platformdirs: `~/.cache/rankbot/…` on Linux), with
the `meta.as_of` they came with; the catalogue beside them for a day. Days of the last
`FRESH_DAYS` are not kept: OpenRouter may still restate them.

`visible_through` makes the API look as it did at a virtual moment: a day is published the
next day at `PUBLISHED_AT` UTC, so a poll at 01:00 does not see yesterday yet, exactly as the
live bot would not have.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import platformdirs

from bot.clock import utcnow
from bot.sources.openrouter.api import OpenRouterApi
from bot.sources.openrouter.backfill import FIRST_DAY, plan_ranges

PUBLISHED_AT = time(2, 0)
"""When a day's figures appear (the next morning, UTC)."""
FRESH_DAYS = 3
"""Days this recent (in real time) are not cached: they may still be restated."""
MODELS_MAX_AGE = timedelta(days=1)


def default_cache_dir(base_url: str) -> Path:
    """`<user cache dir>/openrouter/<host>`: one cache per API root, so a test server or a
    mirror never mixes its days with openrouter.ai's."""
    host = re.sub(r"[^A-Za-z0-9.-]+", "_", base_url.split("://", 1)[-1]).strip("_")
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:8]
    return Path(platformdirs.user_cache_dir("rankbot")) / "openrouter" / f"{host}-{digest}"


def visible_through(now: datetime) -> date:
    """The newest day the API had published at `now`."""
    moment = now.astimezone(UTC)
    day = moment.date() - timedelta(days=1)
    return day if moment.time() >= PUBLISHED_AT else day - timedelta(days=1)


class DayCache:
    """The days of one API root on disk; see the module docstring."""

    def __init__(self, root: Path, *, today: Callable[[], date] = lambda: utcnow().date()) -> None:
        self.root = root
        self._today = today

    def _day_path(self, day: date) -> Path:
        return self.root / "days" / f"{day.isoformat()}.json"

    def has(self, day: date) -> bool:
        return self._day_path(day).is_file()

    def missing(self, start: date, end: date) -> list[date]:
        return [d for d in _dates(start, end) if not self.has(d)]

    def payload(self, start: date, end: date) -> dict[str, Any]:
        """A rankings-daily answer for `start` … `end` from the cache (every day held)."""
        rows: list[Any] = []
        as_of = ""
        for day in _dates(start, end):
            doc = json.loads(self._day_path(day).read_text(encoding="utf-8"))
            rows += doc["rows"]
            as_of = max(as_of, doc["as_of"])
        meta = {"as_of": as_of, "start_date": start.isoformat(), "end_date": end.isoformat()}
        return {"data": rows, "meta": {**meta, "version": "v1"}}

    def keep(self, payload: Any, start: date, end: date) -> int:
        """Keep every settled day of the API's answer for `start` … `end` (a day it did not
        list is kept as listing nothing, so it is not asked for again); return how many."""
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return 0
        meta = payload.get("meta")
        if not isinstance(meta, dict) or meta.get("version") != "v1":
            return 0
        as_of = meta.get("as_of")
        if not isinstance(as_of, str):
            return 0
        by_day: dict[str, list[Any]] = {}
        for row in payload["data"]:
            if isinstance(row, dict) and isinstance(row.get("date"), str):
                by_day.setdefault(row["date"], []).append(row)
        settled = self._today() - timedelta(days=FRESH_DAYS)
        days = [d for d in _dates(start, end) if d < settled]
        for day in days:
            rows = by_day.get(day.isoformat(), [])
            _write_json(self._day_path(day), {"as_of": as_of, "rows": rows})
        return len(days)

    def models(self, now: datetime) -> Any | None:
        path = self.root / "models.json"
        if not path.is_file():
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
        if now - datetime.fromisoformat(doc["fetched_at"]) >= MODELS_MAX_AGE:
            return None
        return doc["payload"]

    def keep_models(self, payload: Any, now: datetime) -> None:
        _write_json(self.root / "models.json", {"fetched_at": now.isoformat(), "payload": payload})


class CachedApi(OpenRouterApi):
    """An `OpenRouterApi` that answers from a `DayCache` when it can (see the module doc).

    `requests` counts only what reached the API. With `visible_through`, a request is cut to
    the days published at that (virtual) moment.
    """

    def __init__(
        self,
        *,
        cache: DayCache,
        visible_through: Callable[[], date] | None = None,
        since: date = FIRST_DAY,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self.cache = cache
        self._visible_through = visible_through
        self.since = since
        """The first day `prefetch` is meant to start from (the backfill's)."""

    async def __aenter__(self) -> CachedApi:
        return self  # the HTTP client (and its TLS context) only when a request is needed

    async def _online(self) -> None:
        if self._client is None:
            await super().__aenter__()

    async def rankings_daily(self, start: date, end: date) -> Any:
        if self._visible_through is not None:
            end = min(end, self._visible_through())
        if end < start:
            return {"data": [], "meta": _empty_meta(start, end)}
        if not self.cache.missing(start, end):
            return self.cache.payload(start, end)
        await self._online()
        payload = await super().rankings_daily(start, end)
        self.cache.keep(payload, start, end)
        return payload

    async def models(self) -> Any:
        now = utcnow()
        cached = self.cache.models(now)
        if cached is not None:
            return cached
        await self._online()
        payload = await super().models()
        self.cache.keep_models(payload, now)
        return payload

    async def prefetch(
        self, since: date, until: date, on_range: Callable[[date, date], None] | None = None
    ) -> int:
        """Fill the cache for `since` … `until` in 30-day ranges, asking only for the ranges
        that miss a day; return how many ranges were requested."""
        asked = 0
        for start, end in plan_ranges(since, until):
            if self.cache.missing(start, end):
                await self.rankings_daily(start, end)
                asked += 1
                if on_range is not None:
                    on_range(start, end)
        return asked


def _empty_meta(start: date, end: date) -> dict[str, str]:
    """The meta of an answer with no day in it (nothing published yet in the range asked)."""
    return {
        "as_of": f"{start.isoformat()}T00:00:00Z",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "version": "v1",
    }


def _dates(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def _write_json(path: Path, doc: Any) -> None:
    """Written to a temporary file and renamed: a killed backtest never leaves half a day."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
