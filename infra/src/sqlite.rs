//! The embedded event store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! ## Group commit
//! One writer thread owns the only write connection. Appends from any number of
//! tasks are queued to it; it takes everything queued (up to a bound) into one
//! transaction — each multi-event append under its own SAVEPOINT, a single INSERT
//! being atomic by itself — commits once (one fsync for the whole batch), publishes
//! the new head, and only then answers each caller. A conflicting append fails alone;
//! the others in the batch commit.
//!
//! Durability is never traded for speed: `Ok` is sent after COMMIT returned, and
//! with `synchronous=FULL` in WAL mode COMMIT returns after the WAL is fsynced.
//!
//! ## Reads and subscriptions
//! Readers use a small pool of separate connections (WAL lets them read while the
//! writer writes), memory-mapped, decoding rows straight from SQLite's buffers; a
//! large page is read as two halves at once. The writer publishes the last committed position on a `watch`
//! channel; a subscription reads pages after its position and, when it has caught
//! up, sleeps until the published head moves. A single writer commits positions in
//! order, so reading `position > last_seen` after a commit never skips anything.
//!
//! One process owns a store file at a time: an OS lock on `<file>.lock` refuses a
//! second opener with a clear error instead of letting two group-commit writers race.

use crate::codec::{Codec, Encoded, StoredAt};
use crate::group_commit::{Queue, Queued, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{
    Actor, Appended, BoxFuture, Clock, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    Position, RecordedEvent, Role, StoreError, StreamName, Subscription,
};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

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

/// The durability pragmas every connection that writes must use.
pub const DURABLE_PRAGMAS: &str =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;";

/// The insert the writer uses (public for the benchmark's raw baseline).
pub const INSERT_SQL: &str = "INSERT INTO events (event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
const SELECT_COLUMNS: &str = "SELECT position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id FROM events";

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The most events one group commit takes (bounds a transaction's size).
    pub max_batch_events: usize,
    /// How many appends may wait for the writer before callers wait to enqueue.
    pub queue_depth: usize,
    pub codec: Codec,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_batch_events: 20_000,
            queue_depth: 4_096,
            codec: Codec::default(),
        }
    }
}

/// The embedded event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<WriteMsg<AppendRequest>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    head: watch::Receiver<u64>,
    codec: Codec,
    _lock: File,
}

impl Queued for AppendRequest {
    fn events(&self) -> usize {
        self.events.len()
    }
    fn refuse(self, e: StoreError) {
        let _ = self.reply.send(Err(e));
    }
}

struct AppendRequest {
    stream: StreamName,
    expected: ExpectedVersion,
    events: Vec<EncodedNew>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

struct EncodedNew {
    id: EventId,
    encoded: Encoded,
    occurred_at: i64,
    actor_subject: String,
    actor_role: &'static str,
    site: Option<String>,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
}

fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: detail.to_string(),
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

impl SqliteEventStore {
    /// Opens (creating if need be) the store at `path`.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened or locked, is not a CareLedger
    /// store, or was written by a newer CareLedger.
    pub fn open(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
        options: SqliteOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lock_path = path.with_extension("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| unavailable(format!("cannot open {}: {e}", lock_path.display())))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => unavailable(format!(
                "{} is in use by another CareLedger process",
                path.display()
            )),
            std::fs::TryLockError::Error(e) => {
                unavailable(format!("cannot lock {}: {e}", lock_path.display()))
            }
        })?;

        let conn = Connection::open(&path)
            .map_err(|e| unavailable(format!("cannot open {}: {e}", path.display())))?;
        let setup = || -> rusqlite::Result<(String, i64)> {
            stable_plans(&conn)?;
            conn.execute_batch(DURABLE_PRAGMAS)?;
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            Ok((mode, version))
        };
        let (mode, version) = setup().map_err(|e| {
            unavailable(format!(
                "{} is not a usable SQLite store: {e}",
                path.display()
            ))
        })?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(unavailable(format!(
                "{} cannot use WAL journaling (got {mode}); refusing to run without it",
                path.display()
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(unavailable(format!(
                "{} has schema version {version}, newer than this CareLedger understands ({SCHEMA_VERSION}); upgrade CareLedger",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA_SQL)
            .and_then(|_| conn.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION}")))
            .map_err(|e| {
                unavailable(format!(
                    "cannot create the schema in {}: {e}",
                    path.display()
                ))
            })?;
        let head: u64 = conn
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(unavailable)? as u64;

        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(options.queue_depth);
        let max_batch = options.max_batch_events;
        let writer_thread = std::thread::Builder::new()
            .name("careledger-sqlite-writer".into())
            .spawn(move || {
                Writer {
                    conn,
                    clock,
                    head: head_tx,
                    max_batch,
                }
                .run(rx)
            })
            .map_err(|e| unavailable(format!("cannot start the writer thread: {e}")))?;

        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: tx,
                writer_thread: Mutex::new(Some(writer_thread)),
                readers: Mutex::new(Vec::new()),
                head: head_rx,
                codec: options.codec,
                _lock: lock,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Finishes the queued appends, stops the writer and waits for it. Appends after
    /// `close` fail with `Unavailable`.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.writer.send(WriteMsg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        let handle = self
            .inner
            .writer_thread
            .lock()
            .expect("not poisoned")
            .take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
        self.inner.readers.lock().expect("not poisoned").clear();
    }

    fn encode(&self, events: &[NewEvent]) -> Vec<EncodedNew> {
        events
            .iter()
            .map(|e| EncodedNew {
                id: e.id,
                encoded: self.inner.codec.encode(&e.event),
                occurred_at: micros(e.metadata.occurred_at),
                actor_subject: e.metadata.actor.subject.clone(),
                actor_role: e.metadata.actor.role.name(),
                site: e.metadata.site.as_ref().map(|s| s.to_string()),
                correlation_id: e.metadata.correlation_id,
                causation_id: e.metadata.causation_id,
            })
            .collect()
    }

    /// Up to `limit` events after `after`, stopping at the first that fails to
    /// decode: what decoded before it, and the error.
    ///
    /// Reading is CPU-bound (stepping SQLite, decoding JSON), so a large page is cut
    /// at its middle position and the two halves are read and decoded at once, each
    /// on its own pooled connection on the blocking thread pool.
    async fn read_all_partial(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Vec<RecordedEvent>, Option<StoreError>), StoreError> {
        let limit = limit.min(i64::MAX as usize);
        let page = move |after: Position, upto: Option<i64>, limit: usize| {
            move |inner: &Inner, conn: &Connection| {
                Ok(match upto {
                    Some(mid) => read_rows_until_error(
                        conn,
                        &inner.codec,
                        &format!("{SELECT_COLUMNS} {READ_RANGE_SQL}"),
                        params![after.raw() as i64, mid],
                        limit,
                    ),
                    None => read_rows_until_error(
                        conn,
                        &inner.codec,
                        &format!("{SELECT_COLUMNS} {READ_ALL_SQL}"),
                        params![after.raw() as i64, limit as i64],
                        limit,
                    ),
                })
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 || limit < PARALLEL_READ_MIN {
            return self.with_reader(page(after, None, limit)).await;
        }
        let half = limit / 2;
        let mid: Option<i64> = self
            .with_reader(move |_, conn| {
                conn.prepare_cached(
                    "SELECT position FROM events WHERE position > ?1 ORDER BY position LIMIT 1 OFFSET ?2",
                )
                .and_then(|mut st| {
                    st.query_row(params![after.raw() as i64, (half - 1) as i64], |r| r.get(0))
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        let Some(mid) = mid else {
            // Less than half a page left.
            return self.with_reader(page(after, None, limit)).await;
        };
        let (first, second) = tokio::join!(
            self.with_reader(page(after, Some(mid), half)),
            self.with_reader(page(Position::new(mid as u64), None, limit - half)),
        );
        let (mut events, first_error) = first?;
        if first_error.is_some() {
            return Ok((events, first_error));
        }
        let (tail, tail_error) = second?;
        events.extend(tail);
        Ok((events, tail_error))
    }

    /// Runs a read on a pooled connection, off the async threads.
    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.take_reader()?;
            let result = f(&inner, &conn);
            inner.return_reader(conn);
            result
        })
        .await
        .map_err(|e| unavailable(format!("read task failed: {e}")))?
    }
}

impl Inner {
    fn take_reader(&self) -> Result<Connection, StoreError> {
        let pooled = self.readers.lock().expect("not poisoned").pop();
        match pooled {
            Some(c) => Ok(c),
            None => open_reader(&self.path),
        }
    }
    fn return_reader(&self, conn: Connection) {
        self.readers.lock().expect("not poisoned").push(conn);
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
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
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn read_rows(
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
fn read_rows_until_error(
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

const READ_ALL_SQL: &str = "WHERE position > ?1 ORDER BY position LIMIT ?2";
const READ_RANGE_SQL: &str = "WHERE position > ?1 AND position <= ?2 ORDER BY position";

/// Pages at least this large are read as two halves at once.
const PARALLEL_READ_MIN: usize = 4_096;

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

// ---------------------------------------------------------------------------
// The writer thread
// ---------------------------------------------------------------------------

struct Writer {
    conn: Connection,
    clock: Arc<dyn Clock>,
    head: watch::Sender<u64>,
    max_batch: usize,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<WriteMsg<AppendRequest>>) {
        let mut queue = Queue::new(rx, self.max_batch);
        // `None`: every store handle dropped.
        while let Some(round) = queue.next_blocking() {
            if !round.batch.is_empty() {
                self.commit_batch(round.batch);
            }
            if let Some(ack) = round.shutdown {
                queue.close(ack);
                return;
            }
        }
    }

    fn commit_batch(&mut self, batch: Vec<AppendRequest>) {
        let recorded_at = micros(self.clock.now());
        let mut results = Vec::with_capacity(batch.len());
        let outcome = (|| -> rusqlite::Result<()> {
            // IMMEDIATE: take the write lock before reading the stream versions, so
            // another connection (a checkpoint, an operator's sqlite3 shell) can
            // make us wait but never invalidate the snapshot we decided on.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for req in &batch {
                results.push(append_one(&tx, req, recorded_at)?);
            }
            tx.commit()
        })();
        let replies: Vec<Result<Appended, StoreError>> = match outcome {
            Ok(()) => results,
            Err(e) => batch
                .iter()
                .map(|_| Err(unavailable(format!("commit failed: {e}"))))
                .collect(),
        };
        // Publish the new head *before* answering anyone: a caller that reads
        // `head()` after its append returned must see its own write.
        let last = replies
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|a| !a.duplicate)
            .map(|a| a.last_position().raw())
            .max();
        if let Some(p) = last {
            self.head.send_if_modified(|h| {
                let moved = p > *h;
                *h = (*h).max(p);
                moved
            });
        }
        for (req, reply) in batch.into_iter().zip(replies) {
            let _ = req.reply.send(reply);
        }
    }
}

/// One append inside the batch transaction, under its own savepoint. An `Err` from
/// the outer `Result` is an SQLite fault that fails the whole batch; the inner
/// `Result` is this append's own answer.
fn append_one(
    tx: &rusqlite::Transaction<'_>,
    req: &AppendRequest,
    recorded_at: i64,
) -> rusqlite::Result<Result<Appended, StoreError>> {
    let stream = req.stream.as_str();
    let actual: Option<u64> = tx
        .prepare_cached("SELECT MAX(version) FROM events WHERE stream = ?1")?
        .query_row([stream], |r| r.get::<_, Option<i64>>(0))?
        .map(|v| v as u64);
    let matches = match req.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual.is_none(),
        ExpectedVersion::Exact(v) => actual == Some(v),
    };
    if !matches {
        // A retry of an append that already committed lands here: its stream has
        // moved on. Answer it from the stored events rather than as a conflict.
        if id_stored(tx, req.events[0].id)? {
            return idempotent_answer(tx, req);
        }
        return Ok(Err(StoreError::WrongExpectedVersion {
            stream: stream.to_string(),
            expected: req.expected,
            actual,
        }));
    }
    let first_version = actual.map_or(0, |v| v + 1);
    // A single INSERT is atomic on its own (SQLite undoes a failed statement), so
    // only multi-event appends need a savepoint to fail as a whole.
    let savepoint = req.events.len() > 1;
    if savepoint {
        tx.prepare_cached("SAVEPOINT append")?.execute([])?;
    }
    let mut positions = Vec::with_capacity(req.events.len());
    let mut insert = tx.prepare_cached(INSERT_SQL)?;
    for (i, e) in req.events.iter().enumerate() {
        let inserted = insert.execute(params![
            e.id.as_uuid().as_bytes().as_slice(),
            stream,
            (first_version + i as u64) as i64,
            e.encoded.event_type,
            e.encoded.schema_version,
            e.encoded.payload,
            e.occurred_at,
            recorded_at,
            e.actor_subject,
            e.actor_role,
            e.site,
            e.correlation_id.as_bytes().as_slice(),
            e.causation_id.as_ref().map(|c| c.as_bytes().as_slice()),
        ]);
        match inserted {
            Ok(_) => positions.push(Position::new(tx.last_insert_rowid() as u64)),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                // An event id already stored: undo this append, then answer it as
                // an idempotent retry (or a mismatch).
                if savepoint {
                    rollback_savepoint(tx)?;
                }
                return idempotent_answer(tx, req);
            }
            Err(e) => {
                if savepoint {
                    rollback_savepoint(tx)?;
                }
                return Err(e);
            }
        }
    }
    if savepoint {
        tx.prepare_cached("RELEASE append")?.execute([])?;
    }
    Ok(Ok(Appended {
        first_version,
        positions,
        duplicate: false,
    }))
}

fn rollback_savepoint(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached("ROLLBACK TO append")?.execute([])?;
    tx.prepare_cached("RELEASE append")?.execute([])?;
    Ok(())
}

fn id_stored(tx: &rusqlite::Transaction<'_>, id: EventId) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM events WHERE event_id = ?1")?
        .query_row([id.as_uuid().as_bytes().as_slice()], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

fn idempotent_answer(
    tx: &rusqlite::Transaction<'_>,
    req: &AppendRequest,
) -> rusqlite::Result<Result<Appended, StoreError>> {
    let mut stmt =
        tx.prepare_cached("SELECT stream, version, position FROM events WHERE event_id = ?1")?;
    let mut found = Vec::with_capacity(req.events.len());
    for e in &req.events {
        let row: Option<(String, i64, i64)> = stmt
            .query_row([e.id.as_uuid().as_bytes().as_slice()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        found.push((e.id, row));
    }
    let stored = found.iter().filter(|(_, r)| r.is_some()).count();
    let mismatch = |event_id: EventId, stored_in: &str, detail: String| {
        Ok(Err(StoreError::IdempotencyMismatch {
            event_id,
            stored_in: stored_in.to_string(),
            detail,
        }))
    };
    if stored < found.len() {
        let (id, row) = found
            .iter()
            .find(|(_, r)| r.is_some())
            .expect("called because one is stored");
        let stored_in = row.as_ref().map_or("", |(s, _, _)| s.as_str());
        return mismatch(
            *id,
            stored_in,
            format!(
                "only {stored} of the {} events of this append are stored",
                found.len()
            ),
        );
    }
    let mut positions = Vec::with_capacity(found.len());
    let mut first_version = 0;
    for (i, (id, row)) in found.into_iter().enumerate() {
        let (stream, version, position) = row.expect("all stored");
        if stream != req.stream.as_str() {
            return mismatch(
                id,
                &stream,
                format!("it is stored in stream {stream}, not {}", req.stream),
            );
        }
        if i == 0 {
            first_version = version as u64;
        } else if version as u64 != first_version + i as u64 {
            return mismatch(
                id,
                &stream,
                format!("it is stored at version {version}, out of this append's order"),
            );
        }
        positions.push(Position::new(position as u64));
    }
    Ok(Ok(Appended {
        first_version,
        positions,
        duplicate: true,
    }))
}

// ---------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------

impl EventStore for SqliteEventStore {
    fn append(
        &self,
        stream: StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'_, Result<Appended, StoreError>> {
        Box::pin(async move {
            careledger_domain::store::check_append(&stream, &events)?;
            // Encoding happens here, on the caller's task, so it runs in parallel
            // with the writer's inserts instead of inside the batch.
            let events = self.encode(&events);
            let (reply, answer) = oneshot::channel();
            let request = AppendRequest {
                stream,
                expected,
                events,
                reply,
            };
            self.inner
                .writer
                .send(WriteMsg::Append(request))
                .await
                .map_err(|_| unavailable("the store is closed"))?;
            answer
                .await
                .map_err(|_| unavailable("the writer stopped before answering"))?
        })
    }

    fn read_stream(
        &self,
        stream: StreamName,
        from_version: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(self.with_reader(move |inner, conn| {
            read_rows(
                conn,
                &inner.codec,
                &format!(
                    "{SELECT_COLUMNS} WHERE stream = ?1 AND version >= ?2 ORDER BY version LIMIT ?3"
                ),
                params![
                    stream.as_str(),
                    from_version as i64,
                    limit.min(i64::MAX as usize) as i64
                ],
            )
        }))
    }

    fn read_audit(
        &self,
        filter: careledger_domain::store::AuditFilter,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        use rusqlite::types::Value;
        let mut sql = format!("{SELECT_COLUMNS} WHERE position > ?1");
        let mut params: Vec<Value> = vec![Value::Integer(after.raw() as i64)];
        let mut bind = |sql: &mut String, clause: &str, v: Value| {
            params.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
        };
        if let Some(st) = &filter.stream {
            bind(&mut sql, " AND stream = ?", Value::Text(st.to_string()));
        }
        if let Some(a) = &filter.actor {
            bind(&mut sql, " AND actor_subject = ?", Value::Text(a.clone()));
        }
        if let Some(t) = filter.from {
            bind(&mut sql, " AND recorded_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.to {
            bind(&mut sql, " AND recorded_at < ?", Value::Integer(micros(t)));
        }
        if let Some(sites) = &filter.sites {
            let mut list = Vec::new();
            for s in sites {
                params.push(Value::Text(s.to_string()));
                list.push(format!("?{}", params.len()));
            }
            if list.is_empty() {
                sql.push_str(" AND 0");
            } else {
                sql.push_str(&format!(" AND site IN ({})", list.join(",")));
            }
        }
        params.push(Value::Integer(limit.min(i64::MAX as usize) as i64));
        sql.push_str(&format!(" ORDER BY position LIMIT ?{}", params.len()));
        Box::pin(self.with_reader(move |inner, conn| {
            read_rows(
                conn,
                &inner.codec,
                &sql,
                rusqlite::params_from_iter(params.iter()),
            )
        }))
    }

    fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            match self.read_all_partial(after, limit).await? {
                (events, None) => Ok(events),
                (_, Some(e)) => Err(e),
            }
        })
    }

    fn subscribe_all(&self, after: Position) -> Box<dyn Subscription> {
        Box::new(SqliteSubscription {
            store: self.clone(),
            after,
            buffer: VecDeque::new(),
            head: self.inner.head.clone(),
            ahead: None,
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<Position, StoreError>> {
        let head = *self.inner.head.borrow();
        Box::pin(async move { Ok(Position::new(head)) })
    }
}

/// How many events a subscription reads per page while catching up; also a good
/// page size for callers replaying the log with `read_all` (large enough to amortise
/// the parallel read's set-up, small enough to keep a page's memory to a few MB).
pub const REPLAY_PAGE: usize = 16_384;

/// A page read: the events that decoded, and the error that stopped it, if any.
type PartialPage = (Vec<RecordedEvent>, Option<StoreError>);

struct SqliteSubscription {
    store: SqliteEventStore,
    after: Position,
    buffer: VecDeque<RecordedEvent>,
    head: watch::Receiver<u64>,
    /// While catching up, the next page is read while the consumer drains this one.
    ahead: Option<tokio::task::JoinHandle<Result<PartialPage, StoreError>>>,
}

impl SqliteSubscription {
    /// Delivers a page: fills the buffer and, when the page was full (more is likely
    /// waiting), starts reading the one after it. Returns the page's error when
    /// nothing before it decoded.
    fn take_page(&mut self, (page, error): PartialPage) -> Option<StoreError> {
        if page.is_empty() {
            return error;
        }
        if error.is_none() && page.len() == REPLAY_PAGE {
            let store = self.store.clone();
            let last = page.last().expect("not empty").position;
            self.ahead = Some(tokio::spawn(async move {
                store.read_all_partial(last, REPLAY_PAGE).await
            }));
        }
        // Deliver what decoded; a bad event is read (and fails) again next time.
        self.buffer.extend(page);
        None
    }
}

impl Drop for SqliteSubscription {
    fn drop(&mut self) {
        if let Some(h) = self.ahead.take() {
            h.abort();
        }
    }
}

impl Subscription for SqliteSubscription {
    fn next(&mut self) -> BoxFuture<'_, Result<RecordedEvent, StoreError>> {
        Box::pin(async move {
            loop {
                if let Some(e) = self.buffer.pop_front() {
                    self.after = e.position;
                    return Ok(e);
                }
                // The buffer is drained, so a page read ahead starts exactly after it.
                if let Some(ahead) = self.ahead.take() {
                    let page = ahead
                        .await
                        .map_err(|e| unavailable(format!("read task failed: {e}")))??;
                    if let Some(e) = self.take_page(page) {
                        return Err(e);
                    }
                    continue;
                }
                // Mark the head as seen *before* reading, so a commit that lands
                // between the read and the wait still wakes us.
                let head = *self.head.borrow_and_update();
                if head > self.after.raw() {
                    let page = self.store.read_all_partial(self.after, REPLAY_PAGE).await?;
                    let delivered = !page.0.is_empty();
                    if let Some(e) = self.take_page(page) {
                        return Err(e);
                    }
                    if delivered {
                        continue;
                    }
                }
                if self.head.changed().await.is_err() {
                    // The writer is gone (store closed): nothing more will commit.
                    return Err(unavailable("the store is closed"));
                }
            }
        })
    }
}
