"""Helpers every client shares: when to try again (`retry`: Retry-After and backoff), how many
requests fit a window (`sliding_window`), when a request has really timed out (`deadline`),
when long work gives the event loop a turn (`slices`), and how much of an HTTP answer is read
(`bodies`)."""
