"""Behaviour pinned byte for byte: the demo and `replay` outputs recorded before a refactor.

The files in tests/fixtures/recordings/ were recorded from the real CLI before the code was
restructured; this test runs the same commands through the real CLI (a subprocess, default
config) and compares. A change to what the bot says must show up here as a diff and be
re-recorded on purpose (`RANKBOT_RECORD=1 pytest tests/.../test_recordings.py`), in a commit
that says why.

Only one thing is normalised, because it is truly time-dependent: the demo subscribes its
channel "now" (the real wall clock, as a user would), and its settings reply prints that
moment ("Created by you (demo) on 2026-12-02 03:29 UTC; last changed … on …"). Those two
timestamps become `<now>`. Everything else in the demo is dated by the data, not the clock.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "tests" / "fixtures" / "recordings"
DEMO_HISTORY = ROOT / "bot" / "data" / "demo-history.jsonl"
SYNTHETIC = RECORDINGS / "synthetic-history.jsonl"
RICH = ["--confirm", "1", "--top-n", "5"]
"""The synthetic history was generated for these detection settings."""

CASES: dict[str, list[str]] = {
    "demo.txt": ["demo", "--no-charts"],
    "replay-demo-history.jsonl": ["replay", "--json", str(DEMO_HISTORY)],
    "replay-synthetic.jsonl": ["replay", "--json", *RICH, str(SYNTHETIC)],
    "replay-synthetic.txt": ["replay", *RICH, str(SYNTHETIC)],
}

_NOW = re.compile(r"(?<= on )\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def normalise(name: str, text: str) -> str:
    if name != "demo.txt":
        return text
    return "\n".join(
        _NOW.sub("<now>", line) if line.lstrip().startswith("Created by ") else line
        for line in text.split("\n")
    )


def run_cli(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKBOT_")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_recording(name: str, tmp_path: Path) -> None:
    current = normalise(name, run_cli(CASES[name], tmp_path))
    recorded = RECORDINGS / name
    if os.environ.get("RANKBOT_RECORD") == "1":
        recorded.write_text(current, encoding="utf-8")
    assert recorded.read_text(encoding="utf-8") == current


def test_normalise_touches_only_the_subscription_time() -> None:
    line = (
        "  Created by you (demo) on 2026-12-02 03:29 UTC; "
        "last changed by you (demo) on 2026-12-02 03:30 UTC."
    )
    other = "[week of 2026-01-19] on 2026-01-19 10:00 UTC"
    out = normalise("demo.txt", f"{line}\n{other}")
    assert out.split("\n") == [
        "  Created by you (demo) on <now>; last changed by you (demo) on <now>.",
        other,
    ]
