"""Which country a model's developer is in, and the country balance of a snapshot.

The mapping starts from a reviewed table shipped with the package (`data/author-countries.csv`,
with its evidence and confidence per row) and can be extended or overridden from the config.
Cloaked authors (`stealth`, `openrouter`) stay *unknown* on purpose: their volume is reported
next to the comparison, never credited to a country.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.core.model import Entry, author_of

UNKNOWN = "unknown"

COUNTRY_NAMES: Mapping[str, str] = {
    "CN": "China",
    "US": "United States",
    "FR": "France",
    "DE": "Germany",
    "GB": "United Kingdom",
    "CA": "Canada",
    "IL": "Israel",
    "KR": "South Korea",
    "JP": "Japan",
    "IN": "India",
    "AE": "United Arab Emirates",
    "SG": "Singapore",
    "CH": "Switzerland",
    "NL": "Netherlands",
    "SE": "Sweden",
    "FI": "Finland",
    "TW": "Taiwan",
    "HK": "Hong Kong",
}


def flag(code: str) -> str:
    """The emoji flag of an ISO 3166 alpha-2 code (regional indicators); a globe when unknown."""
    if len(code) != 2 or not code.isalpha():
        return "🌐"
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def country_name(code: str) -> str:
    if code == UNKNOWN:
        return "Unknown"
    return COUNTRY_NAMES.get(code.upper(), code.upper())


@dataclass(frozen=True, slots=True)
class CountryTable:
    """Author slug → ISO alpha-2 code (or `unknown`)."""

    by_author: Mapping[str, str]

    def country_of(self, author: str) -> str:
        return self.by_author.get(author_of(author), UNKNOWN)

    def for_entry(self, entry: Entry) -> str:
        """An entry's own `country` (from a replayed file) wins over the table."""
        if entry.country:
            code = entry.country.strip()
            return UNKNOWN if code.lower() == UNKNOWN else code.upper()
        return self.country_of(entry.author)

    def with_overrides(self, overrides: Mapping[str, str]) -> CountryTable:
        merged = dict(self.by_author)
        for author, code in overrides.items():
            merged[author_of(author)] = UNKNOWN if code.lower() == UNKNOWN else code.upper()
        return CountryTable(merged)


@cache
def shipped_table() -> CountryTable:
    """The reviewed table bundled with the package."""
    text = resources.files("bot").joinpath("data/author-countries.csv").read_text("utf-8")
    by_author: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        code = row["iso2"].strip().upper()
        value = UNKNOWN if code in ("", "UNKNOWN") else code
        for slug in row["author_slug"].split(","):
            if slug.strip():
                by_author[author_of(slug)] = value
    return CountryTable(by_author)


@dataclass(frozen=True, slots=True)
class CountryBalance:
    """Token sums per known country, plus the unattributed volume reported beside them."""

    totals: Mapping[str, int]
    unknown: int

    @property
    def known_total(self) -> int:
        return sum(self.totals.values())

    @property
    def shares(self) -> dict[str, float]:
        known = self.known_total
        return {c: (t / known if known else 0.0) for c, t in self.totals.items()}

    @property
    def leader(self) -> str | None:
        """The country with the largest sum (ties by code, so the answer is stable)."""
        if not self.totals:
            return None
        return min(self.totals, key=lambda c: (-self.totals[c], c))


def balance(entries: Iterable[Entry], table: CountryTable) -> CountryBalance:
    totals: dict[str, int] = {}
    unknown = 0
    for entry in entries:
        code = table.for_entry(entry)
        if code == UNKNOWN:
            unknown += entry.tokens
        else:
            totals[code] = totals.get(code, 0) + entry.tokens
    ordered = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
    return CountryBalance(totals=ordered, unknown=unknown)
