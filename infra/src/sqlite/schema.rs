//! The file's layout: schema version, tables and indexes, the durability pragmas,
//! the statements every connection shares, the store's options, and how times and
//! errors map to the columns and the port.

use crate::codec::Codec;
use careledger_domain::store::StoreError;
use chrono::{DateTime, Utc};

/// The schema version this build writes; a file with a higher one is refused.
pub const SCHEMA_VERSION: i64 = 1;

/// The events table. Public so the benchmark's raw-insert baseline uses exactly the
/// same table and indexes.
pub const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS events (
    position        INTEGER PRIMARY KEY,
    event_id        BLOB    NOT NULL UNIQUE,
    stream          TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    actor_subject   TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    site            TEXT,
    correlation_id  BLOB    NOT NULL,
    causation_id    BLOB,
    UNIQUE (stream, version)
);
CREATE INDEX IF NOT EXISTS events_actor ON events (actor_subject, position);
CREATE INDEX IF NOT EXISTS events_site ON events (site, position);";

/// The pragmas a connection that writes opens with. The store's writer then
/// turns `synchronous` to NORMAL and syncs the WAL on its own thread before it
/// answers (`writer.rs`); the benchmark's raw baselines use them as they are.
pub const DURABLE_PRAGMAS: &str =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;";

/// The insert the writer uses (public for the benchmark's raw baseline).
pub const INSERT_SQL: &str = "INSERT INTO events (event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
pub(super) const SELECT_COLUMNS: &str = "SELECT position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id FROM events";

pub struct SqliteOptions {
    /// The most events one group commit takes (bounds a transaction's size).
    pub max_batch_events: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    pub codec: Codec,
    /// What makes the writer's commits durable, instead of the WAL's
    /// `fdatasync` (tests hold it back or fail it; `None` in production).
    #[doc(hidden)]
    pub sync_wal: Option<Box<dyn FnMut() -> std::io::Result<()> + Send>>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_batch_events: 20_000,
            queue_depth: 4_096,
            codec: Codec::default(),
            sync_wal: None,
        }
    }
}

pub(super) fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: detail.to_string(),
    }
}

/// Times are stored as microseconds since 1970-01-01 UTC.
pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}
