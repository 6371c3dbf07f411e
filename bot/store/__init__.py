"""The one database file (TinyDB, written atomically) and the repositories that own its tables."""
