"""Hostile history files: every bad line is refused with `file:line` and the reason, through
the parser and through the real `rankbot replay` command (one line, exit code 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.history_format import read_history
from bot.errors import ExitCode, HistoryError
from bot.sources.replay import load_history

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "source": "openrouter",
    "period": "week",
    "as_of": "2026-02-16",
    "entries": [{"model": "a/x", "tokens": 5}],
}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def entry_line(**entry: object) -> str:
    return json.dumps({**GOOD, "entries": [{"model": "a/x", "tokens": 5, **entry}]})


CASES = [
    (entry_line(tokens=10**400), "'tokens': must be a whole number"),
    (entry_line(tokens="9" * 5000), "'tokens': must be a whole number"),
    (
        '{"source": "openrouter", "as_of": "2026-02-16", "entries": '
        '[{"model": "a/x", "tokens": NaN}]}',
        "NaN is not a number JSON allows",
    ),
    (
        '{"source": "openrouter", "as_of": "2026-02-16", "entries": '
        '[{"model": "a/x", "tokens": Infinity}]}',
        "Infinity is not a number JSON allows",
    ),
    (entry_line(tokens="١٢٣"), "'tokens': must be a whole number"),
    (entry_line(tokens=" 12 "), "'tokens': must be a whole number"),
    (entry_line(country="ZZZ"), "'country' must be an ISO 3166 alpha-2 code"),
    (entry_line(lower_bound="false"), "'lower_bound' must be true or false"),
    (line(total=1), "less than the entries' sum"),
    (line(source="x\u0000y"), "control character U+0000"),
    (entry_line(model="a/" + "x" * 500), "longer than 200 characters"),
    (entry_line(name="n" * 1000), "longer than 200 characters"),
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    ('{"as_of": "2026-02-16", "entries": [', "not valid JSON"),
]


@pytest.mark.parametrize(("text", "reason"), CASES)
def test_a_bad_line_names_file_line_and_reason(text: str, reason: str) -> None:
    with pytest.raises(HistoryError) as caught:
        list(read_history(["# a comment", "", line(), text], name="h.jsonl"))
    message = str(caught.value)
    assert message.startswith("h.jsonl:4: ")
    assert reason in message
    assert len(message) < 300 and "\n" not in message


def test_invalid_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(line().encode() + b"\n" + b'{"source": "\xff\xfe"}\n')
    with pytest.raises(HistoryError, match=r"h\.jsonl:2: not valid UTF-8 text"):
        load_history(path)


def test_a_good_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([line(), line(as_of="2026-02-23")]) + "\n")
    assert [s.as_of.isoformat() for s in load_history(path)] == ["2026-02-16", "2026-02-23"]


@pytest.mark.parametrize("index", [0, 6, 12])
def test_replay_of_a_hostile_file_is_one_line_and_exit_2(tmp_path: Path, index: int) -> None:
    text, reason = CASES[index]
    path = tmp_path / "bad.jsonl"
    path.write_text(line() + "\n" + text + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "replay", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == ExitCode.USAGE
    [message] = done.stderr.strip().splitlines()
    assert message.startswith(f"rankbot: error: {path}:2: ") and reason in message
