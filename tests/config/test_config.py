from __future__ import annotations

from pathlib import Path

import pytest

from bot import app
from bot.cli.common import database_path
from bot.config.file import Config
from bot.core.countries import UNKNOWN, shipped_table
from bot.errors import ConfigError


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "rankbot.toml"
    path.write_text(text)
    return app.load_config(path)


def test_defaults_without_a_file() -> None:
    config = app.load_config(None)
    assert config.detect.top_n == 10 and config.detect.confirm == 1
    assert config.db_path is None  # the store's default location, resolved by the CLI
    assert database_path(config).name == "rankbot.db.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[detect]\ntop_n = 0\n", "[detect] top_n: expected an integer from 1 to 50, got 0"),
        ("[detect]\ntopn = 5\n", "[detect] topn: unknown key (did you mean 'top_n'?)"),
        ("[detect]\nmilestones = [1, -2]\n", "[detect] milestones: expected a list of integers"),
        ("[detect]\nsurge_pct = true\n", "[detect] surge_pct: expected a finite number"),
        ("[detect]\nsurge_pct = nan\n", "[detect] surge_pct: expected a finite number"),
        ("[detect]\nsurge_pct = inf\n", "[detect] surge_pct: expected a finite number"),
        ("[delivery]\nsend_timeout = inf\n", "[delivery] send_timeout: expected a finite number"),
        ("[delivery]\nmax_backoff = -inf\n", "[delivery] max_backoff: expected a finite number"),
        ("[source]\ntimeout = nan\n", "[source] timeout: expected a finite number"),
        (
            "[delivery.limits.slak]\nchannel_messages = 1\n",
            "[delivery.limits.slak]: unknown platform 'slak'; limits apply to console, discord",
        ),
        (
            "[delivery]\nmax_retry_after_seconds = 1e9\n",
            "[delivery] max_retry_after_seconds: expected at most 3600, got 1e+09",
        ),
        ("[delivery]\nresend_within_days = nan\n", "[delivery] resend_within_days: expected a"),
        ("[delivery]\ndrain_seconds = -1\n", "[delivery] drain_seconds: expected a finite"),
        ("[delivery]\nsend_timeout = 1e300\n", "[delivery] send_timeout: expected a finite"),
        ('[countries]\nacme = "ZZ"\n', "[countries] acme: expected an ISO 3166 alpha-2 code"),
        (
            '[[channels]]\nname = "ops"\nplatform = "webhook"\nurl_env = "X"\ntimezone = ""\n',
            '[[channels]] #1 timezone: expected an IANA time zone like "Europe/Berlin", got ""',
        ),
        (f'[source]\ncontact = "{"x" * 5000}"\n', "[source] contact: longer than 1000 characters"),
        ('[countries]\nacme = "China"\n', "[countries] acme: expected an ISO 3166 alpha-2 code"),
        ("[store]\npath = 5\n", "[store] path: expected a string, got 5"),
        ('[templates]\ndir = "nowhere"\n', "is not a directory"),
        ("detect = 3\n", "[detect]: expected a table, got 3"),
        ("[nonsense]\n", "config nonsense: unknown key"),
        ("[detect\n", "is not valid TOML"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert message in str(info.value)


def test_country_overrides_and_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    config = load(
        tmp_path,
        '[store]\npath = "data/x.json"\n[templates]\ndir = "tpl"\n'
        '[countries]\nacme = "de"\nopenai = "unknown"\n',
    )
    assert config.db_path == tmp_path / "data" / "x.json"
    assert config.templates_dir == tmp_path / "tpl"
    assert config.countries.country_of("acme") == "DE"
    assert config.countries.country_of("OpenAI:free") == UNKNOWN
    assert shipped_table().country_of("openai") == "US"  # the shipped table is untouched


def test_shipped_table_maps_every_csv_slug_and_keeps_cloaked_unknown() -> None:
    table = shipped_table()
    assert table.country_of("stepfun-ai") == table.country_of("stepfun") == "CN"
    assert table.country_of("stealth") == UNKNOWN
    assert table.country_of("openrouter") == UNKNOWN
    assert table.country_of("mistralai") == "FR"
    assert table.country_of("never-heard-of") == UNKNOWN
    assert len(table.by_author) >= 87


def test_the_shipped_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    config = app.load_config(example)
    assert config.detect.top_n == 10
    for name in config.sections:
        assert config.section(name) is not None
