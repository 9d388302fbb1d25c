//! The event-store port (DESIGN §3). Adapters live in `infra`; every adapter passes
//! the same contract suite (`infra/tests/store`).
//!
//! Futures are boxed so the port stays object-safe (`Arc<dyn EventStore>` lets the
//! store be chosen by configuration) without the domain depending on an async
//! runtime: a boxed future is plain `core`.

use crate::event::DomainEvent;
use crate::ids::{EventId, NeedCaseId, RecipientId, ServiceId};
use crate::values::{SiteId, clip};
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

pub use crate::future::BoxFuture;

/// A stream name: `<category>-<uuid>`, e.g. `need-0190…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName(String);

impl StreamName {
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Self::parse_owned(s.to_string())
    }

    /// As [`parse`](Self::parse), keeping the given allocation.
    pub fn parse_owned(mut s: String) -> Result<Self, StoreError> {
        let valid = match s.split_once('-') {
            Some((category, id)) => {
                !category.is_empty()
                    && category.len() <= 32
                    && category.chars().all(|c| c.is_ascii_lowercase())
                    && Uuid::try_parse(id).is_ok()
            }
            None => false,
        };
        if !valid {
            return Err(StoreError::InvalidStreamName { stream: clip(&s) });
        }
        s.make_ascii_lowercase();
        Ok(Self(s))
    }
    pub fn recipient(id: RecipientId) -> Self {
        Self(format!("{}-{}", RecipientId::PREFIX, id))
    }
    pub fn need_case(id: NeedCaseId) -> Self {
        Self(format!("{}-{}", NeedCaseId::PREFIX, id))
    }
    pub fn service(id: ServiceId) -> Self {
        Self(format!("{}-{}", ServiceId::PREFIX, id))
    }
    /// An API key's stream.
    pub fn api_key(id: uuid::Uuid) -> Self {
        Self(format!("apikey-{id}"))
    }
    /// A webhook subscription's stream.
    pub fn webhook(id: uuid::Uuid) -> Self {
        Self(format!("webhook-{id}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn category(&self) -> &str {
        self.0.split('-').next().unwrap_or_default()
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the caller believes the stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this version (versions start at 0).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// A position in the global log: an ordered token. Positions grow with commit
/// order but need not be contiguous; code must not do arithmetic on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position(u64);

impl Position {
    /// Before the first event.
    pub const START: Position = Position(0);
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }
    pub const fn raw(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Coordinator,
    QualityManager,
    ExternalApp,
    Admin,
    /// The server itself (imports, demo data, migrations).
    System,
    /// Staff of an organisation of the directory: the performing side of the
    /// referrals addressed to their organisation's services (DESIGN §1).
    Provider,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Coordinator,
        Role::QualityManager,
        Role::ExternalApp,
        Role::Admin,
        Role::System,
        Role::Provider,
    ];
    pub const fn name(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::QualityManager => "quality_manager",
            Role::ExternalApp => "external_app",
            Role::Admin => "admin",
            Role::System => "system",
            Role::Provider => "provider",
        }
    }
    pub fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// Who did it: a pseudonymous subject (never a name) and a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    pub subject: String,
    pub role: Role,
}

/// The metadata every event carries besides what the store assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMetadata {
    /// When it happened in care (may be earlier than `recorded_at`).
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    /// The site the command was issued for.
    pub site: Option<SiteId>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
}

/// An event to append. Its id is the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: EventId,
    pub event: DomainEvent,
    pub metadata: EventMetadata,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub id: EventId,
    pub stream: StreamName,
    pub version: u64,
    pub position: Position,
    /// Server clock (UTC) at commit.
    pub recorded_at: DateTime<Utc>,
    pub event: DomainEvent,
    pub metadata: EventMetadata,
}

/// The result of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Version of the first event written.
    pub first_version: u64,
    /// Global position of each event, in order.
    pub positions: Vec<Position>,
    /// True when every event id was already stored: nothing new was written and the
    /// original versions and positions are returned.
    pub duplicate: bool,
}

impl Appended {
    /// The stream's version after the append: the expected version for the next one.
    pub fn last_version(&self) -> u64 {
        self.first_version + self.positions.len() as u64 - 1
    }
    pub fn last_position(&self) -> Position {
        *self
            .positions
            .last()
            .expect("an append writes at least one event")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("wrong expected version on stream {stream}: expected {expected}, but the stream {}", match .actual { Some(v) => format!("is at version {v}"), None => "does not exist".to_string() })]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    #[error(
        "event {event_id} was already stored, but not as this append would store it ({detail}); an idempotent retry must repeat the original append exactly"
    )]
    IdempotencyMismatch {
        event_id: EventId,
        /// The stream that holds the stored event (so the caller can check it may
        /// know about that stream before saying anything about the key).
        stored_in: String,
        detail: String,
    },
    #[error("an append to {stream} must hold at least one event")]
    EmptyAppend { stream: String },
    #[error("an append to {stream} holds event id {event_id} twice")]
    DuplicateIdInAppend { stream: String, event_id: EventId },
    #[error("'{stream}' is not a valid stream name: expected '<category>-<uuid>'")]
    InvalidStreamName { stream: String },
    #[error(
        "stored event {stream}@{version} ({event_type} v{schema_version}) cannot be decoded: {detail}"
    )]
    Corrupt {
        stream: String,
        version: u64,
        event_type: String,
        schema_version: u32,
        detail: String,
    },
    #[error(
        "stored event {stream}@{version} has type {event_type} v{schema_version}, which this version of CareLedger does not know"
    )]
    UnknownEventType {
        stream: String,
        version: u64,
        event_type: String,
        schema_version: u32,
    },
    #[error("event store unavailable: {detail}")]
    Unavailable { detail: String },
}

/// The checks every adapter makes before an append reaches storage: at least one
/// event, no event id twice.
///
/// # Errors
/// `EmptyAppend`, `DuplicateIdInAppend`.
pub fn check_append(stream: &StreamName, events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyAppend {
            stream: stream.to_string(),
        });
    }
    if events.len() > 1 {
        let mut seen = std::collections::HashSet::with_capacity(events.len());
        if let Some(dup) = events.iter().find(|e| !seen.insert(e.id)) {
            return Err(StoreError::DuplicateIdInAppend {
                stream: stream.to_string(),
                event_id: dup.id,
            });
        }
    }
    Ok(())
}

/// What an audit query selects: every field given narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub stream: Option<StreamName>,
    /// The actor's subject.
    pub actor: Option<String>,
    /// Events recorded for one of these sites (`None`: any site, or none).
    pub sites: Option<Vec<SiteId>>,
    /// Recorded (server clock) at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    pub fn matches(&self, e: &RecordedEvent) -> bool {
        self.stream.as_ref().is_none_or(|s| *s == e.stream)
            && self
                .actor
                .as_ref()
                .is_none_or(|a| *a == e.metadata.actor.subject)
            && self
                .sites
                .as_ref()
                .is_none_or(|sites| e.metadata.site.as_ref().is_some_and(|s| sites.contains(s)))
            && self.from.is_none_or(|t| e.recorded_at >= t)
            && self.to.is_none_or(|t| e.recorded_at < t)
    }
}

/// A live feed of the global log: first the events after the starting position,
/// then new ones as they commit. Never skips a committed event, never repeats one.
pub trait Subscription: Send {
    /// The next event, waiting for one to commit if need be.
    ///
    /// # Errors
    /// The store's read errors (`Corrupt`, `UnknownEventType`, `Unavailable`). After
    /// an error the subscription stays at the event that failed: calling `next`
    /// again retries it, so nothing is skipped.
    fn next(&mut self) -> BoxFuture<'_, Result<RecordedEvent, StoreError>>;
}

/// The event store (DESIGN §3).
pub trait EventStore: Send + Sync + 'static {
    /// Appends events to one stream, atomically and durably: `Ok` means on disk.
    ///
    /// # Errors
    /// * `WrongExpectedVersion` when the stream is not at `expected`; nothing written.
    /// * Idempotency: when every event id is already stored in this stream at the
    ///   same place, nothing is written and `Ok` returns the original positions with
    ///   `duplicate = true`, whatever `expected` says. When only some are, or they
    ///   are stored elsewhere, `IdempotencyMismatch`; nothing written.
    /// * `EmptyAppend`, `DuplicateIdInAppend` for malformed appends.
    /// * `Unavailable` when the store cannot be reached or written.
    fn append(
        &self,
        stream: StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'_, Result<Appended, StoreError>>;

    /// Up to `limit` events of a stream, from `from_version` on, in version order.
    /// An unknown stream reads as empty.
    ///
    /// # Errors
    /// `Corrupt` / `UnknownEventType` naming the bad event; `Unavailable`.
    fn read_stream(
        &self,
        stream: StreamName,
        from_version: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>>;

    /// Up to `limit` events of the global log strictly after `after`, in position order.
    ///
    /// # Errors
    /// As `read_stream`.
    fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>>;

    /// A subscription to the global log from strictly after `after`.
    fn subscribe_all(&self, after: Position) -> Box<dyn Subscription>;

    /// Up to `limit` events matching `filter`, strictly after `after`, in position
    /// order: the audit trail. Adapters answer from indexes; this default scans the
    /// log page by page.
    ///
    /// # Errors
    /// As `read_all`.
    fn read_audit(
        &self,
        filter: AuditFilter,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut at = after;
            while out.len() < limit {
                let page = self.read_all(at, 4_096).await?;
                let Some(last) = page.last() else { break };
                at = last.position;
                out.extend(page.into_iter().filter(|e| filter.matches(e)));
            }
            out.truncate(limit);
            Ok(out)
        })
    }

    /// The position of the last committed event (`Position::START` when empty).
    ///
    /// # Errors
    /// `Unavailable`.
    fn head(&self) -> BoxFuture<'_, Result<Position, StoreError>>;
}

/// Where checkpoints are kept (projection checkpoints; files for the embedded store, implemented in `infra`).
pub trait SnapshotStore: Send + Sync + 'static {
    /// The latest snapshot saved under `name`, if any.
    ///
    /// # Errors
    /// I/O errors reading it.
    fn load(&self, name: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Replaces the snapshot under `name`, atomically: a crash leaves the old or the new one.
    ///
    /// # Errors
    /// I/O errors writing it.
    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()>;
    /// Replaces the snapshot under `name` with what `write` writes, atomically
    /// like [`Self::save`]. This default collects it and calls `save`; a store
    /// that can stream (a file) overrides it, so that a large model is never
    /// held twice in memory while its checkpoint is written.
    ///
    /// # Errors
    /// `write`'s errors and the store's I/O errors.
    fn save_streamed(
        &self,
        name: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        write(&mut bytes)?;
        self.save(name, &bytes)
    }
    /// Removes the snapshot under `name` (a rebuild starts from nothing).
    ///
    /// # Errors
    /// I/O errors removing it.
    fn remove(&self, name: &str) -> std::io::Result<()>;
    /// The latest snapshot saved under `name`, to read parts of (from several
    /// threads at once). This default loads it whole ([`Self::load`]); a store
    /// that can read in place (a file) overrides it, so that a large checkpoint
    /// is never copied whole into memory while the model is built from it.
    ///
    /// # Errors
    /// I/O errors opening it.
    fn open(&self, name: &str) -> std::io::Result<Option<Box<dyn SnapshotSource>>> {
        Ok(self
            .load(name)?
            .map(|bytes| Box::new(bytes) as Box<dyn SnapshotSource>))
    }
}

/// A saved snapshot, read a part at a time ([`SnapshotStore::open`]).
pub trait SnapshotSource: Send + Sync {
    /// Its length in bytes.
    fn size(&self) -> u64;
    /// Reads into `buf` from `offset`: the bytes read, 0 at the end.
    ///
    /// # Errors
    /// I/O errors reading it.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize>;
}

impl SnapshotSource for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|o| self.get(o..))
            .unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

impl SnapshotSource for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.as_slice().read_at(buf, offset)
    }
}

/// The server clock.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_are_category_dash_uuid() {
        let s = StreamName::parse("need-0190a2b4-0000-7000-8000-000000000001").unwrap();
        assert_eq!(s.category(), "need");
        for bad in [
            "need",
            "need-",
            "Need-0190a2b4-0000-7000-8000-000000000001",
            "need-xyz",
            "-0190a2b4-0000-7000-8000-000000000001",
        ] {
            assert!(StreamName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_version_conflict_says_what_was_expected_and_what_was_found() {
        let e = StoreError::WrongExpectedVersion {
            stream: "need-x".into(),
            expected: ExpectedVersion::Exact(2),
            actual: Some(4),
        };
        assert_eq!(
            e.to_string(),
            "wrong expected version on stream need-x: expected version 2, but the stream is at version 4"
        );
        let e = StoreError::WrongExpectedVersion {
            stream: "need-x".into(),
            expected: ExpectedVersion::Exact(0),
            actual: None,
        };
        assert!(e.to_string().ends_with("does not exist"));
    }
}
