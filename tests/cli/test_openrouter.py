"""`[source]` settings and the `fetch`, `backfill` and `check` commands on the fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
import respx

from bot import app
from bot.cli import openrouter as openrouter_cli
from bot.cli.main import main
from bot.config.file import Config
from bot.errors import ConfigError, ExitCode
from bot.sources.openrouter.settings import SourceSettings
from tests.fakes.openrouter_api import BASE_URL, KEY, FakeApi, history, sample_rows
from tests.helpers import read_store

NOW = datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "rankbot.toml"
    path.write_text(text)
    return app.load_config(path)


def test_defaults_and_per_period_confirm() -> None:
    settings = app.load_config(None).section("source")
    assert settings == SourceSettings()
    assert settings.periods == ("day", "week") and settings.base_url == "https://openrouter.ai"
    assert (settings.every_hours, settings.after_utc) == (3, time(2, 10))
    assert [settings.confirm_for(p) for p in ("day", "week", "month")] == [1, 2, 2]


def test_every_key_is_read(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[source]
kind = "openrouter"
base_url = "http://127.0.0.1:8080/"
periods = ["day", "week", "month"]
contact = "ops@example.org"
timeout = 10
outage_hours = 36
backfill_since = "2024-06-01"
announce_within_days = 5
[source.schedule]
every_hours = 6
after_utc = "02:30"
[source.confirm]
week = 3
""",
    ).section("source")
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.periods == ("day", "week", "month")
    assert settings.contact == "ops@example.org" and settings.timeout == 10
    assert settings.outage_hours == 36 and settings.backfill_since == date(2025, 1, 1)
    assert settings.announce_within_days == 5
    assert (settings.every_hours, settings.after_utc) == (6, time(2, 30))
    assert settings.confirm_for("week") == 3 and settings.confirm_for("month") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "scraper"', "[source] kind: expected one of 'openrouter'"),
        ('periods = ["year"]', "[source] periods: expected a list of day, week, month"),
        ('base_url = "openrouter.ai"', "[source] base_url: expected an http(s) URL"),
        ('[source.schedule]\nafter_utc = "2am"', "[source.schedule] after_utc: expected a time"),
        ("[source.confirm]\nweek = 0", "[source.confirm] week: expected an integer from 1 to 10"),
        ('backfill_since = "2025"', "[source] backfill_since: expected a date"),
        ("announce_within_days = 0", "[source] announce_within_days: expected an integer from 1"),
        ('api_key = "sk-or"', "[source] api_key: unknown key"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[source]\n" + text + "\n").section("source")
    assert message in str(info.value)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    config = tmp_path / "rankbot.toml"
    config.write_text(f'[source]\nbase_url = "{BASE_URL}"\ncontact = "ops@example.org"\n')
    monkeypatch.setenv("RANKBOT_CONFIG", str(config))
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setattr(openrouter_cli, "utcnow", lambda: NOW)
    fake = FakeApi(history(date(2026, 7, 1), date(2026, 7, 30)))
    fake.days[date(2026, 7, 31)] = sample_rows()
    with respx.mock(assert_all_called=False) as router:
        fake.mount(router)
        yield fake


def test_check_says_the_key_works(
    env: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--db", str(tmp_path / "db.json")]) == 0
    out = capsys.readouterr()
    assert "✔ OPENROUTER_API_KEY works: OpenRouter answered for 2026-07-31" in out.out
    assert "✘" not in out.out
    assert KEY not in out.out + out.err


def test_check_explains_a_wrong_key(
    env: FakeApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-wrong-key-77")
    assert main(["check"]) == ExitCode.CREDENTIALS == 7
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "✘ OPENROUTER_API_KEY is missing or wrong: create a key at openrouter.ai/keys and export it"
    )
    assert "chart font: DejaVu Sans" in out  # what the installation can do, whatever the key
    assert "sk-or-v1-wrong-key-77" not in out


def test_check_without_a_key_asks_nothing(
    env: FakeApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")
    assert main(["check"]) == ExitCode.USAGE == 2
    out = capsys.readouterr().out
    assert "✘ environment: OPENROUTER_API_KEY is not set: export OPENROUTER_API_KEY=" in out
    assert env.calls == []


def test_fetch_prints_one_day_with_names_and_attribution_and_stores_nothing(
    env: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "never.db.json"
    assert main(["fetch", "--date", "2026-07-31", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "OpenRouter · day · 2026-07-31: 50 models"
    assert out[1].startswith("  1. DeepSeek V4 Flash") and "1T" in out[1]
    assert any("Nemotron 3 Ultra (free)" in line for line in out)
    assert out[-1] == "Source: OpenRouter (openrouter.ai/rankings), as of 2026-08-01T02:00:00Z."
    assert not db.exists()


def test_fetch_json_is_a_history_line(env: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--json"]) == 0  # default: yesterday, 2026-07-31
    snapshot = json.loads(capsys.readouterr().out)
    assert snapshot["as_of"] == "2026-07-31" and snapshot["period"] == "day"
    assert len(snapshot["entries"]) == 50
    assert snapshot["total"] == sum(t for _, t in sample_rows())
    assert snapshot["entries"][0]["tokens"] == 1_014_960_281_148


def test_fetch_reports_a_suspect_day(env: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    env.days[date(2026, 7, 31)] = sample_rows()[:5]
    assert main(["fetch", "--date", "2026-07-31"]) == ExitCode.SOURCE_FAILED == 8
    assert "rejected as suspect: 2026-07-31: only 5 models" in capsys.readouterr().err


def test_backfill_command_stores_a_silent_baseline_with_a_progress_bar(
    env: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db.json"
    assert main(["backfill", "--since", "2026-07-01", "--db", str(db)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("backfill from 2026-07-01: 2 range(s) fetched with 2 request(s)")
    assert "31 day(s) stored" in out.out
    assert "2/2 ranges, through 2026-07-31" in out.err
    assert len(read_store(db, lambda s: s.history.snapshots("openrouter", "day"))) == 31
    assert read_store(db, lambda s: s.history.events()) == []
