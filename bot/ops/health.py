"""Liveness and readiness, decided on the event loop and read by the listener's thread.

Why two sides: `/healthz` must say 503 when the loop is stuck, so it cannot be answered by the
loop; it is answered by the listener thread from the time the loop last stamped its heartbeat
(`beat`, from the `heartbeat` task). Readiness needs the loop's own objects (is the Slack
socket open? did Discord say READY? is a token held as revoked?), so the heartbeat asks its
checks there and publishes the answer as one immutable value the thread reads.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

Check = Callable[[], Awaitable[str | None]]
"""A readiness condition: None when it holds, else why not (one line, no secret)."""

STARTING = "starting"


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Each unmet condition by name (`store`, `slack`, `discord`, `token:slack:T1`, ...)."""


class Health:
    """What the listener reports. Written by the loop (`beat`, `publish`), read by any thread:
    each value is replaced whole, never changed in place, so a reader needs no lock."""

    def __init__(
        self, stale_after: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stale_after = stale_after
        self._clock = clock
        self._beat: float | None = None
        self._checks: dict[str, Check | None] = {}
        self._readiness = Readiness(False, MappingProxyType({"bot": STARTING}))

    # --- the loop's side ---------------------------------------------------------------------

    def expect(self, name: str) -> None:
        """A condition readiness waits for whose check does not exist yet (an adapter that
        is still starting): unmet until `add_check` gives it one."""
        self._checks.setdefault(name, None)

    def add_check(self, name: str, check: Check) -> None:
        self._checks[name] = check

    @property
    def conditions(self) -> tuple[str, ...]:
        """The names of every condition readiness waits for."""
        return tuple(self._checks)

    def beat(self) -> None:
        self._beat = self._clock()

    async def publish(self) -> Readiness:
        """Ask every check (on the loop) and publish the result for the listener."""
        reasons: dict[str, str] = {}
        for name, check in list(self._checks.items()):
            reason = "not started yet" if check is None else await check()
            if reason is not None:
                reasons[name] = reason
        self._readiness = Readiness(not reasons, MappingProxyType(reasons))
        return self._readiness

    # --- the listener's side -----------------------------------------------------------------

    def heartbeat_age(self) -> float | None:
        """Seconds since the loop last stamped its heartbeat (None: never)."""
        beat = self._beat
        return None if beat is None else max(0.0, self._clock() - beat)

    def live(self) -> bool:
        age = self.heartbeat_age()
        return age is not None and age <= self.stale_after

    def readiness(self) -> Readiness:
        """Ready only while live too: a stuck loop serves nothing."""
        readiness = self._readiness
        if not self.live():
            age = self.heartbeat_age()
            why = "no heartbeat yet" if age is None else f"event loop stalled for {age:.0f} s"
            return Readiness(False, {**readiness.reasons, "event_loop": why})
        return readiness
