//! The writer thread: group commit. Takes everything queued into one transaction,
//! each append under its own savepoint, and answers idempotent retries.

use super::request::AppendRequest;
use super::schema::INSERT_SQL;
use super::schema::{micros, unavailable};
use crate::group_commit::{Queue, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{Appended, Clock, ExpectedVersion, Position, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) head: watch::Sender<u64>,
    pub(super) max_batch: usize,
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
