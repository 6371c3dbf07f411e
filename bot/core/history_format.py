"""The JSON Lines history format: one snapshot per line, for replay, import and export.

Parsing and serialising only: reading a file is the replay source's job
(`bot.sources.replay.load_history`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from bot.core.model import Snapshot, SnapshotError
from bot.errors import HistoryError


def read_history(lines: Iterable[str], *, name: str = "<input>") -> Iterator[Snapshot]:
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{name}:{number}: not valid JSON ({exc.msg})") from exc
        try:
            yield Snapshot.from_dict(data)
        except SnapshotError as exc:
            raise HistoryError(f"{name}:{number}: {exc}") from exc


def write_history(snapshots: Iterable[Snapshot], out: TextIO) -> int:
    count = 0
    for snapshot in snapshots:
        out.write(json.dumps(snapshot.to_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count
