//! A stored event's row: times as microseconds since 1970-01-01 UTC, and decoding a
//! row into a [`RecordedEvent`] (an undecodable one is an error naming its place).

use super::connection::unavailable;
use crate::codec::{Codec, StoredAt};
use careledger_domain::ids::EventId;
use careledger_domain::store::{
    Actor, EventMetadata, Position, RecordedEvent, Role, StoreError, StreamName,
};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

pub(super) fn decode_row(row: &Row, codec: &Codec) -> Result<RecordedEvent, StoreError> {
    let get_err = |e: tokio_postgres::Error| unavailable(format!("reading a stored event: {e}"));
    let stream: &str = row.try_get(2).map_err(get_err)?;
    let version = row.try_get::<_, i64>(3).map_err(get_err)? as u64;
    let event_type: &str = row.try_get(4).map_err(get_err)?;
    let schema_version = row.try_get::<_, i32>(5).map_err(get_err)? as u32;
    let corrupt = |detail: String| StoreError::Corrupt {
        stream: stream.to_string(),
        version,
        event_type: event_type.to_string(),
        schema_version,
        detail,
    };
    let payload: &[u8] = row.try_get(6).map_err(get_err)?;
    let event = codec.decode(
        StoredAt { stream, version },
        event_type,
        schema_version,
        payload,
    )?;
    let role_name: &str = row.try_get(10).map_err(get_err)?;
    let role = Role::from_name(role_name)
        .ok_or_else(|| corrupt(format!("unknown actor role '{role_name}'")))?;
    let site = match row.try_get::<_, Option<&str>>(11).map_err(get_err)? {
        None => None,
        Some(s) => Some(SiteId::parse(s).map_err(|e| corrupt(e.to_string()))?),
    };
    let stream_name =
        StreamName::parse_owned(stream.to_string()).map_err(|e| corrupt(e.to_string()))?;
    Ok(RecordedEvent {
        id: EventId::from_uuid(row.try_get(1).map_err(get_err)?),
        stream: stream_name,
        version,
        position: Position::new(row.try_get::<_, i64>(0).map_err(get_err)? as u64),
        recorded_at: from_micros(row.try_get(8).map_err(get_err)?),
        event,
        metadata: EventMetadata {
            occurred_at: from_micros(row.try_get(7).map_err(get_err)?),
            actor: Actor {
                subject: row.try_get::<_, &str>(9).map_err(get_err)?.to_string(),
                role,
            },
            site,
            correlation_id: row.try_get(12).map_err(get_err)?,
            causation_id: row.try_get(13).map_err(get_err)?,
        },
    })
}
