"""The PostgreSQL backend (`PgStore`): several rankbot processes on one database."""

from bot.store.postgres.store import PgStore, migrate_schema

__all__ = ["PgStore", "migrate_schema"]
