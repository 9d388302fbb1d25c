//! Reading: read connections (memory-mapped, stable query plans), pages of rows and
//! decoding each row straight from SQLite's buffers.

use super::schema::{from_micros, unavailable};
use crate::codec::{Codec, StoredAt};
use careledger_domain::ids::EventId;
use careledger_domain::store::{
    Actor, EventMetadata, Position, RecordedEvent, Role, StoreError, StreamName,
};
use careledger_domain::values::SiteId;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use uuid::Uuid;

pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unavailable(format!("cannot open {} for reading: {e}", path.display())))?;
    // mmap: pages are read in place instead of copied through pread(); replay and
    // catch-up read the whole log. Reads only: the writer keeps ordinary I/O.
    conn.execute_batch(
        "PRAGMA query_only=1; PRAGMA busy_timeout=5000; PRAGMA mmap_size=1099511627776;",
    )
    .map_err(unavailable)?;
    stable_plans(&conn).map_err(unavailable)?;
    Ok(conn)
}

/// The bundled SQLite is built with STAT4, under which a cached statement that
/// compares a bound parameter with an indexed column (`WHERE stream = ?1`) is
/// recompiled whenever the binding changes — on every append and every stream read.
/// The query planner stability guarantee keeps one plan per statement; ours are
/// fixed, indexed lookups, so the plan never needs to change.
pub(super) fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

pub(super) fn read_rows(
    conn: &Connection,
    codec: &Codec,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<RecordedEvent>, StoreError> {
    match read_rows_until_error(conn, codec, sql, params, 0) {
        (events, None) => Ok(events),
        (_, Some(e)) => Err(e),
    }
}

/// Reads rows, decoding each straight from SQLite's buffers, and stops at the first
/// that fails: returns what decoded before it, and the error. Subscriptions use the
/// partial result to deliver everything up to a bad event.
pub(super) fn read_rows_until_error(
    conn: &Connection,
    codec: &Codec,
    sql: &str,
    params: impl rusqlite::Params,
    expected: usize,
) -> (Vec<RecordedEvent>, Option<StoreError>) {
    // Sized up front: growing a vector of events by doubling copies them repeatedly.
    let mut out = Vec::with_capacity(expected.min(64 * 1024));
    let mut stmt = match conn.prepare_cached(sql) {
        Ok(s) => s,
        Err(e) => return (out, Some(unavailable(e))),
    };
    let mut rows = match stmt.query(params) {
        Ok(r) => r,
        Err(e) => return (out, Some(unavailable(e))),
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => match decode_row(row, codec) {
                Ok(e) => out.push(e),
                Err(e) => return (out, Some(e)),
            },
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(unavailable(e))),
        }
    }
}

/// Every read stops at the published head (`?3` here): an event past it may be
/// committed but not yet durable (see `writer.rs`).
pub(super) const READ_ALL_SQL: &str =
    "WHERE position > ?1 AND position <= ?3 ORDER BY position LIMIT ?2";
pub(super) const READ_RANGE_SQL: &str = "WHERE position > ?1 AND position <= ?2 ORDER BY position";

/// Pages at least this large are read as two halves at once.
pub(super) const PARALLEL_READ_MIN: usize = 4_096;

fn decode_row(row: &rusqlite::Row<'_>, codec: &Codec) -> Result<RecordedEvent, StoreError> {
    use rusqlite::types::ValueRef;
    let get_err = |e: rusqlite::Error| unavailable(format!("reading a stored event: {e}"));
    let text = |i: usize| -> Result<&str, StoreError> {
        row.get_ref(i)
            .map_err(get_err)?
            .as_str()
            .map_err(|e| get_err(e.into()))
    };
    let stream = text(2)?;
    let version = row.get::<_, i64>(3).map_err(get_err)? as u64;
    let event_type = text(4)?;
    let schema_version = row.get::<_, i64>(5).map_err(get_err)? as u32;
    let corrupt = |detail: String| StoreError::Corrupt {
        stream: stream.to_string(),
        version,
        event_type: event_type.to_string(),
        schema_version,
        detail,
    };
    let payload = match row.get_ref(6).map_err(get_err)? {
        ValueRef::Blob(b) => b,
        _ => return Err(corrupt("payload is not a blob".into())),
    };
    let event = codec.decode(
        StoredAt { stream, version },
        event_type,
        schema_version,
        payload,
    )?;
    let uuid_at = |i: usize, what: &str| -> Result<Option<Uuid>, StoreError> {
        match row.get_ref(i).map_err(get_err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(b) => Uuid::from_slice(b)
                .map(Some)
                .map_err(|_| corrupt(format!("{what} is not a UUID"))),
            _ => Err(corrupt(format!("{what} is not a UUID"))),
        }
    };
    let id = uuid_at(1, "event id")?.ok_or_else(|| corrupt("missing event id".into()))?;
    let correlation_id =
        uuid_at(12, "correlation id")?.ok_or_else(|| corrupt("missing correlation id".into()))?;
    let causation_id = uuid_at(13, "causation id")?;
    let role_name = text(10)?;
    let role = Role::from_name(role_name)
        .ok_or_else(|| corrupt(format!("unknown actor role '{role_name}'")))?;
    let site = match row.get_ref(11).map_err(get_err)? {
        ValueRef::Null => None,
        ValueRef::Text(t) => {
            let t = std::str::from_utf8(t).map_err(|e| corrupt(e.to_string()))?;
            Some(SiteId::try_from(t.to_string()).map_err(|e| corrupt(e.to_string()))?)
        }
        _ => return Err(corrupt("site is not text".into())),
    };
    let stream_name =
        StreamName::parse_owned(stream.to_string()).map_err(|e| corrupt(e.to_string()))?;
    Ok(RecordedEvent {
        id: EventId::from_uuid(id),
        stream: stream_name,
        version,
        position: Position::new(row.get::<_, i64>(0).map_err(get_err)? as u64),
        recorded_at: from_micros(row.get(8).map_err(get_err)?),
        event,
        metadata: EventMetadata {
            occurred_at: from_micros(row.get(7).map_err(get_err)?),
            actor: Actor {
                subject: text(9)?.to_string(),
                role,
            },
            site,
            correlation_id,
            causation_id,
        },
    })
}
