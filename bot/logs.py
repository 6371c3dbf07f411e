"""Logging for every rankbot command: one setup, levels, text or JSON lines, and no secrets.

Why one module: every command (`run`, `poll`, `backfill`, `check`, ...) logs through the same
root handler that `configure` installs, so `--log-level` / `--log-format` (or `[log] level` /
`format`) mean the same everywhere, and the redaction below cannot be bypassed by a command
that forgot to set it up.

Why redaction at the formatter: rankbot's own log calls never print a URL or a token, but the
libraries underneath do (httpx logs every request URL at INFO, discord.py logs webhook routes
with their token at DEBUG, an exception's text may quote a URL). A webhook URL *is* its
secret, so every formatted line, exception text included, passes through `redact` before it
is written: URLs keep only their scheme and host, recognisable tokens are masked, and so is
the value of any environment variable whose name says it holds a secret.

Structured context: pass `extra={"channel": ..., "key": ..., "source": ...}` (see
`CONTEXT_FIELDS`); JSON lines carry them as fields, text lines append them as `name=value`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
CONTEXT_FIELDS = ("source", "channel", "platform", "key", "kind", "attempt", "status")
"""Fields a log call may pass in `extra=` to give a line its structured context."""

QUIET_LIBRARIES: Mapping[str, int] = {
    "httpx": logging.WARNING,  # one INFO line per request, with the full URL
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "matplotlib": logging.WARNING,
    "PIL": logging.WARNING,
    "asyncio": logging.WARNING,
}
"""Libraries whose chatter is never useful at rankbot's INFO or DEBUG (and may name URLs)."""

IRRELEVANT: tuple[tuple[str, str], ...] = (
    ("discord.client", "voice will NOT be supported"),  # rankbot never joins voice
    ("discord.state", "Guilds intent seems to be disabled"),  # Intents.none() on purpose
)
"""(logger, text) of library warnings about features rankbot deliberately does not use."""

_SECRET_ENV = re.compile(r"(TOKEN|SECRET|KEY|PASSWORD|PASS|WEBHOOK|DATABASE_URL|DSN|_URL)$")
_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a URL keeps its scheme and host: paths and queries carry webhook tokens and keys
    (
        re.compile(r"\b([a-z][a-z0-9+.-]*://)(?:[^/\s'\"<>@]*@)?([^/\s'\"<>?#]+)[^\s'\"<>]*"),
        r"\1\2/…",
    ),
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+"), "xox…"),  # Slack bot, user, config tokens
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-…"),  # Slack app-level tokens
    (re.compile(r"\bsk-or-[A-Za-z0-9_-]+"), "sk-or-…"),  # OpenRouter keys
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), "sk-…"),
    # Discord bot tokens: three base64url parts joined by dots
    (re.compile(r"\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"), "…token…"),
    (re.compile(r"\b(Bearer|Bot)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 …"),
)


class Redactor:
    """Masks what a log line must never show (see the module docstring)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        values = {v for k, v in env.items() if _SECRET_ENV.search(k.upper()) and len(v) >= 8}
        self._literals = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._literals:
            if value in text:
                text = text.replace(value, "…secret…")
        for pattern, replacement in _MASKS:
            text = pattern.sub(replacement, text)
        return text


def _relevant(record: logging.LogRecord) -> bool:
    return not any(record.name == name and text in record.getMessage() for name, text in IRRELEVANT)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: getattr(record, k) for k in CONTEXT_FIELDS if getattr(record, k, None) is not None}


class TextFormatter(logging.Formatter):
    """`2026-12-02T05:54:01Z WARNING rankbot.delivery message channel=… key=…`"""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [stamp, record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={v}" for k, v in _context(record).items()]
        line = " ".join(str(p) for p in parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self._redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._redact(record.getMessage()),
        }
        for key, value in _context(record).items():
            out[key] = self._redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exception"] = self._redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(
    level: str = "info",
    fmt: str = "text",
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Send every logger's records at `level` and above to `stream` (stderr) as `fmt` lines.

    Calling it again replaces the handler (the CLI configures from its flags first, then again
    once the config file's `[log]` section is known)."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    redactor = Redactor(environ)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    handler.set_name("rankbot")
    handler.addFilter(_relevant)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    logging.captureWarnings(True)


def current_format() -> str:
    """`json` when the installed handler writes JSON lines, else `text`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return "json"
    return "text"
