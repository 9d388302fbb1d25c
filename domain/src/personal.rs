//! Names and contact details of a care recipient (DESIGN §6): personal data that no
//! event, read model or log holds in clear.
//!
//! The API validates [`PersonalData`], has the [`KeyVault`] seal it under the
//! recipient's own key, and records only the [`Sealed`] form. Erasure destroys the
//! key (crypto-shredding): every sealed copy — in the log, in read-model
//! checkpoints, in backups of either — becomes unreadable at once, while the log
//! stays intact and the recipient keeps counting in the statistics.

use crate::future::BoxFuture;
use crate::ids::{NoteId, RecipientId};
use crate::need_case::NoteText;
use serde::{Deserialize, Serialize};

/// The longest a field may be, in characters.
pub const MAX_FIELD_CHARS: usize = 200;

/// A recipient's names and contact details; every field optional, at least one
/// given. `Debug` never shows the values (they must not reach a log).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl std::fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalData(redacted)")
    }
}

/// Why personal data was refused; `field` is the input's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalDataError {
    #[error("give at least one of the names or contact details, or leave personal data out")]
    Empty,
    #[error("{field} is longer than {MAX_FIELD_CHARS} characters")]
    TooLong { field: &'static str },
    #[error("{field} holds control characters")]
    ControlCharacters { field: &'static str },
    #[error("email must look like name@domain")]
    Email,
    #[error("phone may hold digits, spaces, '+', '-', '.', '(' and ')' only, with 4 to 20 digits")]
    Phone,
}

impl PersonalDataError {
    pub fn field(&self) -> &'static str {
        match self {
            PersonalDataError::Empty => "personalData",
            PersonalDataError::TooLong { field }
            | PersonalDataError::ControlCharacters { field } => field,
            PersonalDataError::Email => "email",
            PersonalDataError::Phone => "phone",
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            PersonalDataError::Empty => "EMPTY_PERSONAL_DATA",
            PersonalDataError::TooLong { .. } => "TOO_LONG",
            PersonalDataError::ControlCharacters { .. } => "CONTROL_CHARACTERS",
            PersonalDataError::Email => "INVALID_EMAIL",
            PersonalDataError::Phone => "INVALID_PHONE",
        }
    }
}

fn clean(field: &'static str, v: Option<String>) -> Result<Option<String>, PersonalDataError> {
    let Some(v) = v else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > MAX_FIELD_CHARS {
        return Err(PersonalDataError::TooLong { field });
    }
    // An address may span lines; nothing else may hold control characters.
    if v.chars()
        .any(|c| c.is_control() && !(field == "address" && c == '\n'))
    {
        return Err(PersonalDataError::ControlCharacters { field });
    }
    Ok(Some(v.to_string()))
}

impl PersonalData {
    /// Checks and trims the fields; blank ones count as absent.
    pub fn new(
        given_name: Option<String>,
        family_name: Option<String>,
        phone: Option<String>,
        email: Option<String>,
        address: Option<String>,
    ) -> Result<Self, PersonalDataError> {
        let d = PersonalData {
            given_name: clean("givenName", given_name)?,
            family_name: clean("familyName", family_name)?,
            phone: clean("phone", phone)?,
            email: clean("email", email)?,
            address: clean("address", address)?,
        };
        if let Some(e) = &d.email {
            let ok = e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !e.chars().any(char::is_whitespace)
                    && !domain.contains('@')
            });
            if !ok {
                return Err(PersonalDataError::Email);
            }
        }
        if let Some(p) = &d.phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let allowed = p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-.()".contains(c));
            if !allowed || !(4..=20).contains(&digits) {
                return Err(PersonalDataError::Phone);
            }
        }
        if d == PersonalData::default() {
            return Err(PersonalDataError::Empty);
        }
        Ok(d)
    }
}

/// Personal data sealed with an AEAD cipher under one recipient's key. Opaque to the
/// domain; `alg` names the cipher, `nonce` and `ciphertext` are base64.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub alg: String,
    pub nonce: String,
    pub ciphertext: String,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({}, {} bytes)", self.alg, self.ciphertext.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The recipient's key was destroyed: they were erased.
    #[error("the care recipient was erased; their personal data can no longer be written")]
    Erased,
    /// Sealed data that does not open under the recipient's key (tampered with, or
    /// moved from another recipient).
    #[error("sealed personal data does not open under its recipient's key")]
    Tampered,
    #[error("key vault unavailable: {0}")]
    Unavailable(String),
}

/// The key vault port: one secret key per care recipient, used to seal and open
/// their personal data, and destroyed for good on erasure. Shaped like a KMS's
/// transit encryption, so a deployment can put an external key service behind it.
pub trait KeyVault: Send + Sync + 'static {
    /// Seals `data` under the recipient's key, creating the key on first use.
    ///
    /// # Errors
    /// `Erased` once the key was destroyed (a new key is never made for an erased
    /// recipient); `Unavailable`.
    fn seal(
        &self,
        recipient: RecipientId,
        data: &PersonalData,
    ) -> BoxFuture<'_, Result<Sealed, VaultError>>;

    /// Opens sealed data: `Ok(None)` when the key was destroyed (or never made).
    ///
    /// # Errors
    /// `Tampered` when the data does not authenticate; `Unavailable`.
    fn open<'a>(
        &'a self,
        recipient: RecipientId,
        sealed: &'a Sealed,
    ) -> BoxFuture<'a, Result<Option<PersonalData>, VaultError>>;

    /// Seals a note on one of the recipient's referrals under their key, bound
    /// to the recipient and the note's id (a sealed note copied onto another
    /// note, or read as personal data, does not open). Deterministic, as
    /// [`KeyVault::seal`]: a retried note seals to the same bytes.
    ///
    /// # Errors
    /// As [`KeyVault::seal`].
    fn seal_note(
        &self,
        recipient: RecipientId,
        note: NoteId,
        text: &NoteText,
    ) -> BoxFuture<'_, Result<Sealed, VaultError>>;

    /// Opens a sealed note: `Ok(None)` when the key was destroyed (erased).
    ///
    /// # Errors
    /// `Tampered` when it does not authenticate for this recipient and note;
    /// `Unavailable`.
    fn open_note<'a>(
        &'a self,
        recipient: RecipientId,
        note: NoteId,
        sealed: &'a Sealed,
    ) -> BoxFuture<'a, Result<Option<NoteText>, VaultError>>;

    /// Destroys the recipient's key durably, for good; doing it again is a no-op.
    ///
    /// # Errors
    /// `Unavailable`.
    fn destroy(&self, recipient: RecipientId) -> BoxFuture<'_, Result<(), VaultError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn personal_data_is_trimmed_checked_and_never_debug_printed() {
        let d = PersonalData::new(
            s(" Anna "),
            s("Peeters"),
            s("+32 16 33 22 11"),
            s("anna@example.be"),
            None,
        )
        .unwrap();
        assert_eq!(d.given_name.as_deref(), Some("Anna"));
        assert!(!format!("{d:?}").contains("Anna"));
        assert_eq!(
            PersonalData::new(None, s("  "), None, None, None),
            Err(PersonalDataError::Empty)
        );
        assert_eq!(
            PersonalData::new(None, None, None, s("anna.example.be"), None),
            Err(PersonalDataError::Email)
        );
        assert_eq!(
            PersonalData::new(None, None, s("call me"), None, None),
            Err(PersonalDataError::Phone)
        );
        assert_eq!(
            PersonalData::new(s(&"x".repeat(201)), None, None, None, None),
            Err(PersonalDataError::TooLong { field: "givenName" })
        );
        assert_eq!(
            PersonalData::new(s("A\u{7}"), None, None, None, None),
            Err(PersonalDataError::ControlCharacters { field: "givenName" })
        );
        assert!(PersonalData::new(None, None, None, None, s("Straat 1\n3000 Leuven")).is_ok());
    }
}
