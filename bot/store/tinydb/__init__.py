"""The embedded backend: TinyDB files with a journal (`TinyStore`), rankbot's default store."""

from bot.store.tinydb.store import TinyStore, copy_database

__all__ = ["TinyStore", "copy_database"]
