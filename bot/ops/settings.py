"""The `[ops]` config section: where the health, metrics and admin listener binds.

Off unless `listen` is set (the container image sets it). Loopback by default in examples:
the admin endpoints answer only callers on the loopback interface whatever the address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from bot.config.file import Section
from bot.errors import ConfigError

DEFAULT_PORT = 9464
"""Prometheus' default-port allocation list entry closest to free: 9464."""


@dataclass(frozen=True, slots=True)
class OpsSettings:
    listen: tuple[str, int] | None = None
    """(host, port) of the listener; None: no listener."""
    heartbeat_stale_seconds: float = 30.0
    """`/healthz` answers 503 when the event loop has not stamped its heartbeat for this long."""

    @property
    def url(self) -> str | None:
        """The base URL a command on this machine reaches the listener at."""
        if self.listen is None:
            return None
        host, port = self.listen
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"


def parse_listen(text: str, where: str = "[ops] listen") -> tuple[str, int]:
    """`127.0.0.1:9464`, `[::1]:9464`, `0.0.0.0:9464` or `:9464` (all interfaces)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(
            f'{where}: expected "HOST:PORT" like "127.0.0.1:{DEFAULT_PORT}", got {text!r}'
        )
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ConfigError(
                f"{where}: the host must be an IP address or localhost, got {host!r}"
            ) from None
        host = "127.0.0.1"
    return host, int(port_text)


def parse(section: Section, base: Path) -> OpsSettings:
    """Read `[ops] listen` and `heartbeat_stale_seconds` (`base` is unused)."""
    listen = section.text("listen", None)
    stale = section.number("heartbeat_stale_seconds", 30.0, lo=1.0)
    section.done()
    return OpsSettings(
        listen=parse_listen(listen, f"{section.where} listen") if listen else None,
        heartbeat_stale_seconds=stale,
    )
