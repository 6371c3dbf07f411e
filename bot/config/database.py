"""Where the database is when it is not a file: a PostgreSQL URL (`[store] url` or the
environment's `RANKBOT_DATABASE_URL`), and the checks rankbot makes on it.

Why refuse a password in the config file: config files are committed, copied into images and
pasted into issues; a database password belongs in the environment (`RANKBOT_DATABASE_URL`,
`PGPASSWORD`) or in libpq's `~/.pgpass`, which libpq reads by itself. `sslmode` and the
other libpq parameters stay in the URL's query; `pool_size` (connections per process) may be
given there too, or as `[store] pool_size`: rankbot takes it out before libpq sees the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.errors import ConfigError

URL_ENV = "RANKBOT_DATABASE_URL"
DEFAULT_POOL_SIZE = 5
SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL database: the libpq URL (which may hold a password from the environment:
    never print it, print `shown`) and the pool size per process."""

    url: str
    pool_size: int = DEFAULT_POOL_SIZE

    @property
    def shown(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))

    def __str__(self) -> str:
        return self.shown


Location = Path | DatabaseUrl
"""A database: a TinyDB file, or a PostgreSQL URL."""


def parse_url(text: str, where: str, *, pool_size: int | None, from_file: bool) -> DatabaseUrl:
    """Check a PostgreSQL URL; `where` names the key or variable for the error's one line."""
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"{where}: expected a URL like postgresql://user@host/dbname, got {parts.scheme!r}"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    if from_file and (parts.password is not None or any(k == "password" for k, _ in query)):
        raise ConfigError(
            f"{where}: a password does not belong in the config file: set it in "
            f"{URL_ENV} or PGPASSWORD, or in ~/.pgpass, and keep the URL without it"
        )
    size = pool_size
    kept = []
    for key, value in query:
        if key != "pool_size":
            kept.append((key, value))
            continue
        if not value.isdigit() or not 1 <= int(value) <= 100:
            raise ConfigError(f"{where}: pool_size: expected a number from 1 to 100, got {value!r}")
        size = int(value)
    url = urlunsplit(parts._replace(query=urlencode(kept)))
    return DatabaseUrl(url, size or DEFAULT_POOL_SIZE)
