"""`OpenRouterSource.fetch_new` end to end on the fake API: new days become news, restated
days correct history silently, and every suspect payload is rejected with no event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from bot.core.countries import shipped_table
from bot.core.events import DetectParams, Event
from bot.core.model import WINDOW_DAYS
from bot.engine.ingest import ingest
from bot.errors import SourceError
from bot.sources.openrouter.catalogue import display_name, names_from_models, readable_name
from bot.sources.openrouter.daystore import load_days
from bot.sources.openrouter.settings import SourceSettings
from bot.sources.openrouter.source import OpenRouterSource
from bot.store import keys
from bot.store.protocols import Store, Stored
from bot.store.tinydb import TinyStore
from tests.fakes.openrouter_api import (
    KEY,
    Clock,
    FakeApi,
    Rows,
    fetch,
    history,
    make_source,
    models_payload,
    payload,
    varied_rows,
)
from tests.fakes.openrouter_http import OpenRouterHttpFake

SINCE = date(2026, 7, 1)
FIRST_RUN = datetime(2026, 7, 31, 9, 0, tzinfo=UTC)  # holds days up to 2026-07-30
NEXT_DAY = datetime(2026, 8, 1, 2, 10, tzinfo=UTC)  # 2026-07-31 is complete
NEW = date(2026, 7, 31)
CHALLENGER = "z-ai/glm-5.2-20260616"


@pytest.fixture
def fake(router: respx.MockRouter, clock: Clock) -> FakeApi:
    api = FakeApi(history(SINCE, NEW - timedelta(days=1)), clock)
    api.mount(router)
    return api


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with TinyStore.open(tmp_path / "db.json") as s:
        yield s


@pytest.fixture
async def source(fake: FakeApi, clock: Clock, store: Store) -> OpenRouterSource:
    src = make_source(clock, backfill_since=SINCE)
    assert await fetch(src, store, FIRST_RUN) == []  # the first run backfills, silently
    assert (await store.history.events()) == []
    return src


async def poll(source: OpenRouterSource, store: Store, now: datetime) -> list[Event]:
    """What the poller does with a source: ingest each snapshot with the period's confirm."""
    events: list[Event] = []
    for snapshot in await fetch(source, store, now):
        params = DetectParams(confirm=source.settings.confirm_for(snapshot.period))
        events += (await ingest(store, snapshot, params=params, countries=shipped_table())).events
    return events


def leader_change(day: date) -> Rows:
    """A day on which GLM 5.2 does 5× the usual #1's volume: a new leader if accepted."""
    rows = varied_rows(day)
    return [(m, t * 20 if m == CHALLENGER else t) for m, t in rows]


async def test_first_run_backfills_silently_and_records_health(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    assert len(await load_days(store.days)) == 30
    assert len(await store.history.snapshots("openrouter", "day")) == 30
    assert len(await store.history.snapshots("openrouter", "week")) == 24
    assert (
        await store.history.snapshots("openrouter", "month")
    ) == []  # not in the default periods
    health = await store.state.get(keys.health("openrouter"))
    assert health["newest_day"] == "2026-07-30"
    assert health["newest_as_of"] == "2026-07-31T02:00:00Z"
    assert health["consecutive_failures"] == 0 and health["outage_notified"] is False
    assert health["next_poll"] == "2026-08-01T02:10:00+00:00"  # yesterday held: wait for 02:10


async def test_a_new_day_is_news_with_names_and_attribution(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    fake.days[NEW] = leader_change(NEW)
    events = await poll(source, store, NEXT_DAY)
    leaders = [e for e in events if e.kind == "new_leader"]
    assert [(e.period, e.fields["model"]) for e in leaders] == [("day", CHALLENGER)]
    assert leaders[0].fields["name"] == "GLM 5.2"
    assert leaders[0].attribution == (
        "Source: OpenRouter (openrouter.ai/rankings), as of 2026-08-01T02:00:00Z."
    )
    (_, _, params) = fake.ranking_calls[-1]
    assert params == {"start_date": "2026-07-29", "end_date": "2026-07-31"}  # last 3 days
    day = await store.history.latest_snapshot("openrouter", "day")
    assert day is not None and day.as_of == NEW and len(day.entries) == 50
    assert day.total == sum(t for _, t in fake.days[NEW])


async def test_the_rolling_week_needs_a_second_day_to_announce(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    fake.days[NEW] = leader_change(NEW)
    first = await poll(source, store, NEXT_DAY)
    assert not [e for e in first if e.period == "week" and e.kind == "new_leader"]
    fake.days[NEW + timedelta(days=1)] = leader_change(NEW + timedelta(days=1))
    second = await poll(source, store, NEXT_DAY + timedelta(days=1))
    assert [e.fields["model"] for e in second if e.period == "week" and e.kind == "new_leader"] == [
        CHALLENGER
    ]


async def test_a_restated_day_updates_history_without_alerts(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    restated = date(2026, 7, 29)
    fake.days[restated] = leader_change(restated)  # would be a new #1 if it were news
    snapshots = await fetch(source, store, FIRST_RUN + timedelta(hours=3))
    assert {s.as_of for s in snapshots} == {restated, restated + timedelta(days=1)}
    results = [
        (await ingest(store, s, params=DetectParams(), countries=shipped_table()))
        for s in snapshots
    ]
    assert {r.stored for r in results} == {Stored.RESTATED}
    assert all(r.events == [] for r in results)
    assert (await load_days(store.days))[restated].tokens[CHALLENGER] == dict(fake.days[restated])[
        CHALLENGER
    ]
    stored = await store.history.snapshots("openrouter", "day")
    assert next(s for s in stored if s.as_of == restated).leader.model == CHALLENGER
    assert (await store.history.events()) == []


async def test_a_new_day_lost_in_a_crash_before_ingest_comes_back(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    fake.days[NEW] = leader_change(NEW)
    lost = await fetch(source, store, NEXT_DAY)  # rows stored, snapshots never ingested
    assert {s.as_of for s in lost} == {NEW}
    again = await fetch(source, store, NEXT_DAY + timedelta(hours=3))
    assert [(s.period, s.as_of) for s in again] == [(s.period, s.as_of) for s in lost]
    events = [
        e
        for s in again
        for e in (await ingest(store, s, params=DetectParams(), countries=shipped_table())).events
    ]
    assert ("new_leader", "day") in {(e.kind, e.period) for e in events}
    assert await fetch(source, store, NEXT_DAY + timedelta(hours=6)) == []


async def test_a_poll_reads_only_the_days_its_windows_need_and_still_finds_lost_ones(
    source: OpenRouterSource, store: Store, fake: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll loads the days from one month window (and its eve) before the first day it may
    change, not the whole history; a day stored by a poll whose snapshots were lost, older
    than the days the next poll fetches, is still among them."""
    asked: list[str | None] = []
    load = store.days.load

    async def recording(source_name: str, since: str | None = None) -> Any:
        asked.append(since)
        return await load(source_name, since)

    monkeypatch.setattr(store.days, "load", recording)
    fake.days.update(history(NEW, NEW + timedelta(days=3)))
    lost = await fetch(source, store, NEXT_DAY)  # 07-31 stored, its snapshots never ingested
    assert {s.as_of for s in lost} == {NEW}
    # the next poll fetches 08-01 .. 08-03 and must bring 07-31's windows back too
    later = await fetch(source, store, NEXT_DAY + timedelta(days=3))
    assert sorted({s.as_of for s in later}) == [NEW + timedelta(days=i) for i in range(4)]
    longest = max(source.settings.periods, key=lambda p: WINDOW_DAYS[p])
    n = WINDOW_DAYS[longest]  # the longest window ending on the first day, and its eve
    assert asked == [
        (NEW - timedelta(days=2 + n)).isoformat(),
        (NEW - timedelta(days=n)).isoformat(),
    ]
    window = {(s.period, s.as_of): s for s in later}[(longest, NEW)]
    held = await load_days(store.days)  # every day: the whole history gives the same window
    assert window.total == sum(held[NEW - timedelta(days=i)].total for i in range(n))


async def test_an_unchanged_poll_returns_nothing(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    assert await fetch(source, store, FIRST_RUN + timedelta(hours=3)) == []


def _suspect_bodies() -> dict[str, dict]:
    days = history(SINCE, NEW - timedelta(days=1))

    def body(rows: Rows, *, version: str = "v1", when: date = NEW) -> dict:
        return payload({**days, when: rows}, NEW - timedelta(days=2), when, version=version)

    good = leader_change(NEW)
    dup = [*good[:20], good[5], *good[20:]]
    return {
        "fewer than 10 models": body([*good[:9], ("other", 10**12)]),
        "duplicate ids": body(dup),
        "non-numeric tokens": body([(m, "12a" if i == 3 else t) for i, (m, t) in enumerate(good)]),
        "negative tokens": body([(m, -5 if i == 3 else t) for i, (m, t) in enumerate(good)]),
        "total jumped more than 10x": body([(m, t * 11) for m, t in good]),
        "total fell more than 10x": body([(m, t // 30) for m, t in good]),
        "a date in the future": body(good, when=NEXT_DAY.date()),
        "unknown meta.version": body(good, version="v2"),
    }


SUSPECT = _suspect_bodies()
REASONS = {
    "fewer than 10 models": "only 9 models",
    "duplicate ids": "is listed twice",
    "non-numeric tokens": "must be a non-negative decimal, got '12a'",
    "negative tokens": "must be a non-negative decimal, got '-5'",
    "total jumped more than 10x": "moved more than 10x",
    "total fell more than 10x": "moved more than 10x",
    "a date in the future": "not a completed UTC day",
    "unknown meta.version": "unknown meta.version 'v2'",
}


@pytest.mark.parametrize("case", list(SUSPECT))
async def test_each_suspect_payload_is_rejected_logged_counted_and_never_diffed(
    source: OpenRouterSource,
    store: Store,
    fake: FakeApi,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    fake.script = [httpx.Response(200, json=SUSPECT[case])]
    caplog.set_level(logging.WARNING, logger="rankbot.openrouter")
    before = await store.history.snapshot_count()
    try:
        events = await poll(source, store, NEXT_DAY)
    except SourceError as exc:  # the whole payload was suspect
        assert REASONS[case] in str(exc)
        events = []
    assert events == [] and (await store.history.events()) == []
    assert (await store.history.snapshot_count()) == before
    suspect_dates = {NEW, NEXT_DAY.date()}
    assert not suspect_dates & set(await load_days(store.days))
    assert REASONS[case] in caplog.text
    health = await store.state.get(keys.health("openrouter"))
    assert health["suspect_rejections"] == 1
    assert REASONS[case] in health["last_rejection"]


async def test_a_failed_poll_is_recorded_in_health_and_raised(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    fake.script = [httpx.Response(500)] * 5
    with pytest.raises(SourceError, match="failed after 5 attempts"):
        await fetch(source, store, NEXT_DAY)
    health = await store.state.get(keys.health("openrouter"))
    assert health["consecutive_failures"] == 1
    assert health["last_error"].startswith("GET /api/v1/datasets/rankings-daily failed")
    assert health["last_good_fetch"] == "2026-07-31T09:00:00+00:00"
    assert health["newest_day"] == "2026-07-30"
    fake.days[NEW] = varied_rows(NEW)
    await fetch(source, store, NEXT_DAY + timedelta(hours=1))
    health = await store.state.get(keys.health("openrouter"))
    assert health["consecutive_failures"] == 0 and health["last_error"] is None
    assert health["newest_day"] == "2026-07-31"


async def test_a_401_tells_the_operator_and_never_leaks_the_key(
    fake: FakeApi, clock: Clock, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-or-v1-this-is-not-the-key-0042"
    with pytest.raises(SourceError) as info:
        await fetch(make_source(clock, key=wrong), store, FIRST_RUN)
    assert "OPENROUTER_API_KEY is missing or wrong" in str(info.value)
    assert "openrouter.ai/keys" in (await store.state.get(keys.health("openrouter")))["last_error"]
    assert wrong not in caplog.text and wrong not in str(info.value)
    assert wrong not in str(await store.state.get(keys.health("openrouter")))


def test_catalogue_names_join_on_canonical_slug_with_free_variants() -> None:
    names = names_from_models(models_payload())
    assert display_name("deepseek/deepseek-v4-flash-20260423", names) == "DeepSeek V4 Flash"
    assert display_name("deepseek/deepseek-v4-flash-20260731", names) == "DeepSeek V4 Flash 0731"
    assert display_name("poolside/laguna-s-2.1-20260720:free", names) == "Laguna S 2.1 (free)"
    # only a `:free` catalogue entry exists for this one
    assert display_name("inclusionai/ling-3.0-flash-20260723:free", names) == (
        "Ling-3.0-flash (free)"
    )
    # a variant the catalogue does not list borrows the standard name
    assert display_name("z-ai/glm-5.2-20260616:batch", names) == "GLM 5.2 (batch)"
    assert display_name("perplexity/pplx-embed-v1-0.6B", names) == "Pplx Embed V1 0.6B"
    assert readable_name("moonshotai/kimi-k2.5-0127") == "Kimi K2.5"
    assert readable_name("acme/some-model-20260101:free") == "Some Model (free)"


def test_a_broken_catalogue_gives_no_names_rather_than_an_error() -> None:
    assert names_from_models({"data": [{"id": 3}, "x", {"id": "a/b", "name": "B"}]}) == {}
    assert names_from_models("garbage") == {}


async def test_the_catalogue_is_asked_again_for_a_model_it_may_name_or_after_a_week(
    source: OpenRouterSource, store: Store, fake: FakeApi
) -> None:
    def model_calls() -> int:
        return sum(1 for c in fake.calls if c[1] == "/api/v1/models")

    assert model_calls() == 1  # the backfill asks first
    # the real days list models the catalogue does not name (an embedding model): the
    # backfill noted them, so they are no reason to ask again
    unnamed = (await store.state.get(keys.catalogue("openrouter")))["unnamed"]
    assert "perplexity/pplx-embed-v1-0.6B" in unnamed
    fake.days[NEW] = varied_rows(NEW)
    await fetch(source, store, NEXT_DAY)
    assert model_calls() == 1
    # a model neither named nor noted: asked again (the cache is a day old) and noted
    launch, later = NEW + timedelta(days=1), NEXT_DAY + timedelta(days=1)
    fake.days[launch] = [*varied_rows(launch), ("acme/launch-20260801", 10**9)]
    await fetch(source, store, later)
    assert model_calls() == 2
    unnamed = (await store.state.get(keys.catalogue("openrouter")))["unnamed"]
    assert "acme/launch-20260801" in unnamed and "perplexity/pplx-embed-v1-0.6B" in unnamed
    fake.days[launch + timedelta(days=1)] = fake.days[launch]
    await fetch(source, store, later + timedelta(days=1))
    assert model_calls() == 2
    # a week after the last answer: asked again though every model is named or noted
    await fetch(source, store, later + timedelta(days=7))
    assert model_calls() == 3


async def test_a_failed_catalogue_falls_back_to_readable_names(
    fake: FakeApi, clock: Clock, store: Store
) -> None:
    fake.script = [httpx.Response(404)]  # the catalogue call comes first
    await fetch(make_source(clock, backfill_since=SINCE), store, FIRST_RUN)
    day = await store.history.latest_snapshot("openrouter", "day")
    assert day is not None
    assert day.get("z-ai/glm-5.2-20260616").name == "Glm 5.2"  # type: ignore[union-attr]


def test_catalogue_names_that_cannot_be_shown_safely_are_skipped() -> None:
    payload = {
        "data": [
            {"canonical_slug": "a/x", "id": "a/x", "name": "Lab: Good Name"},
            {"canonical_slug": "a/y", "id": "a/y", "name": "Bad\u0000Name"},
            {"canonical_slug": "a/z", "id": "a/z", "name": "z" * 500},
        ]
    }
    assert names_from_models(payload) == {"a/x": "Good Name"}


async def test_polls_share_one_http_client_and_leave_no_connection_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # over a real loopback server: polls are hours apart, so a poll closes its connection
    # (the server would have dropped it), while the client itself is made once per process
    made: list[object] = []
    real_init = httpx.AsyncClient.__init__

    def counting_init(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        made.append(client)
        real_init(client, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    fake = await OpenRouterHttpFake(history(SINCE, NEW - timedelta(days=1))).start()
    try:
        source = OpenRouterSource(
            SourceSettings(base_url=fake.base_url, backfill_since=SINCE), api_key=KEY
        )
        async with TinyStore.open(tmp_path / "db.json") as store:
            for day, now in ((None, FIRST_RUN), (NEW, NEXT_DAY), (NEW + timedelta(days=1), None)):
                if day is not None:
                    fake.days[day] = varied_rows(day)
                await fetch(source, store, now or NEXT_DAY + timedelta(days=1))
                for _ in range(100):  # the server sees the close a moment later
                    if fake.open_connections == 0:
                        break
                    await asyncio.sleep(0.01)
                assert fake.open_connections == 0
        assert len(fake.ranking_requests) >= 3
        assert len(made) == 1
    finally:
        await fake.close()
