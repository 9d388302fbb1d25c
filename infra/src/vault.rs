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
//! data, so ciphertext copied onto another recipient does not open. A random 192-bit
//! nonce per seal makes nonce reuse under one key negligible.

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

/// Seals `data` under `key` for `recipient`.
pub fn seal_with(
    key: &Key,
    recipient: RecipientId,
    data: &PersonalData,
) -> Result<Sealed, VaultError> {
    let plain = serde_json::to_vec(data).map_err(|e| VaultError::Unavailable(e.to_string()))?;
    let nonce = random::<24>()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(recipient),
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

#[derive(Clone)]
pub struct SqliteKeys {
    conn: Arc<Mutex<Connection>>,
}

fn sqlite_err(e: rusqlite::Error) -> VaultError {
    VaultError::Unavailable(e.to_string())
}

impl TableVault<SqliteKeys> {
    /// Opens (creating) the vault file.
    ///
    /// # Errors
    /// When the file cannot be opened or set up.
    pub fn open(path: &Path) -> Result<Self, VaultError> {
        let conn = Connection::open(path).map_err(sqlite_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS recipient_keys (
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
        Ok(TableVault(SqliteKeys {
            conn: Arc::new(Mutex::new(conn)),
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

    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, VaultError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, VaultError>> {
        let conn = self.conn.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let c = conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                f(&c)
            })
            .await
            .map_err(|e| VaultError::Unavailable(e.to_string()))?
        })
    }
}

impl KeyTable for SqliteKeys {
    fn insert_or_get(
        &self,
        r: RecipientId,
        fresh: Key,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        self.blocking(move |c| {
            c.execute(
                "INSERT INTO recipient_keys (recipient, key) VALUES (?1, ?2)
                 ON CONFLICT (recipient) DO NOTHING",
                params![r.to_string(), fresh.as_slice()],
            )
            .map_err(sqlite_err)?;
            Self::state(c, r)
        })
    }

    fn get(&self, r: RecipientId) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        self.blocking(move |c| Self::state(c, r))
    }

    fn tombstone(&self, r: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        self.blocking(move |c| {
            c.execute(
                "INSERT INTO recipient_keys (recipient, key, destroyed_at) VALUES (?1, NULL, ?2)
                 ON CONFLICT (recipient) DO UPDATE
                 SET key = NULL, destroyed_at = COALESCE(destroyed_at, excluded.destroyed_at)",
                params![r.to_string(), chrono::Utc::now().to_rfc3339()],
            )
            .map_err(sqlite_err)?;
            // The page with the old key was zeroed (secure_delete); move it into the
            // main file and empty the write-ahead log, which held the key's frames.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sqlite_err)?;
            Ok(())
        })
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
        assert_ne!(
            seal_with(&key, rid(1), &data()).unwrap().nonce,
            s.nonce,
            "fresh nonce"
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
            let c = v.0.conn.lock().unwrap();
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
