//! The writer thread: group commit. Takes everything queued into one transaction,
//! each append under its own savepoint, and answers idempotent retries.
//!
//! The WAL is made durable by a second thread, the syncer, so that the writer
//! can write the next batch while the last one is being synced (see
//! `sqlite/mod.rs`, "Durability"). The syncer syncs the WAL once for every batch
//! committed since its last sync, then publishes the new head, then answers
//! those batches' callers: `Ok` still means on disk, and nothing a reader of this
//! store can see (reads stop at the published head) is on disk only maybe.

use super::request::AppendRequest;
use super::schema::INSERT_SQL;
use super::schema::{micros, unavailable};
use crate::group_commit::{Queue, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{Appended, Clock, ExpectedVersion, Position, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot, watch};

/// Makes everything the writer committed so far durable (the WAL's `fdatasync`;
/// a test can hold it back or fail it).
pub(super) type SyncWal = Box<dyn FnMut() -> std::io::Result<()> + Send>;

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) max_batch: usize,
    pub(super) syncer: Syncer,
}

type Reply = oneshot::Sender<Result<Appended, StoreError>>;

/// One batch the writer is done with, on its way to the syncer.
struct Committed {
    replies: Vec<(Reply, Result<Appended, StoreError>)>,
    /// Its COMMIT returned: there is something to sync (duplicates included:
    /// what they answer from may have been written by a batch not yet synced).
    committed: bool,
}

/// How many committed batches may wait for the syncer before the writer waits.
const SYNC_QUEUE: usize = 16;

/// The syncer thread, as the writer holds it.
pub(super) struct Syncer {
    batches: std::sync::mpsc::SyncSender<Committed>,
    thread: std::thread::JoinHandle<()>,
    /// Set once a sync failed: what was written since may or may not be on
    /// disk (and a failed fsync may not fail again), so nothing more is written.
    failed: Arc<AtomicBool>,
}

impl Syncer {
    /// Starts the syncer thread, which publishes the durable head on `head`.
    pub(super) fn start(sync: SyncWal, head: watch::Sender<u64>) -> std::io::Result<Self> {
        let failed = Arc::new(AtomicBool::new(false));
        let (batches, rx) = std::sync::mpsc::sync_channel(SYNC_QUEUE);
        let thread = std::thread::Builder::new()
            .name("careledger-sqlite-syncer".into())
            .spawn({
                let failed = failed.clone();
                move || run_syncer(rx, sync, head, &failed)
            })?;
        Ok(Self {
            batches,
            thread,
            failed,
        })
    }

    fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Hands a batch over. A syncer that is gone fails the store (its callers
    /// hear that the writer stopped before answering; later appends are refused
    /// unwritten). It does not die of a panicking sync: that is a failed sync.
    fn send(&self, done: Committed) {
        if self.batches.send(done).is_err() {
            self.failed.store(true, Ordering::Release);
        }
    }

    /// Waits until everything handed over is synced and answered.
    fn finish(self) {
        drop(self.batches);
        let _ = self.thread.join();
    }
}

impl Writer {
    pub(super) fn run(self, rx: mpsc::Receiver<WriteMsg<AppendRequest>>) {
        let Writer {
            mut conn,
            clock,
            max_batch,
            syncer,
        } = self;
        let mut queue = Queue::new(rx, max_batch);
        // `None`: every store handle dropped.
        while let Some(round) = queue.next_blocking() {
            if !round.batch.is_empty() {
                let done = if syncer.failed() {
                    refused(round.batch)
                } else {
                    commit_batch(&mut conn, clock.as_ref(), round.batch)
                };
                syncer.send(done);
            }
            if let Some(ack) = round.shutdown {
                // Everything committed is synced and answered before the
                // shutdown is acknowledged.
                syncer.finish();
                queue.close(ack);
                return;
            }
        }
        syncer.finish();
    }
}

fn refused(batch: Vec<AppendRequest>) -> Committed {
    Committed {
        replies: batch
            .into_iter()
            .map(|req| (req.reply, Err(sync_failed_before())))
            .collect(),
        committed: false,
    }
}

/// The answer to an append refused after a failed sync, before it was written.
fn sync_failed_before() -> StoreError {
    unavailable(
        "an earlier write to the store's file could not be made durable (fsync failed); \
         this append was not written, and nothing more is written until an operator has \
         checked the disk and restarted CareLedger",
    )
}

/// The answer to an append committed but never made durable.
fn maybe_stored(why: &str) -> StoreError {
    unavailable(format!(
        "the store's file could not be made durable ({why}); the append may or may not \
         be stored: after an operator has checked the disk and restarted CareLedger, \
         retry it with the same event ids"
    ))
}

fn commit_batch(conn: &mut Connection, clock: &dyn Clock, batch: Vec<AppendRequest>) -> Committed {
    let recorded_at = micros(clock.now());
    let mut results = Vec::with_capacity(batch.len());
    let outcome = (|| -> rusqlite::Result<()> {
        // IMMEDIATE: take the write lock before reading the stream versions, so
        // another connection (a checkpoint, an operator's sqlite3 shell) can
        // make us wait but never invalidate the snapshot we decided on.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for req in &batch {
            results.push(append_one(&tx, req, recorded_at)?);
        }
        tx.commit()
    })();
    let committed = outcome.is_ok();
    let replies: Vec<Result<Appended, StoreError>> = match outcome {
        Ok(()) => results,
        Err(e) => batch
            .iter()
            .map(|_| Err(unavailable(format!("commit failed: {e}"))))
            .collect(),
    };
    Committed {
        replies: batch
            .into_iter()
            .map(|req| req.reply)
            .zip(replies)
            .collect(),
        committed,
    }
}

/// The syncer thread: for every batch committed since its last sync (however
/// many the writer committed meanwhile), one sync, then the head, then the
/// answers.
fn run_syncer(
    batches: std::sync::mpsc::Receiver<Committed>,
    mut sync: SyncWal,
    head: watch::Sender<u64>,
    failed: &AtomicBool,
) {
    while let Ok(first) = batches.recv() {
        let mut group = vec![first];
        group.extend(batches.try_iter());
        let synced = if !group.iter().any(|c| c.committed) {
            Ok(())
        } else if failed.load(Ordering::Acquire) {
            // Committed after a failed sync, before the writer saw it fail.
            Err(maybe_stored("an earlier fsync failed"))
        } else {
            // A sync that panics has failed like one that returned an error.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut sync))
                .unwrap_or_else(|_| Err(std::io::Error::other("the sync panicked")))
                .map_err(|e| {
                failed.store(true, Ordering::Release);
                tracing::error!(
                    error = %e,
                    "the event store's WAL could not be synced; the store refuses further writes until an operator has checked the disk and restarted it"
                );
                maybe_stored(&format!("fsync failed: {e}"))
            })
        };
        match synced {
            Ok(()) => {
                // Publish the new head *before* answering anyone: a caller that
                // reads `head()` (or the log) after its append returned must see
                // its own write.
                let last = group
                    .iter()
                    .flat_map(|c| c.replies.iter())
                    .filter_map(|(_, r)| r.as_ref().ok())
                    .filter(|a| !a.duplicate)
                    .map(|a| a.last_position().raw())
                    .max();
                if let Some(p) = last {
                    head.send_if_modified(|h| {
                        let moved = p > *h;
                        *h = (*h).max(p);
                        moved
                    });
                }
                for (reply, answer) in group.into_iter().flat_map(|c| c.replies) {
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                for c in group {
                    for (reply, answer) in c.replies {
                        // A batch whose commit failed, or that was refused
                        // unwritten, keeps its own answer.
                        let answer = if c.committed { Err(e.clone()) } else { answer };
                        let _ = reply.send(answer);
                    }
                }
            }
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
