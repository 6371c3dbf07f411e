"""Charts: every kind renders from replayed history at the chat size, is not blank, is
byte-identical for the same input, and too little history or bad arguments give a clear
message, not a picture."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from bot.cli.main import main
from bot.commands.chart import chart_reply, parse_chart_args
from bot.config.file import Config
from bot.core.countries import shipped_table
from bot.core.history_format import read_history
from bot.core.model import Snapshot
from bot.render.chart_pool import render_chart_async
from bot.render.charts import (
    HEIGHT_PX,
    KINDS,
    PALETTE,
    WIDTH_PX,
    ChartError,
    NotEnoughHistory,
    render_chart,
    style_for,
)
from bot.store.protocols import Store
from bot.store.tinydb import TinyStore
from tests.helpers import read_store, snap

COUNTRIES = shipped_table()


def demo_history() -> list[Snapshot]:
    text = resources.files("bot").joinpath("data/demo-history.jsonl").read_text("utf-8")
    return list(read_history(text.splitlines(), name="demo-history.jsonl"))


def year_history(weeks: int = 52, models: int = 10, seed: int = 7) -> list[Snapshot]:
    """A year of weekly rankings of ten models drifting randomly (US, CN and FR authors)."""
    rng = random.Random(seed)
    authors = ["openai", "google", "anthropic", "deepseek", "qwen", "minimax", "z-ai"]
    authors += ["x-ai", "moonshotai", "mistralai"]
    level = [rng.uniform(2e11, 1.5e12) for _ in range(models)]
    history = []
    for week in range(weeks):
        level = [max(1e10, v * rng.uniform(0.85, 1.18)) for v in level]
        history.append(
            Snapshot.create(
                source="openrouter",
                period="week",
                as_of=date(2025, 3, 3) + timedelta(weeks=week),
                entries=[
                    {"model": f"{authors[i % 10]}/m-{i}", "name": f"Model {i}", "tokens": int(v)}
                    for i, v in enumerate(level)
                ],
            )
        )
    return history


@pytest.fixture(scope="module")
def demo() -> list[Snapshot]:
    return demo_history()


@pytest.fixture(scope="module")
def year() -> list[Snapshot]:
    return year_history()


def assert_picture(png: bytes) -> None:
    """A PNG of the chat size with real content: not one flat colour, not mostly white."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    stat = ImageStat.Stat(image)
    assert min(stat.stddev) > 20, stat.stddev
    grey = image.convert("L")
    inked = sum(grey.histogram()[:240]) / (WIDTH_PX * HEIGHT_PX)
    assert inked > 0.03, inked
    # at least two of the palette's colours are drawn: the data is there, not just the frame
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    palette = {tuple(int(h[i : i + 2], 16) for i in (1, 3, 5)) for h in PALETTE}
    assert len(colours & palette) >= 2


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_from_the_demo_history(kind: str, demo: list[Snapshot]) -> None:
    assert_picture(render_chart(kind, demo, countries=COUNTRIES))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_a_year_of_ten_models(kind: str, year: list[Snapshot]) -> None:
    png = render_chart(kind, year, n=10, weeks=52, countries=COUNTRIES)
    assert_picture(png)
    assert b"Software" not in png  # no version stamp: the bytes depend on the data only
    assert render_chart(kind, year, n=10, weeks=52, countries=COUNTRIES) == png


def test_ranks_below_the_top_n_are_drawn_in_a_shaded_band(demo: list[Snapshot]) -> None:
    # the current top 5 held ranks down to #7 earlier: the axis extends past N
    assert_picture(render_chart("ranks", demo, n=5, countries=COUNTRIES))


def test_countries_beyond_n_are_summed_into_other(demo: list[Snapshot]) -> None:
    two = render_chart("countries", demo, n=2, countries=COUNTRIES)  # France goes to Other
    assert_picture(two)
    assert two != render_chart("countries", demo, n=3, countries=COUNTRIES)


def test_same_input_gives_the_same_bytes_whatever_the_order(demo: list[Snapshot]) -> None:
    assert render_chart("ranks", demo, countries=COUNTRIES) == render_chart(
        "ranks", list(reversed(demo)), countries=COUNTRIES
    )


def test_the_window_and_n_change_the_picture(demo: list[Snapshot]) -> None:
    full = render_chart("trend", demo, n=5, countries=COUNTRIES)
    assert render_chart("trend", demo, n=3, countries=COUNTRIES) != full
    assert render_chart("trend", demo, n=5, weeks=3, countries=COUNTRIES) != full


async def test_rendering_off_the_loop_gives_the_same_picture(demo: list[Snapshot]) -> None:
    pngs = await asyncio.gather(
        *(render_chart_async(kind, demo, countries=COUNTRIES) for kind in KINDS)
    )
    assert pngs == [render_chart(kind, demo, countries=COUNTRIES) for kind in KINDS]


def test_too_little_history_is_an_error_not_a_blank_picture() -> None:
    one = [snap("2026-02-16", {"a/x": 10, "b/y": 5})]
    with pytest.raises(NotEnoughHistory, match=r"at least 2 snapshots.*only 1 is stored"):
        render_chart("trend", one, countries=COUNTRIES)
    with pytest.raises(NotEnoughHistory, match="none are stored yet"):
        render_chart("ranks", [], countries=COUNTRIES)
    assert issubclass(NotEnoughHistory, ValueError)


@pytest.mark.parametrize(
    ("kind", "n", "weeks", "message"),
    [
        ("pie", 5, 12, "unknown chart kind 'pie'"),
        ("trend", 0, 12, "N must be from 1 to 20"),
        ("trend", 5, 1, "weeks must be from 2 to 104"),
    ],
)
def test_bad_arguments_are_refused(
    kind: str, n: int, weeks: int, message: str, demo: list[Snapshot]
) -> None:
    with pytest.raises(ChartError, match=message):
        render_chart(kind, demo, n=n, weeks=weeks, countries=COUNTRIES)


def test_a_chart_draws_one_stream() -> None:
    mixed = [snap("2026-02-09", {"a/x": 1}), snap("2026-02-16", {"a/x": 2}, period="day")]
    with pytest.raises(ChartError, match="one stream"):
        render_chart("trend", mixed, countries=COUNTRIES)


def test_countries_needs_some_attributed_volume() -> None:
    cloaked = [snap(d, {"stealth/a": 5, "openrouter/b": 3}) for d in ("2026-02-09", "2026-02-16")]
    with pytest.raises(ChartError, match="no tokens with a known developer country"):
        render_chart("countries", cloaked, countries=COUNTRIES)


def test_colours_are_stable_per_model_and_distinct_within_a_chart() -> None:
    models = [f"lab/model-{i}" for i in range(12)]
    styles = style_for(models)
    assert len({(s.color, s.linestyle) for s in styles.values()}) == 12
    assert sum(s.linestyle == "-" for s in styles.values()) == len(PALETTE)
    # a model keeps its colour in another chart, unless a higher-ranked model took it
    alone = style_for(["lab/model-3"])["lab/model-3"]
    assert style_for(["lab/model-3", "other/x"])["lab/model-3"] == alone
    assert style_for(["US", "CN"], {"US": "#332288", "CN": "#CC6677"})["CN"].color == "#CC6677"


# --- the chat command and the CLI -----------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path, demo: list[Snapshot]) -> AsyncIterator[Store]:
    async with TinyStore.open(tmp_path / "db.json") as opened:
        for snapshot in demo:
            await opened.history.add_snapshot(snapshot)
        yield opened


async def test_chart_reply_attaches_the_png(store: Store) -> None:
    reply = await chart_reply(["ranks", "8", "6"], store, Config())
    assert reply.ok and reply.view == "chart" and not reply.ephemeral
    (attachment,) = reply.attachments
    assert attachment.filename == "rankbot-ranks-openrouter-week-2026-02-16.png"
    assert attachment.mime == "image/png"
    assert attachment.title == "Weekly rank of the top 8 models, as of 2026-02-16"
    assert reply.text.startswith(attachment.title)
    assert "Source: OpenRouter" in reply.text
    assert reply.data["snapshots"] == 6
    assert_picture(attachment.content)


async def test_chart_reply_defaults_to_the_trend(store: Store) -> None:
    reply = await chart_reply([], store, Config())
    assert reply.ok
    assert reply.attachments[0].title.startswith("Weekly tokens of the top 5 models")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pie"], "Unknown chart 'pie': choose trend, countries, ranks"),
        (["trend", "five"], "N must be a whole number from 1 to 20, got 'five'"),
        (["trend", "0"], "N must be a whole number from 1 to 20, got '0'"),
        (
            ["ranks", "10", "1"],
            "Weeks must be a whole number from 2 to 104, got '1', e.g. `chart ranks 10 12`",
        ),
        (["trend", "5", "12", "3"], "Too many arguments: '3'"),
    ],
)
async def test_chart_reply_explains_bad_arguments(
    args: list[str], message: str, store: Store
) -> None:
    reply = await chart_reply(args, store, Config())
    assert not reply.ok and reply.view == "error" and not reply.attachments
    assert reply.text.startswith(message), reply.text
    assert "e.g. `chart " in reply.text or "Usage: chart [trend|countries|ranks]" in reply.text


async def test_chart_reply_with_one_stored_week(tmp_path: Path, demo: list[Snapshot]) -> None:
    async with TinyStore.open(tmp_path / "db.json") as store:
        await store.history.add_snapshot(demo[0])
        reply = await chart_reply(["countries"], store, Config())
    assert not reply.ok
    assert reply.text.startswith("Not enough history for a countries chart")
    assert "2026-01-05" in reply.text


def test_parse_chart_args_numbers_alone_mean_a_trend() -> None:
    request = parse_chart_args(["3", "8"])
    assert (request.kind, request.n, request.weeks) == ("trend", 3, 8)
    assert parse_chart_args(["RANKS"]).kind == "ranks"


def test_cli_writes_the_chart(
    tmp_path: Path, demo: list[Snapshot], capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.json"

    async def fill(store: Store) -> None:
        for snapshot in demo:
            await store.history.add_snapshot(snapshot)

    read_store(db, fill, readonly=False)
    out = tmp_path / "countries.png"
    assert main(["chart", "countries", "--weeks", "7", "-o", str(out), "--db", str(db)]) == 0
    assert out.read_bytes() == render_chart("countries", demo, weeks=7, countries=COUNTRIES)
    assert f"wrote {out}" in capsys.readouterr().out
    code = main(["chart", "trend", "-o", str(out), "--db", str(tmp_path / "missing.json")])
    assert code == 2
    assert "no database at" in capsys.readouterr().err
