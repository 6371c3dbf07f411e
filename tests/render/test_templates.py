from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from bot.core.countries import shipped_table
from bot.core.events import KINDS, DetectParams, Event
from bot.engine.ingest import ingest
from bot.errors import ConfigError
from bot.render.template_check import check_overrides
from bot.render.templates import (
    Renderer,
    bounded_render,
    human_tokens,
    percent,
    rank_arrow,
    signed_percent,
)
from bot.store.protocols import Store
from tests.helpers import read_store, snap

B = 1_000_000_000
ATTRIBUTION = "Source: OpenRouter (openrouter.ai/rankings), as of 2026-01-13T02:00:00Z."


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1_700_000_000_000, "1.7T"),
        (997_000_000_000, "997B"),
        (798_400_000_000, "798B"),
        (84_300_000_000, "84.3B"),
        (5_160_000_000_000, "5.16T"),
        (999_999_999_999, "1T"),
        (1_000_000, "1M"),
        (12_345, "12.3K"),
        (999, "999"),
        (0, "0"),
        (None, "–"),
    ],
)
def test_human_tokens(value: int | None, text: str) -> None:
    assert human_tokens(value) == text


def test_small_filters() -> None:
    assert percent(0.3451) == "34.5%"
    assert signed_percent(52.0) == "+52%"
    assert signed_percent(-4.2) == "-4%"
    assert (rank_arrow(3), rank_arrow(-2), rank_arrow(0), rank_arrow(None)) == (
        "▲3",
        "▼2",
        "=",
        "new",
    )


def _sample_events(tmp_path: Path) -> list[Event]:
    """A history that produces every event kind at once."""
    a = {"google/g": 900 * B, "openai/o": 800 * B, "stealth/s": 50 * B}
    a.update({f"openai/x{i}": (60 - i) * B for i in range(10)})
    b = {"google/g": 800 * B, "minimax/m": 1500 * B, "openai/o": 100 * B, "stealth/s": 50 * B}
    b.update({f"openai/x{i}": (60 - i) * B for i in range(10)})
    b["openai/x9"] = 120 * B
    b["deepseek/d"] = 900 * B

    async def detect_both(store: Store) -> list[Event]:
        first = snap("2026-01-05", a)
        await ingest(store, first, params=DetectParams(), countries=shipped_table())
        second = snap("2026-01-12", b, attribution=ATTRIBUTION)
        result = await ingest(
            store, second, params=DetectParams(rank_move=1), countries=shipped_table()
        )
        return result.events

    return read_store(tmp_path / "db.json", detect_both, readonly=False)


def test_every_kind_renders_and_ends_with_the_attribution(tmp_path: Path) -> None:
    events = _sample_events(tmp_path)
    assert {e.kind for e in events} == set(KINDS)
    renderer = Renderer()
    for event in events:
        text = renderer.event(event)
        assert event.fields["name"] in text if "name" in event.fields else True
        assert text.endswith("as of 2026-01-13 02:00 UTC."), text
        assert "(7 days to 12 Jan 2026" in text or "7 days to 12 Jan 2026)" in text, text
    grouped = renderer.group(events)
    assert grouped.count("Source: OpenRouter") == 1
    assert grouped.startswith(f"rankbot: {len(events)} changes · 7 days to 12 Jan 2026\n")
    # the headline names the window: the events under it do not repeat it
    assert "New #1: minimax/m leads with 1.5T tokens" in grouped
    assert "12 Jan" not in grouped.split("\n", 1)[1]
    assert "Unattributed: 50B" in grouped


def test_grouped_message_reports_what_was_left_out(tmp_path: Path) -> None:
    events = _sample_events(tmp_path)
    text = Renderer().group(events, shown=2)
    assert f"…and {len(events) - 2} more." in text
    assert text.startswith(f"rankbot: {len(events)} changes")  # the headline counts them all
    assert text.count("• ") == 2


def test_override_directory_wins_and_runs_sandboxed(tmp_path: Path) -> None:
    events = _sample_events(tmp_path / "a")
    override = tmp_path / "tpl" / "text"
    override.mkdir(parents=True)
    (override / "new_leader.j2").write_text("LEADER {{ e.name }} {{ e.tokens | tokens }}")
    leader = next(e for e in events if e.kind == "new_leader")
    assert Renderer(tmp_path / "tpl").event(leader) == "LEADER minimax/m 1.5T"
    (override / "new_leader.j2").write_text("{{ e.__class__.__mro__ }}")
    with pytest.raises(SecurityError):  # the sandbox refuses it
        bounded_render(Renderer(tmp_path / "tpl").env.get_template("text/new_leader.j2"), {})
    # and at send time the built-in template takes its place
    assert Renderer(tmp_path / "tpl").event(leader) == Renderer().event(leader)


def _override(tmp_path: Path, name: str, text: str) -> Path:
    root = tmp_path / "tpl"
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("text/new_leader.j2", "{% if %}", "text/new_leader.j2 line 1 does not compile"),
        ("slack/grouped.j2", "{{ e | nosuchfilter }}", "slack/grouped.j2 line 1 does not compile"),
        ("discord/surge.j2", "{{ e.__class__.__mro__ }}", "discord/surge.j2 does not render"),
        ("text/drop.j2", "{{ e.no_such_field }}", "text/drop.j2 does not render"),
        (
            "text/grouped.j2",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "more than 200,000 characters",
        ),
        ("slack/_section.j2", "{% for %}", "slack/_section.j2 line 1 does not compile"),
    ],
)
def test_a_bad_or_hostile_override_stops_the_start_naming_the_file(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    root = _override(tmp_path, name, text)
    with pytest.raises(ConfigError, match=re.escape(problem)) as refused:
        check_overrides(root)
    assert str(root / name) in str(refused.value) and "\n" not in str(refused.value)


def test_good_overrides_pass_the_check(tmp_path: Path) -> None:
    root = _override(tmp_path, "text/new_leader.j2", "LEADER {{ e.name }}")
    _override(tmp_path, "slack/new_leader.j2", "*{{ e.name | md }}*")
    check_overrides(root)
    check_overrides(None)


def test_an_override_that_fails_at_send_time_falls_back_to_the_built_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = _sample_events(tmp_path / "a")
    leader = next(e for e in events if e.kind == "new_leader")
    # passes the start-up check (its sample has a rank), fails on this event's data
    root = _override(tmp_path, "text/new_leader.j2", "{{ 1 // (e.rank - 1) }}")
    with caplog.at_level("WARNING", logger="rankbot.render"):
        text = Renderer(root).event(leader)
    assert text == Renderer().event(leader)
    assert "template override text/new_leader.j2 does not render" in caplog.text


def test_warm_compiles_a_flavours_templates_before_the_first_post(tmp_path: Path) -> None:
    """The first alert of a process compiled its templates on the event loop (the worst
    stall of a 5,000-webhook fan-out): `warm` does it at start-up, one flavour at a time,
    and leaves an override that does not compile to `render`'s fallback."""
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "top.j2").write_text("{% if %}broken")
    renderer = Renderer(tmp_path)
    compiled: list[str] = []
    get_template = renderer.env.get_template

    def counting(name: str) -> object:
        compiled.append(name)
        return get_template(name)

    renderer.env.get_template = counting  # type: ignore[method-assign]
    assert renderer.warm("text") is renderer
    assert "text/grouped.j2" in compiled and "text/top.j2" in compiled
    assert not [n for n in compiled if not n.startswith("text/")]
    shipped = [n for n in Renderer().env.list_templates() if n.startswith("text/")]
    assert renderer.env.cache is not None
    assert len(renderer.env.cache) == len(shipped) - 1  # all compiled but the broken one
