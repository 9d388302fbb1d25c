//! Key vaults (the [`KeyVault`] port): one random 256-bit key per care recipient,
//! personal data sealed with XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`),
//! keys destroyed for good on erasure.
//!
//! * [`SqliteKeyVault`] — the embedded vault: its own file (`keys.db`) beside the
//!   event log, so a copy of the log carries no key. `secure_delete` zeroes a
//!   destroyed key's bytes in the page, and the write-ahead log is truncated after
//!   each destruction so no older frame keeps it.
//! * [`PgKeyVault`] — the `recipient_keys` table of the PostgreSQL schema, shared by
//!   every replica.
//!
//! A sealed value binds its recipient: the recipient id is the cipher's associated
//! data, so ciphertext copied onto another recipient does not open.
//!
//! Sealing is deterministic (the SIV idea): the 192-bit nonce is an HMAC-SHA256, under
//! a key derived from the recipient's, of the associated data and the plaintext. So
//! the same data for the same recipient seals to the same bytes — a retried command
//! (same idempotency key, same data) decides the same event and is recognised as the
//! retry — while different data gets a different nonce (a nonce is never reused for
//! two plaintexts). What this reveals is only whether two of one recipient's sealed
//! values are equal.

use crate::group_commit::{Queue, Queued, WriteMsg};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use careledger_domain::ids::RecipientId;
use careledger_domain::personal::{KeyVault, PersonalData, Sealed, VaultError};
use careledger_domain::store::BoxFuture;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The cipher's name in [`Sealed::alg`].
pub const ALG: &str = "XChaCha20-Poly1305";
/// The embedded vault's file name in the data directory.
pub const KEY_FILE: &str = "keys.db";

type Key = [u8; 32];

fn aad(recipient: RecipientId) -> Vec<u8> {
    let mut a = b"careledger/personal/v1/".to_vec();
    a.extend_from_slice(recipient.as_uuid().as_bytes());
    a
}

fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| VaultError::Unavailable(format!("no randomness: {e}")))?;
    Ok(b)
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac;
    let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The nonce of a seal: a PRF of what is sealed, under a key derived from the
/// recipient's (never the encryption key itself).
fn synthetic_nonce(key: &Key, aad: &[u8], plain: &[u8]) -> [u8; 24] {
    let nonce_key = hmac(key, &[b"careledger/personal/v1/nonce-key"]);
    let len = (aad.len() as u64).to_be_bytes();
    let mac = hmac(&nonce_key, &[&len, aad, plain]);
    let mut n = [0u8; 24];
    n.copy_from_slice(&mac[..24]);
    n
}

/// Seals `data` under `key` for `recipient` (deterministically: see the module).
pub fn seal_with(
    key: &Key,
    recipient: RecipientId,
    data: &PersonalData,
) -> Result<Sealed, VaultError> {
    let plain = serde_json::to_vec(data).map_err(|e| VaultError::Unavailable(e.to_string()))?;
    let aad = aad(recipient);
    let nonce = synthetic_nonce(key, &aad, &plain);
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Unavailable("encryption failed".into()))?;
    Ok(Sealed {
        alg: ALG.into(),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ct),
    })
}

/// Opens `sealed` with `key` for `recipient`.
pub fn open_with(
    key: &Key,
    recipient: RecipientId,
    sealed: &Sealed,
) -> Result<PersonalData, VaultError> {
    if sealed.alg != ALG {
        return Err(VaultError::Tampered);
    }
    let nonce = B64
        .decode(&sealed.nonce)
        .map_err(|_| VaultError::Tampered)?;
    let ct = B64
        .decode(&sealed.ciphertext)
        .map_err(|_| VaultError::Tampered)?;
    if nonce.len() != 24 {
        return Err(VaultError::Tampered);
    }
    let plain = XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &aad(recipient),
            },
        )
        .map_err(|_| VaultError::Tampered)?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Tampered)
}

/// What a vault holds for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    Missing,
    Present(Key),
    Destroyed,
}

fn key_of(bytes: Option<Vec<u8>>) -> Result<Key, VaultError> {
    bytes
        .and_then(|b| Key::try_from(b.as_slice()).ok())
        .ok_or_else(|| VaultError::Unavailable("a stored key has the wrong length".into()))
}

/// Where a vault keeps its keys: one row per recipient, with the key or a
/// tombstone.
trait KeyTable: Send + Sync + 'static {
    /// Stores `fresh` unless the recipient has a row; answers the row.
    fn insert_or_get(
        &self,
        r: RecipientId,
        fresh: Key,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>>;
    fn get(&self, r: RecipientId) -> BoxFuture<'_, Result<KeyState, VaultError>>;
    /// Replaces the row by a tombstone, durably.
    fn tombstone(&self, r: RecipientId) -> BoxFuture<'_, Result<(), VaultError>>;
}

/// A key vault over a [`KeyTable`]: the sealing is the same for every table.
#[derive(Clone)]
pub struct TableVault<T>(T);

impl<T: KeyTable> KeyVault for TableVault<T> {
    fn seal(
        &self,
        recipient: RecipientId,
        data: &PersonalData,
    ) -> BoxFuture<'_, Result<Sealed, VaultError>> {
        let data = data.clone();
        Box::pin(async move {
            match self.0.insert_or_get(recipient, random()?).await? {
                KeyState::Present(k) => seal_with(&k, recipient, &data),
                KeyState::Destroyed => Err(VaultError::Erased),
                KeyState::Missing => Err(VaultError::Unavailable("the key was not stored".into())),
            }
        })
    }

    fn open<'a>(
        &'a self,
        recipient: RecipientId,
        sealed: &'a Sealed,
    ) -> BoxFuture<'a, Result<Option<PersonalData>, VaultError>> {
        Box::pin(async move {
            match self.0.get(recipient).await? {
                KeyState::Present(k) => open_with(&k, recipient, sealed).map(Some),
                KeyState::Missing | KeyState::Destroyed => Ok(None),
            }
        })
    }

    fn destroy(&self, recipient: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        self.0.tombstone(recipient)
    }
}

// ---------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------

/// The embedded key vault: `<data-dir>/keys.db`.
pub type SqliteKeyVault = TableVault<SqliteKeys>;

/// Keys in a SQLite file. Writes (new keys, tombstones) go to one writer thread
/// that commits everything queued in one durable transaction — group commit, as the
/// event store does, so concurrent registrations share an fsync; reads use a
/// connection of their own.
#[derive(Clone)]
pub struct SqliteKeys {
    reader: Arc<Mutex<Connection>>,
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
    fn state(conn: &Connection, recipient: RecipientId) -> Result<KeyState, VaultError> {
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

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

/// The vault in the PostgreSQL schema (`recipient_keys`, migration 3).
pub type PgKeyVault = TableVault<PgKeys>;

#[derive(Clone)]
pub struct PgKeys {
    store: crate::postgres::PgEventStore,
}

fn pg_err(e: tokio_postgres::Error) -> VaultError {
    VaultError::Unavailable(crate::postgres::describe(&e))
}

impl TableVault<PgKeys> {
    pub fn new(store: crate::postgres::PgEventStore) -> Self {
        TableVault(PgKeys { store })
    }
}

impl KeyTable for PgKeys {
    fn insert_or_get(
        &self,
        r: RecipientId,
        fresh: Key,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        Box::pin(async move {
            self.store
                .client()
                .execute(
                    "INSERT INTO recipient_keys (recipient, key) VALUES ($1, $2)
                     ON CONFLICT (recipient) DO NOTHING",
                    &[&r.as_uuid(), &fresh.as_slice()],
                )
                .await
                .map_err(pg_err)?;
            self.get(r).await
        })
    }

    fn get(&self, r: RecipientId) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        Box::pin(async move {
            let row = self
                .store
                .client()
                .query_opt(
                    "SELECT key, destroyed_at IS NOT NULL FROM recipient_keys WHERE recipient = $1",
                    &[&r.as_uuid()],
                )
                .await
                .map_err(pg_err)?;
            Ok(match row {
                None => KeyState::Missing,
                Some(row) if row.get::<_, bool>(1) => KeyState::Destroyed,
                Some(row) => KeyState::Present(key_of(row.get(0))?),
            })
        })
    }

    fn tombstone(&self, r: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        Box::pin(async move {
            self.store
                .client()
                .execute(
                    "INSERT INTO recipient_keys (recipient, key, destroyed_at) VALUES ($1, NULL, now())
                     ON CONFLICT (recipient) DO UPDATE
                     SET key = NULL, destroyed_at = COALESCE(recipient_keys.destroyed_at, now())",
                    &[&r.as_uuid()],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn data() -> PersonalData {
        PersonalData::new(
            Some("Marieke".into()),
            Some("Vandenbroucke".into()),
            None,
            Some("marieke@example.be".into()),
            None,
        )
        .unwrap()
    }

    fn rid(n: u128) -> RecipientId {
        RecipientId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn sealed_data_opens_only_with_its_key_and_its_recipient() {
        let key: Key = random().unwrap();
        let s = seal_with(&key, rid(1), &data()).unwrap();
        assert!(!s.ciphertext.contains("Marieke"));
        assert_eq!(open_with(&key, rid(1), &s).unwrap(), data());
        assert_eq!(
            open_with(&key, rid(2), &s),
            Err(VaultError::Tampered),
            "moved to another recipient"
        );
        let other: Key = random().unwrap();
        assert_eq!(open_with(&other, rid(1), &s), Err(VaultError::Tampered));
        let mut t = s.clone();
        let mut ct = B64.decode(&t.ciphertext).unwrap();
        ct[0] ^= 1;
        t.ciphertext = B64.encode(ct);
        assert_eq!(
            open_with(&key, rid(1), &t),
            Err(VaultError::Tampered),
            "tampered"
        );
        assert_eq!(
            seal_with(&key, rid(1), &data()).unwrap(),
            s,
            "the same data seals to the same bytes (a retry decides the same event)"
        );
        let mut other = data();
        other.phone = Some("+32 16 00 00 00".into());
        assert_ne!(
            seal_with(&key, rid(1), &other).unwrap().nonce,
            s.nonce,
            "other data, another nonce"
        );
        assert_ne!(
            seal_with(&key, rid(2), &data()).unwrap().nonce,
            s.nonce,
            "another recipient, another nonce"
        );
    }

    #[tokio::test]
    async fn a_destroyed_key_is_gone_from_the_file_and_never_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let v = SqliteKeyVault::in_dir(dir.path()).unwrap();
        let s = v.seal(rid(1), &data()).await.unwrap();
        let again = v.seal(rid(1), &data()).await.unwrap();
        assert_eq!(
            v.open(rid(1), &again).await.unwrap(),
            Some(data()),
            "one key per recipient"
        );
        let key = {
            let c = v.0.reader.lock().unwrap();
            match SqliteKeys::state(&c, rid(1)).unwrap() {
                KeyState::Present(k) => k,
                other => panic!("{other:?}"),
            }
        };
        let file_bytes = || {
            let mut all = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
            if let Ok(w) = std::fs::read(dir.path().join(format!("{KEY_FILE}-wal"))) {
                all.extend(w);
            }
            all
        };
        let holds = |bytes: &[u8]| bytes.windows(32).any(|w| w == key);
        assert!(
            holds(&file_bytes()),
            "the key is stored (the check can see it)"
        );

        v.destroy(rid(1)).await.unwrap();
        assert_eq!(v.open(rid(1), &s).await.unwrap(), None);
        assert_eq!(v.seal(rid(1), &data()).await, Err(VaultError::Erased));
        v.destroy(rid(1)).await.unwrap();
        assert!(
            !holds(&file_bytes()),
            "the key's bytes are gone from the vault's files"
        );

        // Reopened (a restart): still destroyed; another recipient unaffected.
        drop(v);
        let v = SqliteKeyVault::in_dir(dir.path()).unwrap();
        assert_eq!(v.open(rid(1), &s).await.unwrap(), None);
        let s2 = v.seal(rid(2), &data()).await.unwrap();
        assert_eq!(v.open(rid(2), &s2).await.unwrap(), Some(data()));
        // Destroying a key never made still bars one from being made.
        v.destroy(rid(3)).await.unwrap();
        assert_eq!(v.seal(rid(3), &data()).await, Err(VaultError::Erased));
    }
}
