"""The JSON Lines history format: one snapshot per line, for replay, import and export.

Parsing and serialising only: reading a file is the replay source's job
(`bot.sources.replay.load_history`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from bot.core.model import Snapshot, SnapshotError
from bot.errors import HistoryError

MAX_LINE = 1_000_000
"""Characters in one line: a snapshot of 10,000 entries fits easily; anything larger is not a
history file (and would make a single `json.loads` hold the process)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_history(lines: Iterable[str], *, name: str = "<input>") -> Iterator[Snapshot]:
    """Snapshots from JSON Lines; any bad line raises `HistoryError` naming `name:line`.

    Lines read with `errors="surrogateescape"` (see `bot.sources.replay.load_history`) carry
    invalid UTF-8 as lone surrogates, which are refused here with their line number.
    """
    number = 0
    iterator = iter(lines)
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise HistoryError(f"{name}:{number + 1}: not valid UTF-8 text") from None
        number += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if any("\udc80" <= c <= "\udcff" for c in line):
            raise HistoryError(f"{name}:{number}: not valid UTF-8 text")
        if len(line) > MAX_LINE:
            raise HistoryError(f"{name}:{number}: longer than {MAX_LINE} characters")
        try:
            data = json.loads(line, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{name}:{number}: not valid JSON ({exc.msg})") from None
        except ValueError as exc:
            raise HistoryError(f"{name}:{number}: {exc}") from None
        except RecursionError:
            raise HistoryError(f"{name}:{number}: JSON nested too deeply") from None
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
