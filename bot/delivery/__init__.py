"""Getting planned posts from the outbox to their channels: the sender contract, workers, limits."""
