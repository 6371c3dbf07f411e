"""The `[log]` config section: how much every command logs, and in which format.

`--log-level` and `--log-format` on the command line win over it; `bot.logs` does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config.file import Section
from bot.logs import FORMATS, LEVELS


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str | None = None
    """None: the command's own default (`info` for `run` and `poll`, `warning` otherwise)."""
    format: str = "text"


def parse(section: Section, base: Path) -> LogSettings:
    """Read `[log] level` and `format` (`base` is unused)."""
    settings = LogSettings(
        level=section.text("level", None, choices=LEVELS),
        format=section.text("format", "text", choices=FORMATS) or "text",
    )
    section.done()
    return settings
