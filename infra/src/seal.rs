//! Sealing personal data and notes with a recipient's key (XChaCha20-Poly1305, deterministic
//! nonces: see [`crate::vault`]), and [`TableVault`]: the [`KeyVault`] over any
//! [`KeyTable`] (the SQLite file or the PostgreSQL table), since the sealing is the
//! same whichever table holds the keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use careledger_domain::ids::{NoteId, RecipientId};
use careledger_domain::need_case::NoteText;
use careledger_domain::personal::{KeyVault, PersonalData, Sealed, VaultError};
use careledger_domain::store::BoxFuture;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The cipher's name in [`Sealed::alg`].
pub const ALG: &str = "XChaCha20-Poly1305";

pub(crate) type Key = [u8; 32];

fn aad(recipient: RecipientId) -> Vec<u8> {
    let mut a = b"careledger/personal/v1/".to_vec();
    a.extend_from_slice(recipient.as_uuid().as_bytes());
    a
}

/// A note's associated data: another prefix than personal data's (a note never
/// opens as personal data, nor the reverse), the recipient and the note's id (a
/// note copied onto another recipient or another note does not open).
fn note_aad(recipient: RecipientId, note: NoteId) -> Vec<u8> {
    let mut a = b"careledger/note/v1/".to_vec();
    a.extend_from_slice(recipient.as_uuid().as_bytes());
    a.extend_from_slice(note.as_uuid().as_bytes());
    a
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], VaultError> {
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

/// Seals `plain` under `key` with associated data `aad` (deterministically: see
/// the module).
fn seal_bytes(key: &Key, aad: &[u8], plain: &[u8]) -> Result<Sealed, VaultError> {
    let nonce = synthetic_nonce(key, aad, plain);
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| VaultError::Unavailable("encryption failed".into()))?;
    Ok(Sealed {
        alg: ALG.into(),
        nonce: B64.encode(nonce),
        ciphertext: B64.encode(ct),
    })
}

/// Opens what [`seal_bytes`] sealed with the same key and associated data.
fn open_bytes(key: &Key, aad: &[u8], sealed: &Sealed) -> Result<Vec<u8>, VaultError> {
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
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad })
        .map_err(|_| VaultError::Tampered)
}

/// Seals `data` under `key` for `recipient` (deterministically: see the module).
pub fn seal_with(
    key: &Key,
    recipient: RecipientId,
    data: &PersonalData,
) -> Result<Sealed, VaultError> {
    let plain = serde_json::to_vec(data).map_err(|e| VaultError::Unavailable(e.to_string()))?;
    seal_bytes(key, &aad(recipient), &plain)
}

/// Opens `sealed` with `key` for `recipient`.
pub fn open_with(
    key: &Key,
    recipient: RecipientId,
    sealed: &Sealed,
) -> Result<PersonalData, VaultError> {
    let plain = open_bytes(key, &aad(recipient), sealed)?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Tampered)
}

/// Seals a note's text under `key` for `recipient` and `note`.
pub fn seal_note_with(
    key: &Key,
    recipient: RecipientId,
    note: NoteId,
    text: &NoteText,
) -> Result<Sealed, VaultError> {
    seal_bytes(key, &note_aad(recipient, note), text.as_str().as_bytes())
}

/// Opens a note sealed for `recipient` and `note`.
pub fn open_note_with(
    key: &Key,
    recipient: RecipientId,
    note: NoteId,
    sealed: &Sealed,
) -> Result<NoteText, VaultError> {
    let plain = open_bytes(key, &note_aad(recipient, note), sealed)?;
    let text = String::from_utf8(plain).map_err(|_| VaultError::Tampered)?;
    NoteText::new(&text).map_err(|_| VaultError::Tampered)
}

/// What a vault holds for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyState {
    Missing,
    Present(Key),
    Destroyed,
}

pub(crate) fn key_of(bytes: Option<Vec<u8>>) -> Result<Key, VaultError> {
    bytes
        .and_then(|b| Key::try_from(b.as_slice()).ok())
        .ok_or_else(|| VaultError::Unavailable("a stored key has the wrong length".into()))
}

/// Where a vault keeps its keys: one row per recipient, with the key or a
/// tombstone.
pub(crate) trait KeyTable: Send + Sync + 'static {
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
pub struct TableVault<T>(pub(crate) T);

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

    fn seal_note(
        &self,
        recipient: RecipientId,
        note: NoteId,
        text: &NoteText,
    ) -> BoxFuture<'_, Result<Sealed, VaultError>> {
        let text = text.clone();
        Box::pin(async move {
            match self.0.insert_or_get(recipient, random()?).await? {
                KeyState::Present(k) => seal_note_with(&k, recipient, note, &text),
                KeyState::Destroyed => Err(VaultError::Erased),
                KeyState::Missing => Err(VaultError::Unavailable("the key was not stored".into())),
            }
        })
    }

    fn open_note<'a>(
        &'a self,
        recipient: RecipientId,
        note: NoteId,
        sealed: &'a Sealed,
    ) -> BoxFuture<'a, Result<Option<NoteText>, VaultError>> {
        Box::pin(async move {
            match self.0.get(recipient).await? {
                KeyState::Present(k) => open_note_with(&k, recipient, note, sealed).map(Some),
                KeyState::Missing | KeyState::Destroyed => Ok(None),
            }
        })
    }

    fn destroy(&self, recipient: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        self.0.tombstone(recipient)
    }
}
