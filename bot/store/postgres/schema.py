"""The PostgreSQL backend's schema, as numbered migrations, and how they are applied.

Why documents: each table keeps the TinyDB backend's document as it is (`doc jsonb`), with the
columns the queries need generated from it (`GENERATED ALWAYS AS ... STORED`) and indexed.
The two backends then hold the same data in the same shape, so `rankbot db migrate` copies a
table document by document in either direction, and the repositories share the documents'
meaning (`bot.store.tinydb.outbox.body_document`, `_after`, ...) instead of restating it.
Columns that only PostgreSQL needs (a delivery lease, a shared rate window) are plain columns
outside the document.

Migrations run in order, each in its own transaction, under a session-level advisory lock
(`MIGRATION_LOCK`): when several processes run `rankbot db upgrade` at once, one applies them
and the others wait, then find nothing left to do. `rankbot_schema` records each version
applied; a database whose newest version is below `LATEST` is refused by `PgStore.open` with
the one line that says to run `rankbot db upgrade`.
"""

from __future__ import annotations

from typing import Final

MIGRATION_LOCK: Final = 0x72616E6B  # "rank"
"""The advisory lock key `rankbot db upgrade` holds while it migrates."""

DOC_TABLES: Final = (
    "snapshots",
    "events",
    "state",
    "raw_days",
    "subscriptions",
    "held",
    "outbox",
    "bodies",
    "blobs",
    "slack_installations",
    "slack_oauth_states",
)
"""Every table holding documents, named as the TinyDB backend names its tables."""

_ATTENTION = (
    "(NOT coalesce((doc->>'confirmed')::boolean, false) "
    "AND NOT coalesce((doc->>'paused')::boolean, false)) "
    "OR coalesce(doc->>'mute_until', '') <> ''"
)
_CHART_KEY = (
    "CASE WHEN coalesce((doc->>'chart_pending')::boolean, false) THEN "
    "(doc->'chart'->>'kind') || ':' || (doc->'chart'->>'source') || ':' || "
    "(doc->'chart'->>'period') || ':' || (doc->'chart'->>'as_of') || "
    "coalesce(':' || nullif(doc->'chart'->>'lang', 'en'), '') END"
)

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the schema-3 data model of the TinyDB backend (bot/store/protocols.py SCHEMA_VERSION)
    f"""
    CREATE TABLE snapshots (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        source text GENERATED ALWAYS AS (doc->>'source') STORED,
        period text GENERATED ALWAYS AS (doc->>'period') STORED,
        as_of text GENERATED ALWAYS AS (doc->>'as_of') STORED,
        hash text GENERATED ALWAYS AS (doc->>'hash') STORED,
        UNIQUE (source, period, as_of)
    );
    CREATE TABLE events (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        key text GENERATED ALWAYS AS (doc->>'key') STORED UNIQUE
    );
    CREATE TABLE state (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        key text GENERATED ALWAYS AS (doc->>'key') STORED UNIQUE
    );
    CREATE TABLE raw_days (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        source text GENERATED ALWAYS AS (doc->>'source') STORED,
        day text GENERATED ALWAYS AS (doc->>'day') STORED,
        UNIQUE (source, day)
    );
    CREATE TABLE subscriptions (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        channel text GENERATED ALWAYS AS (doc->>'channel') STORED UNIQUE,
        platform text GENERATED ALWAYS AS (split_part(doc->>'channel', ':', 1)) STORED,
        workspace text GENERATED ALWAYS AS (split_part(doc->>'channel', ':', 2)) STORED,
        paused boolean GENERATED ALWAYS AS
            (coalesce((doc->>'paused')::boolean, false)) STORED,
        attention boolean GENERATED ALWAYS AS ({_ATTENTION}) STORED,
        top_n integer GENERATED ALWAYS AS
            (coalesce((doc->'filters'->>'top_n')::integer, 10)) STORED,
        min_move integer GENERATED ALWAYS AS ((doc->'filters'->>'min_move')::integer) STORED,
        min_change_pct double precision GENERATED ALWAYS AS
            ((doc->'filters'->>'min_change_pct')::double precision) STORED
    );
    ALTER TABLE subscriptions ADD COLUMN rev bigint NOT NULL DEFAULT 0;
    CREATE SEQUENCE subscriptions_rev;
    CREATE FUNCTION stamp_rev() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- writers take turns until they commit, so revisions commit in their order and a
        -- reader that saw revision R never misses a smaller one committed later
        PERFORM pg_advisory_xact_lock(1935832947);
        NEW.rev := nextval('subscriptions_rev');
        RETURN NEW;
    END $$;
    CREATE TRIGGER subscriptions_rev BEFORE INSERT OR UPDATE ON subscriptions
        FOR EACH ROW EXECUTE FUNCTION stamp_rev();
    CREATE INDEX subscriptions_changed ON subscriptions (rev);
    CREATE INDEX subscriptions_workspace ON subscriptions (platform, workspace);
    CREATE INDEX subscriptions_attention ON subscriptions (channel) WHERE attention;
    CREATE TABLE held (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        channel text GENERATED ALWAYS AS (doc->>'channel') STORED,
        event text GENERATED ALWAYS AS (doc->>'event') STORED,
        UNIQUE (channel, event)
    );
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        key text GENERATED ALWAYS AS (doc->>'key') STORED UNIQUE,
        channel text GENERATED ALWAYS AS (doc->>'channel') STORED,
        state text GENERATED ALWAYS AS (doc->>'state') STORED,
        body text GENERATED ALWAYS AS (doc->>'body') STORED,
        finished_at text GENERATED ALWAYS AS (doc->>'finished_at') STORED,
        not_before text GENERATED ALWAYS AS (doc->>'not_before') STORED,
        leased_by text,
        leased_until timestamptz
    );
    CREATE INDEX outbox_pending ON outbox (channel, id) WHERE state = 'pending';
    CREATE INDEX outbox_channel_state ON outbox (channel, state);
    CREATE INDEX outbox_state ON outbox (state, finished_at);
    CREATE INDEX outbox_body ON outbox (body) WHERE body IS NOT NULL;
    CREATE TABLE bodies (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        body_id text GENERATED ALWAYS AS (doc->>'id') STORED UNIQUE,
        chart_key text GENERATED ALWAYS AS ({_CHART_KEY}) STORED
    );
    CREATE INDEX bodies_chart ON bodies (chart_key) WHERE chart_key IS NOT NULL;
    CREATE TABLE blobs (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        blob_id text GENERATED ALWAYS AS (doc->>'id') STORED UNIQUE
    );
    CREATE TABLE slack_installations (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        kind text GENERATED ALWAYS AS (doc->>'kind') STORED,
        team_id text GENERATED ALWAYS AS (doc->>'team_id') STORED
    );
    CREATE INDEX slack_installations_team ON slack_installations (kind, team_id);
    CREATE TABLE slack_oauth_states (
        id bigserial PRIMARY KEY,
        doc jsonb NOT NULL,
        state text GENERATED ALWAYS AS (doc->>'state') STORED
    );
    CREATE TABLE table_versions (
        name text PRIMARY KEY,
        version bigint NOT NULL DEFAULT 0
    );
    INSERT INTO table_versions (name) VALUES ('subscriptions');
    CREATE FUNCTION bump_table_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE table_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
        RETURN NULL;
    END $$;
    CREATE TRIGGER subscriptions_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON subscriptions FOR EACH STATEMENT EXECUTE FUNCTION bump_table_version();
    CREATE TABLE rate_sends (
        bucket text NOT NULL,
        at timestamptz NOT NULL,
        token text
    );
    CREATE INDEX rate_sends_bucket ON rate_sends (bucket, at);
    CREATE INDEX rate_sends_token ON rate_sends (token) WHERE token IS NOT NULL;
    """,
)
"""Migration N is `MIGRATIONS[N - 1]`: append new ones, never change an applied one."""

LATEST: Final = len(MIGRATIONS)

CREATE_VERSIONS: Final = """
CREATE TABLE IF NOT EXISTS rankbot_schema (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
