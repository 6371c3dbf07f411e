"""End to end through the real command line, in a subprocess like a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
B = 1_000_000_000


def rankbot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RANKBOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=60,
        cwd=ROOT,
    )


def history(tmp_path: Path) -> Path:
    lines = [
        {
            "as_of": "2026-02-02",
            "entries": [
                {
                    "model": "google/gemini-3-flash-preview-20251217",
                    "name": "Gemini 3 Flash Preview",
                    "tokens": 1090 * B,
                },
                {
                    "model": "deepseek/deepseek-v3.2-20251201",
                    "name": "DeepSeek V3.2",
                    "tokens": 790 * B,
                },
                {
                    "model": "anthropic/claude-4.5-sonnet-20250929",
                    "name": "Claude Sonnet 4.5",
                    "tokens": 610 * B,
                },
            ],
        },
        {
            "as_of": "2026-02-09",
            "attribution": "Source: test data",
            "entries": [
                {
                    "model": "minimax/minimax-m2.5-20260211",
                    "name": "MiniMax M2.5",
                    "tokens": 1700 * B,
                },
                {
                    "model": "google/gemini-3-flash-preview-20251217",
                    "name": "Gemini 3 Flash Preview",
                    "tokens": 997 * B,
                },
                {
                    "model": "deepseek/deepseek-v3.2-20251201",
                    "name": "DeepSeek V3.2",
                    "tokens": 798 * B,
                },
                {
                    "model": "anthropic/claude-4.5-sonnet-20250929",
                    "name": "Claude Sonnet 4.5",
                    "tokens": 520 * B,
                },
            ],
        },
    ]
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_replay_json_prints_every_event_with_all_fields(tmp_path: Path) -> None:
    result = rankbot("replay", str(history(tmp_path)), "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["new_leader", "country_flip", "milestone", "new_model"]
    leader = events[0]
    assert leader["key"] == "new_leader:openrouter:week:2026-02-09:minimax/minimax-m2.5-20260211"
    assert leader["name"] == "MiniMax M2.5"
    assert leader["tokens"] == 1700 * B
    assert leader["previous_model"] == "google/gemini-3-flash-preview-20251217"
    assert leader["previous_tokens"] == 1090 * B
    assert leader["attribution"] == "Source: test data"
    flip = events[1]
    assert flip["totals"] == {"CN": 2498 * B, "US": 1517 * B}
    assert flip["unknown"] == 0


def test_replay_text_and_persistent_db_then_top(tmp_path: Path) -> None:
    db = tmp_path / "db.json"
    result = rankbot("replay", str(history(tmp_path)), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "(no alerts)" in result.stdout  # the baseline
    assert "rankbot: 4 changes · 7 days to 9 Feb 2026\n" in result.stdout
    assert "• 🏆 New #1: MiniMax M2.5 leads with 1.7T tokens" in result.stdout
    top = rankbot("top", "2", "--db", str(db))
    assert top.returncode == 0, top.stderr
    assert "1. 🇨🇳 MiniMax M2.5 — 1.7T" in top.stdout
    assert "2. 🇺🇸 Gemini 3 Flash Preview — 997B" in top.stdout
    assert "Source: test data" in top.stdout
    data = json.loads(rankbot("top", "1", "--db", str(db), "--json").stdout)
    assert data["rows"][0]["model"] == "minimax/minimax-m2.5-20260211"


def test_replay_flags_change_detection(tmp_path: Path) -> None:
    result = rankbot("replay", str(history(tmp_path)), "--json", "--confirm", "2")
    assert result.returncode == 0, result.stderr
    kinds = [json.loads(line)["kind"] for line in result.stdout.splitlines()]
    assert "new_leader" not in kinds and "country_flip" not in kinds  # needs two snapshots


def test_bad_history_line_names_file_line_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"as_of": "2026-02-02", "entries": [{"model": "a/x", "tokens": 5}]}\n'
        '{"as_of": "2026-02-09", "entries": [{"model": "a/x", "tokens": -5}]}\n'
    )
    result = rankbot("replay", str(path))
    assert result.returncode == 2
    assert "bad.jsonl:2: entry 1 (a/x) 'tokens': must be a whole number from 0 to" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_tells_the_story_through_the_real_pipeline(tmp_path: Path) -> None:
    result = rankbot("demo", "--charts-dir", str(tmp_path / "charts"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "rankbot: 4 changes · 7 days to 9 Feb 2026\n" in out
    assert "• 🇨🇳 Country flip: models from China now lead" in out
    assert "rankbot: 8 changes · 7 days to 16 Feb 2026\n" in out
    assert "• 🏆 New #1: MiniMax M2.5 leads with 1.7T tokens" in out
    assert "> /top 5" in out
    assert "2. 🇺🇸 Gemini 3 Flash Preview — 997B" in out
    assert "3. 🇨🇳 DeepSeek V3.2 — 798B" in out
    assert "rankbot is now watching this channel, from now on" in out  # one confirmation
    assert out.count("→ console:demo:#llm-rankings") == 5  # confirmation + 4 grouped alerts
    assert "🇨🇳 China: 5.16T (64.6%)" in out and "🇺🇸 United States: 2.7T (33.8%)" in out
    assert "📎 rankbot-countries-openrouter-week-2026-02-09.png" in out
    for kind in ("trend", "countries", "ranks"):
        chart = tmp_path / "charts" / f"{kind}.png"
        assert chart.read_bytes().startswith(b"\x89PNG") and str(chart) in out


def test_malformed_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "rankbot.toml"
    config.write_text('[detect]\ntop_n = "ten"\n')
    result = rankbot("replay", str(history(tmp_path)), "--config", str(config))
    assert result.returncode == 2
    assert '[detect] top_n: expected an integer from 1 to 50, got "ten"' in result.stderr


def test_every_command_has_help() -> None:
    for command in ("demo", "replay", "top"):
        result = rankbot(command, "--help")
        assert result.returncode == 0 and "usage: rankbot " + command in result.stdout


def test_run_without_an_api_key_stops_at_once_and_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OPENROUTER_API_KEY", None)
    for command in (["run"], ["poll", "--once"]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *command, "--db", str(tmp_path / "db.json")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 2
        assert "OPENROUTER_API_KEY is not set: create a key at openrouter.ai/keys" in result.stderr
