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
//!
//! This module is the vaults' one address: the sealing is in [`crate::seal`], each
//! vault beside its store ([`crate::sqlite`], [`crate::postgres`]).

pub use crate::postgres::{PgKeyVault, PgKeys};
pub use crate::seal::{ALG, TableVault, open_note_with, open_with, seal_note_with, seal_with};
#[cfg(test)]
use crate::seal::{Key, KeyState, random};
pub use crate::sqlite::{KEY_FILE, SqliteKeyVault, SqliteKeys};

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use careledger_domain::ids::RecipientId;
    use careledger_domain::personal::{KeyVault, PersonalData, VaultError};

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

    /// Issue 16: a note opens only for its recipient and its own note id, never
    /// as personal data (nor personal data as a note); a retried note seals to
    /// the same bytes, another text or another note id to others.
    #[test]
    fn a_sealed_note_opens_only_as_that_note_of_that_recipient() {
        use careledger_domain::ids::NoteId;
        use careledger_domain::need_case::NoteText;
        let key: Key = random().unwrap();
        let note = |n: u128| NoteId::from_uuid(Uuid::from_u128(n));
        let text = NoteText::new("Marieke starts on Monday").unwrap();
        let s = seal_note_with(&key, rid(1), note(10), &text).unwrap();
        assert!(!s.ciphertext.contains("Marieke"));
        assert_eq!(open_note_with(&key, rid(1), note(10), &s).unwrap(), text);
        assert_eq!(
            open_note_with(&key, rid(1), note(11), &s),
            Err(VaultError::Tampered),
            "copied onto another note"
        );
        assert_eq!(
            open_note_with(&key, rid(2), note(10), &s),
            Err(VaultError::Tampered),
            "moved to another recipient"
        );
        assert_eq!(
            open_with(&key, rid(1), &s),
            Err(VaultError::Tampered),
            "read as personal data"
        );
        let personal = seal_with(&key, rid(1), &data()).unwrap();
        assert_eq!(
            open_note_with(&key, rid(1), note(10), &personal),
            Err(VaultError::Tampered),
            "personal data read as a note"
        );
        assert_eq!(seal_note_with(&key, rid(1), note(10), &text).unwrap(), s);
        assert_ne!(
            seal_note_with(&key, rid(1), note(11), &text).unwrap().nonce,
            s.nonce
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

        let note = careledger_domain::ids::NoteId::from_uuid(Uuid::from_u128(10));
        let text = careledger_domain::need_case::NoteText::new("see you Monday").unwrap();
        let sealed_note = v.seal_note(rid(1), note, &text).await.unwrap();
        assert_eq!(
            v.open_note(rid(1), note, &sealed_note).await.unwrap(),
            Some(text.clone())
        );

        v.destroy(rid(1)).await.unwrap();
        assert_eq!(v.open(rid(1), &s).await.unwrap(), None);
        assert_eq!(
            v.open_note(rid(1), note, &sealed_note).await.unwrap(),
            None,
            "notes are erased with the key"
        );
        assert_eq!(
            v.seal_note(rid(1), note, &text).await,
            Err(VaultError::Erased)
        );
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
