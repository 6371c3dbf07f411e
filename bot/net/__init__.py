"""Timing helpers every client shares, with no I/O of their own: when to try again (`retry`:
Retry-After and backoff) and how many requests fit a window (`sliding_window`)."""
