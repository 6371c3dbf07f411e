"""The engine: ingest snapshots, plan posts, poll on schedule. Talks to sources and the store."""
