"""The one place the shell reads the wall clock, and the one `Clock` type: the core never reads
the clock (`now` is passed in), and every shell part takes a `Clock` so tests can inject one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
