//! The schema this build writes: its version, the migrations, the event columns,
//! and the store's options.

use std::time::Duration;

/// The schema version this build writes; a database with a higher one is refused.
pub const PG_SCHEMA_VERSION: i32 = 3;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema to version `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE events (
    position bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    stream text NOT NULL,
    version bigint NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    payload bytea NOT NULL,
    occurred_at bigint NOT NULL,
    recorded_at bigint NOT NULL,
    actor_subject text NOT NULL,
    actor_role text NOT NULL,
    site text,
    correlation_id uuid NOT NULL,
    causation_id uuid,
    CONSTRAINT events_stream_version UNIQUE (stream, version)
);
CREATE TABLE log_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL
);
INSERT INTO log_head (position) VALUES (0);
CREATE TABLE snapshots (
    name text PRIMARY KEY,
    bytes bytea NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
",
    "
CREATE INDEX events_actor ON events (actor_subject, position);
CREATE INDEX events_site ON events (site, position);
",
    "
CREATE TABLE recipient_keys (
    recipient uuid PRIMARY KEY,
    key bytea,
    destroyed_at timestamptz
);
",
];

pub(super) const COLUMNS: &str = "position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id";

/// How the store connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The PostgreSQL schema holding CareLedger's tables.
    pub schema: String,
    /// The most events one group-commit transaction takes.
    pub max_batch: usize,
    /// Connections for reads (each pipelines many queries).
    pub readers: usize,
    /// How long to wait for the database at open.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: "careledger".into(),
            max_batch: 4_096,
            readers: 2,
            connect_timeout: Duration::from_secs(10),
        }
    }
}
