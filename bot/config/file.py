"""The configuration file (TOML), read once and checked strictly.

Every mistake is reported with the key's full path and what was expected, e.g.
`[detect] top_n: expected an integer from 1 to 50, got "ten"`; unknown keys are errors too
(with a suggestion), because a misspelt key silently ignored is a setting that never applies.
Secrets are never read from this file: tokens come from the environment.

This module reads the sections every part shares (`[store]`, `[detect]`, `[countries]`,
`[templates]`); every other section is parsed by its owner, whose parser the composition root
hands in (`bot.app.CONFIG_SECTIONS`), so this module imports none of them and the dependency
is visible where the bot is wired.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config.database import DEFAULT_POOL_SIZE, DatabaseUrl, parse_url
from bot.core.countries import CountryTable, shipped_table
from bot.core.events import DEFAULT_MILESTONES, DetectParams
from bot.core.iso3166 import is_country_code
from bot.errors import ConfigError

_MISSING = object()
MAX_TEXT = 1000
"""Characters in any string setting: longer is a paste gone wrong, not a setting."""
MAX_NUMBER = 1e12
"""Magnitude of any float setting (token thresholds are integers and not bounded by this)."""


class Section:
    """Typed reads from one TOML table, recording which keys were used."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table, got {_show(data)}")
        self.data = data
        self.where = where
        self._used: set[str] = set()

    def _get(self, key: str) -> Any:
        self._used.add(key)
        return self.data.get(key, _MISSING)

    def _fail(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.where} {key}: expected {expected}, got {_show(value)}")

    def integer(
        self, key: str, default: int, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        value = self._get(key)
        if value is _MISSING:
            return default
        expected = _range_text("an integer", lo, hi)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, expected, value)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self._fail(key, expected, value)
        return int(value)

    def number(self, key: str, default: float, *, lo: float | None = None) -> float:
        value = self._get(key)
        if value is _MISSING:
            return default
        expected = _range_text("a finite number", lo, None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, expected, value)
        # TOML allows nan and inf; no setting means anything with them (a timeout of inf
        # seconds is a channel that hangs forever), so they are refused wherever numbers are read
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise self._fail(key, expected, value)
        if lo is not None and value < lo:
            raise self._fail(key, expected, value)
        return float(value)

    def text(self, key: str, default: str | None, *, choices: tuple[str, ...] = ()) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        if len(value) > MAX_TEXT:
            raise ConfigError(
                f"{self.where} {key}: longer than {MAX_TEXT} characters ({len(value)})"
            )
        if choices and value not in choices:
            raise self._fail(key, "one of " + ", ".join(repr(c) for c in choices), value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "a list of strings", value)
        return tuple(value)

    def integers(self, key: str, default: tuple[int, ...], *, lo: int = 1) -> tuple[int, ...]:
        value = self._get(key)
        if value is _MISSING:
            return default
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= lo for v in value
        )
        if not ok:
            raise self._fail(key, f"a list of integers of at least {lo}", value)
        return tuple(value)

    def path(self, key: str, default: Path | None, *, base: Path) -> Path | None:
        value = self.text(key, None)
        if value is None:
            return default
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base / p)

    def table(self, key: str) -> Section:
        value = self._get(key)
        return Section({} if value is _MISSING else value, f"[{_join(self.where, key)}]")

    def tables(self, key: str) -> list[Section]:
        value = self._get(key)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "an array of tables ([[" + key + "]])", value)
        return [Section(v, f"[[{key}]] #{i}") for i, v in enumerate(value, start=1)]

    def done(self) -> None:
        """Fail on keys nobody read: they are typos or settings from another version."""
        for key in self.data:
            if key not in self._used:
                hint = difflib.get_close_matches(key, sorted(self._used), n=1)
                more = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ConfigError(f"{self.where} {key}: unknown key{more}")


def _join(where: str, key: str) -> str:
    inner = where.strip("[]")
    return f"{inner}.{key}" if inner and inner != "config" else key


def _range_text(kind: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{kind} from {lo} to {hi}"
    if lo is not None:
        return f"{kind} of at least {lo}"
    return kind


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


SectionParser = Callable[[Section, Path], Any]
"""Reads one owned section: its `Section` (empty when the file has none) and the config
file's directory (for relative paths); returns the owner's settings object."""


@dataclass(frozen=True)
class Config:
    db_path: Path | None = None
    """`[store] path`; None means the store's default location (`bot.cli.common.database_path`)."""
    keep_sent_days: float = 30.0
    """`[store] keep_sent_days`: how long a sent post's record is kept (`Outbox.prune`)."""
    db_url: DatabaseUrl | None = None
    """`[store] url` (a PostgreSQL database; `RANKBOT_DATABASE_URL` sets it too, see
    `bot.cli.common.config_from_args`) with `[store] pool_size`."""
    detect: DetectParams = field(default_factory=DetectParams)
    countries: CountryTable = field(default_factory=shipped_table)
    templates_dir: Path | None = None
    sections: Mapping[str, Any] = field(default_factory=dict)
    base: Path = field(default_factory=Path.cwd)
    parsers: Mapping[str, SectionParser] = field(default_factory=dict, repr=False, compare=False)
    """The owned sections this config knows, by top-level key (`bot.app.CONFIG_SECTIONS`)."""

    def section(self, name: str) -> Any:
        """The parsed settings of an owned section (its defaults when the file has none)."""
        if name not in self.sections:
            if name not in self.parsers:
                raise KeyError(f"no parser for the [{name}] section was handed to this config")
            parsed = self.parsers[name](Section({}, f"[{name}]"), self.base)
            object.__setattr__(self, "sections", {**self.sections, name: parsed})
        return self.sections[name]

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        base: Path,
        parsers: Mapping[str, SectionParser] | None = None,
    ) -> Config:
        parsers = parsers or {}
        root = Section(data, "config")
        store = root.table("store")
        db_path = store.path("path", None, base=base)
        keep_sent_days = store.number("keep_sent_days", 30.0, lo=1)
        pool_size = store.integer("pool_size", DEFAULT_POOL_SIZE, lo=1, hi=100)
        url = store.text("url", None)
        store.done()
        db_url = None
        if url is not None:
            if db_path is not None:
                raise ConfigError(
                    "[store] path and [store] url both name a database: keep one of them"
                )
            db_url = parse_url(url, "[store] url", pool_size=pool_size, from_file=True)

        det = root.table("detect")
        detect = DetectParams(
            top_n=det.integer("top_n", 10, lo=1, hi=50),
            rank_move=det.integer("rank_move", 3, lo=1),
            surge_pct=det.number("surge_pct", 50.0, lo=1),
            milestones=det.integers("milestones", DEFAULT_MILESTONES),
            confirm=det.integer("confirm", 1, lo=1, hi=10),
        )
        det.done()

        overrides_section = root.table("countries")
        overrides: dict[str, str] = {}
        for author in overrides_section.data:
            code = overrides_section.text(author, None)
            if code is None or not (code.lower() == "unknown" or is_country_code(code)):
                raise ConfigError(
                    f'[countries] {author}: expected an ISO 3166 alpha-2 code like "US" '
                    f'or "unknown", got {_show(code)}'
                )
            overrides[author] = code
        overrides_section.done()

        tpl = root.table("templates")
        templates_dir = tpl.path("dir", None, base=base)
        tpl.done()
        if templates_dir is not None and not templates_dir.is_dir():
            raise ConfigError(f"[templates] dir: {templates_dir} is not a directory")

        sections: dict[str, Any] = {}
        for name, parse in parsers.items():
            if name in data:
                raw = data[name]
                # arrays of tables ([[channels]]) are handed over as a list under "items"
                value = {"items": raw} if isinstance(raw, list) else raw
                sections[name] = parse(Section(value, f"[{name}]"), base)
                root._used.add(name)

        root.done()
        return cls(
            db_path=db_path,
            keep_sent_days=keep_sent_days,
            db_url=db_url,
            detect=detect,
            countries=shipped_table().with_overrides(overrides),
            templates_dir=templates_dir,
            sections=sections,
            base=base,
            parsers=parsers,
        )


def load_config(path: Path | None, parsers: Mapping[str, SectionParser] | None = None) -> Config:
    """Read `path` (or return the defaults when None); raise `ConfigError` naming the key.

    `parsers` are the owned sections the file may hold (`bot.app.CONFIG_SECTIONS`).
    """
    if path is None:
        return Config(parsers=parsers or {})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return Config.from_mapping(data, base=path.parent, parsers=parsers)
