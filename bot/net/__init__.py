"""Shared network helpers with no I/O of their own: when to try again (`retry`)."""
