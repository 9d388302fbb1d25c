//! The writer thread: group commit. Takes everything queued into one transaction,
//! each append under its own savepoint, and answers idempotent retries.
//!
//! The writer remembers the last version of the streams it wrote recently
//! ([`Versions`]), so the usual append — the next event of a stream it just wrote,
//! or the first of a new stream — is inserted without first asking SQLite for the
//! stream's version (a B-tree lookup per append: ~10% of the writer's time under
//! `append_concurrent`). The memory is only ever trusted to say yes: the
//! `UNIQUE (stream, version)` constraint refuses an insert the memory got wrong (a
//! row written behind the store's back), and every refusal — a collision, a
//! version that does not match — is decided again from the table, as before.

use super::request::AppendRequest;
use super::schema::INSERT_SQL;
use super::schema::{micros, unavailable};
use crate::group_commit::{Queue, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{Appended, Clock, ExpectedVersion, Position, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) head: watch::Sender<u64>,
    pub(super) max_batch: usize,
    pub(super) versions: Versions,
}

/// The last version of the streams written recently: two generations of at most
/// `capacity` streams each; when the newer fills, it becomes the older and the
/// older is forgotten. Streams not remembered are looked up in the table.
pub(super) struct Versions {
    newer: HashMap<Box<str>, u64>,
    older: HashMap<Box<str>, u64>,
    capacity: usize,
}

impl Versions {
    /// Streams remembered per generation by default (two generations: ~3 MB).
    pub(super) const CAPACITY: usize = 16_384;

    pub(super) fn new(capacity: usize) -> Self {
        Self {
            newer: HashMap::new(),
            older: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, stream: &str) -> Option<u64> {
        self.newer
            .get(stream)
            .or_else(|| self.older.get(stream))
            .copied()
    }

    fn put(&mut self, stream: &str, version: u64) {
        if let Some(v) = self.newer.get_mut(stream) {
            *v = version;
            return;
        }
        if self.newer.len() >= self.capacity {
            self.older = std::mem::take(&mut self.newer);
        }
        self.older.remove(stream);
        self.newer.insert(stream.into(), version);
    }

    fn forget(&mut self, stream: &str) {
        self.newer.remove(stream);
        self.older.remove(stream);
    }

    fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }
}

impl Writer {
    pub(super) fn run(mut self, rx: mpsc::Receiver<WriteMsg<AppendRequest>>) {
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
                results.push(append_one(&tx, req, recorded_at, &mut self.versions)?);
            }
            tx.commit()
        })();
        let replies: Vec<Result<Appended, StoreError>> = match outcome {
            Ok(()) => results,
            Err(e) => {
                // Nothing of the batch is stored: what it remembered is not true.
                self.versions.clear();
                batch
                    .iter()
                    .map(|_| Err(unavailable(format!("commit failed: {e}"))))
                    .collect()
            }
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
/// `Result` is this append's own answer. `versions` learns the stream's new last
/// version (the caller forgets everything if the transaction then fails).
fn append_one(
    tx: &rusqlite::Transaction<'_>,
    req: &AppendRequest,
    recorded_at: i64,
    versions: &mut Versions,
) -> rusqlite::Result<Result<Appended, StoreError>> {
    let stream = req.stream.as_str();
    // Where the remembered version (or, for a new stream, nothing remembered)
    // says the append goes. Only a success is trusted.
    let remembered = versions.get(stream);
    let guess = match (req.expected, remembered) {
        (ExpectedVersion::NoStream, None) => Some(0),
        (ExpectedVersion::Exact(v), Some(r)) if v == r => Some(v + 1),
        (ExpectedVersion::Any, Some(r)) => Some(r + 1),
        _ => None,
    };
    if let Some(first_version) = guess {
        if let Some(positions) = insert_events(tx, req, first_version, recorded_at)? {
            versions.put(stream, first_version + req.events.len() as u64 - 1);
            return Ok(Ok(Appended {
                first_version,
                positions,
                duplicate: false,
            }));
        }
        // A collision: the stream is not where memory said, or an event id is
        // already stored (a retry). The table decides.
        versions.forget(stream);
    }
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
        if let Some(a) = actual {
            versions.put(stream, a);
        }
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
    match insert_events(tx, req, first_version, recorded_at)? {
        Some(positions) => {
            versions.put(stream, first_version + req.events.len() as u64 - 1);
            Ok(Ok(Appended {
                first_version,
                positions,
                duplicate: false,
            }))
        }
        // The version was read under the write lock, so the collision is an event
        // id already stored: an idempotent retry (or a mismatch).
        None => idempotent_answer(tx, req),
    }
}

/// Inserts the append's events from `first_version` on, all or none: their
/// positions, or `None` when a constraint refused one (an event id already
/// stored, or a version the stream already has), with nothing of it left.
fn insert_events(
    tx: &rusqlite::Transaction<'_>,
    req: &AppendRequest,
    first_version: u64,
    recorded_at: i64,
) -> rusqlite::Result<Option<Vec<Position>>> {
    let stream = req.stream.as_str();
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
                if savepoint {
                    rollback_savepoint(tx)?;
                }
                return Ok(None);
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
    Ok(Some(positions))
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

#[cfg(test)]
mod tests {
    use super::Versions;

    #[test]
    fn versions_keep_two_generations_of_streams() {
        let mut v = Versions::new(2);
        v.put("a", 1);
        v.put("b", 2);
        // The newer generation is full: it becomes the older one.
        v.put("c", 3);
        assert_eq!(
            (v.get("a"), v.get("b"), v.get("c")),
            (Some(1), Some(2), Some(3))
        );
        // A remembered stream written again moves to the newer generation.
        v.put("a", 4);
        assert_eq!(v.get("a"), Some(4));
        v.put("d", 5);
        // "b" was only in the older generation, which is now forgotten.
        assert_eq!(v.get("b"), None);
        assert_eq!(
            (v.get("a"), v.get("c"), v.get("d")),
            (Some(4), Some(3), Some(5))
        );
        v.forget("a");
        assert_eq!(v.get("a"), None);
    }
}
