//! [`SqliteEventStore`]: opening a file (lock, migration, the writer thread, the
//! reader pool) and reading pages of the log.

use super::read::{
    PARALLEL_READ_MIN, READ_ALL_SQL, READ_RANGE_SQL, open_reader, read_rows_until_error,
    stable_plans,
};
use super::request::{AppendRequest, EncodedNew};
use super::schema::{DURABLE_PRAGMAS, SCHEMA_SQL, SCHEMA_VERSION, SELECT_COLUMNS, SqliteOptions};
use super::schema::{micros, unavailable};
use super::writer::{Syncer, Writer};
use crate::codec::Codec;
use crate::group_commit::WriteMsg;
use careledger_domain::store::{Clock, NewEvent, Position, RecordedEvent, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// The embedded event store. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SqliteEventStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    path: PathBuf,
    /// `None` only while the last handle is dropped (see `Drop`).
    writer: Option<mpsc::Sender<WriteMsg<AppendRequest>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    pub(super) head: watch::Receiver<u64>,
    pub(super) codec: Codec,
    /// Released after the writer is done (fields drop after `Drop::drop`).
    _lock: File,
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
        mut options: SqliteOptions,
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
        // The writer's commits do not sync the WAL themselves; its syncer thread
        // does, and answers only then (`writer.rs`). What a process killed
        // before could not sync is made durable now, before anything reads it.
        // The WAL file may be new (SQLite deletes it when the last connection
        // closes), so its directory entry is synced too, once. Its name is
        // SQLite's own (`conn.path()`: the database's resolved file name, a
        // symbolic link followed, plus `-wal`).
        let wal_path = wal_path(&conn, &path)?;
        let wal = open_wal(&wal_path)?;
        wal.sync_data()
            .and_then(|()| sync_dir(&wal_path))
            .map_err(|e| unavailable(format!("cannot sync {}: {e}", wal_path.display())))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(unavailable)?;
        let head: u64 = conn
            .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(unavailable)? as u64;

        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel(options.queue_depth);
        let max_batch = options.max_batch_events;
        let sync = options
            .sync_wal
            .take()
            .unwrap_or_else(|| Box::new(move || wal.sync_data()));
        let syncer = Syncer::start(sync, head_tx)
            .map_err(|e| unavailable(format!("cannot start the syncer thread: {e}")))?;
        let writer_thread = std::thread::Builder::new()
            .name("careledger-sqlite-writer".into())
            .spawn(move || {
                Writer {
                    conn,
                    clock,
                    max_batch,
                    syncer,
                }
                .run(rx)
            })
            .map_err(|e| unavailable(format!("cannot start the writer thread: {e}")))?;

        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Some(tx),
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
        if self
            .inner
            .writer()
            .send(WriteMsg::Shutdown(tx))
            .await
            .is_ok()
        {
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

    pub(super) fn encode(&self, events: &[NewEvent]) -> Vec<EncodedNew> {
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
    pub(super) async fn read_all_partial(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Vec<RecordedEvent>, Option<StoreError>), StoreError> {
        let limit = limit.min(i64::MAX as usize);
        // Nothing past the published head: it may not be durable yet.
        let head = self.inner.durable_head();
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
                        params![after.raw() as i64, limit as i64, head],
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
                    "SELECT position FROM events WHERE position > ?1 AND position <= ?3 ORDER BY position LIMIT 1 OFFSET ?2",
                )
                .and_then(|mut st| {
                    st.query_row(params![after.raw() as i64, (half - 1) as i64, head], |r| {
                        r.get(0)
                    })
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
    pub(super) async fn with_reader<T: Send + 'static>(
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

/// The store's write-ahead log: SQLite names it after the database's file as
/// SQLite resolved it, plus `-wal` (a connection in WAL mode has created it by
/// the time the schema is read). It stays the same file while the writer's
/// connection is open: SQLite deletes it only when the last connection closes,
/// and truncating or restarting it keeps the file.
fn wal_path(conn: &Connection, given: &Path) -> Result<PathBuf, StoreError> {
    let db = conn
        .path()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| unavailable(format!("{} has no file name", given.display())))?;
    Ok(PathBuf::from(format!("{db}-wal")))
}

fn open_wal(wal: &Path) -> Result<File, StoreError> {
    File::options()
        .read(true)
        .write(true)
        .open(wal)
        .map_err(|e| unavailable(format!("cannot open {}: {e}", wal.display())))
}

/// Syncs the directory holding `path` (so a file created in it stays there).
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// The last handle dropped without `close`: the writer is told to stop (its
/// queue closed) and waited for, so whatever it still had queued is committed,
/// synced and answered before the file's lock is released — a store opened
/// again at once finds it free, and reads nothing that is not durable.
/// Waiting blocks the dropping thread for the writer's last batches (its
/// syncs: milliseconds).
impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.writer.take());
        let handle = self.writer_thread.lock().map(|mut h| h.take());
        if let Ok(Some(h)) = handle {
            let _ = h.join();
        }
    }
}

impl Inner {
    pub(super) fn writer(&self) -> &mpsc::Sender<WriteMsg<AppendRequest>> {
        self.writer
            .as_ref()
            .expect("set until the store is dropped")
    }

    /// The last position the writer's syncer made durable and published.
    pub(super) fn durable_head(&self) -> i64 {
        (*self.head.borrow()).min(i64::MAX as u64) as i64
    }

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
