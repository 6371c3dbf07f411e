"""Timing helpers every client shares, with no I/O of their own: when to try again (`retry`:
Retry-After and backoff), how many requests fit a window (`sliding_window`), when a request
has really timed out (`deadline`), and when long work gives the event loop a turn (`slices`)."""
