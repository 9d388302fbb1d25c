//! The embedded key vault: its own file (`keys.db`) beside the event log, written by
//! one group-commit thread; `secure_delete` and a truncated write-ahead log make a
//! destroyed key unrecoverable from the file.

use crate::group_commit::{Queue, Queued, WriteMsg};
use crate::seal::{Key, KeyState, KeyTable, TableVault, key_of};
use careledger_domain::ids::RecipientId;
use careledger_domain::personal::VaultError;
use careledger_domain::store::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The embedded vault's file name in the data directory.
pub const KEY_FILE: &str = "keys.db";
/// The embedded key vault: `<data-dir>/keys.db`.
pub type SqliteKeyVault = TableVault<SqliteKeys>;

/// Keys in a SQLite file. Writes (new keys, tombstones) go to one writer thread
/// that commits everything queued in one durable transaction — group commit, as the
/// event store does, so concurrent registrations share an fsync; reads use a
/// connection of their own.
#[derive(Clone)]
pub struct SqliteKeys {
    pub(crate) reader: Arc<Mutex<Connection>>,
    writer: tokio::sync::mpsc::Sender<WriteMsg<KeyWrite>>,
}

/// A write for the key table's writer thread.
struct KeyWrite {
    recipient: RecipientId,
    /// A new key to store unless the recipient has a row; `None`: a tombstone.
    fresh: Option<Key>,
    reply: tokio::sync::oneshot::Sender<Result<KeyState, VaultError>>,
}

impl Queued for KeyWrite {
    fn events(&self) -> usize {
        1
    }
    fn refuse(self, e: careledger_domain::store::StoreError) {
        let _ = self.reply.send(Err(VaultError::Unavailable(e.to_string())));
    }
}

/// The most writes one transaction commits.
const MAX_KEY_BATCH: usize = 512;

fn sqlite_err(e: rusqlite::Error) -> VaultError {
    VaultError::Unavailable(e.to_string())
}

fn connect(path: &Path) -> Result<Connection, VaultError> {
    let conn = Connection::open(path).map_err(sqlite_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;",
    )
    .map_err(sqlite_err)?;
    Ok(conn)
}

impl TableVault<SqliteKeys> {
    /// Opens (creating) the vault file and starts its writer thread (which ends
    /// when the last handle is dropped).
    ///
    /// # Errors
    /// When the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Self, VaultError> {
        let writer = connect(path)?;
        writer
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS recipient_keys (
                     recipient TEXT PRIMARY KEY,
                     key BLOB,
                     destroyed_at TEXT
                 );",
            )
            .map_err(sqlite_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let reader = connect(path)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4 * MAX_KEY_BATCH);
        std::thread::Builder::new()
            .name("careledger-keys".into())
            .spawn(move || {
                let mut conn = writer;
                let mut queue = Queue::new(rx, MAX_KEY_BATCH);
                while let Some(round) = queue.next_blocking() {
                    if !round.batch.is_empty() {
                        commit_keys(&mut conn, round.batch);
                    }
                    if let Some(ack) = round.shutdown {
                        queue.close(ack);
                        return;
                    }
                }
            })
            .map_err(|e| VaultError::Unavailable(format!("cannot start the key writer: {e}")))?;
        Ok(TableVault(SqliteKeys {
            reader: Arc::new(Mutex::new(reader)),
            writer: tx,
        }))
    }

    /// Opens the vault in a data directory.
    ///
    /// # Errors
    /// As [`TableVault::open`].
    pub fn in_dir(dir: &Path) -> Result<Self, VaultError> {
        Self::open(&dir.join(KEY_FILE))
    }
}

/// Commits one round of key writes in one transaction, then answers each.
fn commit_keys(conn: &mut Connection, batch: Vec<KeyWrite>) {
    let destroyed_at = chrono::Utc::now().to_rfc3339();
    let mut states = Vec::with_capacity(batch.len());
    let outcome = (|| -> Result<(), VaultError> {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_err)?;
        for w in &batch {
            let r = w.recipient.to_string();
            match &w.fresh {
                Some(k) => tx.execute(
                    "INSERT INTO recipient_keys (recipient, key) VALUES (?1, ?2)
                     ON CONFLICT (recipient) DO NOTHING",
                    params![r, k.as_slice()],
                ),
                None => tx.execute(
                    "INSERT INTO recipient_keys (recipient, key, destroyed_at) VALUES (?1, NULL, ?2)
                     ON CONFLICT (recipient) DO UPDATE
                     SET key = NULL, destroyed_at = COALESCE(destroyed_at, excluded.destroyed_at)",
                    params![r, destroyed_at],
                ),
            }
            .map_err(sqlite_err)?;
            states.push(SqliteKeys::state(&tx, w.recipient)?);
        }
        tx.commit().map_err(sqlite_err)?;
        if batch.iter().any(|w| w.fresh.is_none()) {
            // The page with the old key was zeroed (secure_delete); move it into the
            // main file and empty the write-ahead log, which held the key's frames.
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sqlite_err)?;
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            for (w, st) in batch.into_iter().zip(states) {
                let _ = w.reply.send(Ok(st));
            }
        }
        Err(e) => {
            for w in batch {
                let _ = w.reply.send(Err(e.clone()));
            }
        }
    }
}

impl SqliteKeys {
    pub(crate) fn state(conn: &Connection, recipient: RecipientId) -> Result<KeyState, VaultError> {
        let row: Option<(Option<Vec<u8>>, Option<String>)> = conn
            .query_row(
                "SELECT key, destroyed_at FROM recipient_keys WHERE recipient = ?1",
                params![recipient.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sqlite_err)?;
        Ok(match row {
            None => KeyState::Missing,
            Some((_, Some(_))) => KeyState::Destroyed,
            Some((key, None)) => KeyState::Present(key_of(key)?),
        })
    }

    fn write(
        &self,
        recipient: RecipientId,
        fresh: Option<Key>,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            self.writer
                .send(WriteMsg::Append(KeyWrite {
                    recipient,
                    fresh,
                    reply,
                }))
                .await
                .map_err(|_| VaultError::Unavailable("the key writer has stopped".into()))?;
            answer
                .await
                .map_err(|_| VaultError::Unavailable("the key writer has stopped".into()))?
        })
    }
}

impl KeyTable for SqliteKeys {
    fn insert_or_get(
        &self,
        r: RecipientId,
        fresh: Key,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        self.write(r, Some(fresh))
    }

    fn get(&self, r: RecipientId) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        let conn = self.reader.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let c = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                Self::state(&c, r)
            })
            .await
            .map_err(|e| VaultError::Unavailable(e.to_string()))?
        })
    }

    fn tombstone(&self, r: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        Box::pin(async move { self.write(r, None).await.map(|_| ()) })
    }
}
