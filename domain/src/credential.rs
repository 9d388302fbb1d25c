//! API keys for external applications (DESIGN §6). Stream `apikey-<uuid>`.
//!
//! An administrator issues a key; the secret is shown once and only its SHA-256
//! is recorded (a 256-bit random secret needs no slow hash). A revoked key stays
//! revoked; revoking it again changes nothing and writes nothing.

use crate::aggregate::{Aggregate, Command, TimeRefusal};
use crate::values::{TextKind, forbidden_char};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialAction {
    IssueApiKey {
        key_id: Uuid,
        name: String,
        /// Lowercase hex SHA-256 of the secret.
        secret_sha256: String,
    },
    RevokeApiKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyIssued {
    pub key_id: Uuid,
    pub name: String,
    pub secret_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRevoked {
    pub key_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CredentialEvent {
    ApiKeyIssued(ApiKeyIssued),
    ApiKeyRevoked(ApiKeyRevoked),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CredentialError {
    #[error("API key {key_id} already exists")]
    Exists { key_id: Uuid },
    #[error("API key not found")]
    NotFound,
    #[error("an API key's name must be 1 to 100 characters, not only spaces")]
    InvalidName,
    #[error("the secret's SHA-256 must be 64 lowercase hexadecimal digits")]
    InvalidHash,
    #[error("an API key's name may not hold control characters (it holds U+{code_point:04X})")]
    ControlCharacter { code_point: u32 },
    /// `occurred_at` breaks the time rule every command follows.
    #[error(transparent)]
    Time(#[from] TimeRefusal),
}

impl CredentialError {
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Exists { .. } => "API_KEY_EXISTS",
            CredentialError::NotFound => "API_KEY_NOT_FOUND",
            CredentialError::InvalidName => "INVALID_API_KEY_NAME",
            CredentialError::InvalidHash => "INVALID_API_KEY_HASH",
            CredentialError::ControlCharacter { .. } => "CONTROL_CHARACTERS",
            CredentialError::Time(t) => t.code(),
        }
    }
}

/// An API key's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiKey {
    pub issued: Option<(ApiKeyIssued, DateTime<Utc>)>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Aggregate for ApiKey {
    type Action = CredentialAction;
    type Event = CredentialEvent;
    type Error = CredentialError;

    fn decide(
        &self,
        c: &Command<CredentialAction>,
    ) -> Result<Vec<CredentialEvent>, CredentialError> {
        c.check_time()?;
        match &c.action {
            CredentialAction::IssueApiKey {
                key_id,
                name,
                secret_sha256,
            } => {
                if self.issued.is_some() {
                    return Err(CredentialError::Exists { key_id: *key_id });
                }
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 100 {
                    return Err(CredentialError::InvalidName);
                }
                if let Some(c) = forbidden_char(name, TextKind::SingleLine) {
                    return Err(CredentialError::ControlCharacter {
                        code_point: c as u32,
                    });
                }
                if secret_sha256.len() != 64
                    || !secret_sha256
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
                {
                    return Err(CredentialError::InvalidHash);
                }
                Ok(vec![CredentialEvent::ApiKeyIssued(ApiKeyIssued {
                    key_id: *key_id,
                    name: name.to_string(),
                    secret_sha256: secret_sha256.clone(),
                })])
            }
            CredentialAction::RevokeApiKey => {
                let Some((issued, _)) = &self.issued else {
                    return Err(CredentialError::NotFound);
                };
                if self.revoked_at.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![CredentialEvent::ApiKeyRevoked(ApiKeyRevoked {
                    key_id: issued.key_id,
                })])
            }
        }
    }

    fn apply(&mut self, event: &CredentialEvent, at: DateTime<Utc>) {
        match event {
            CredentialEvent::ApiKeyIssued(e) => self.issued = Some((e.clone(), at)),
            CredentialEvent::ApiKeyRevoked(_) => self.revoked_at = Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn issue(name: &str, hash: &str) -> Command<CredentialAction> {
        Command::now(
            CredentialAction::IssueApiKey {
                key_id: Uuid::nil(),
                name: name.into(),
                secret_sha256: hash.into(),
            },
            at(),
        )
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_key_is_issued_once_revoked_once_and_bad_input_is_refused() {
        let mut k = ApiKey::default();
        assert_eq!(
            k.decide(&Command::now(CredentialAction::RevokeApiKey, at())),
            Err(CredentialError::NotFound)
        );
        assert_eq!(
            k.decide(&issue("  ", HASH)),
            Err(CredentialError::InvalidName)
        );
        assert_eq!(
            k.decide(&issue(&"x".repeat(101), HASH)),
            Err(CredentialError::InvalidName)
        );
        assert_eq!(
            k.decide(&issue("app", "abc")),
            Err(CredentialError::InvalidHash)
        );
        assert_eq!(
            k.decide(&issue("app", &HASH.to_uppercase())),
            Err(CredentialError::InvalidHash)
        );
        assert_eq!(
            k.decide(&issue("app\u{1b}[2J", HASH)),
            Err(CredentialError::ControlCharacter { code_point: 0x1b })
        );
        assert_eq!(
            k.decide(&issue("app\r\nINFO forged log line", HASH)),
            Err(CredentialError::ControlCharacter { code_point: 0x0d })
        );
        let far = "9999-12-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut dated = issue("app", HASH);
        dated.occurred_at = far;
        assert_eq!(
            k.decide(&dated),
            Err(CredentialError::Time(TimeRefusal::InFuture {
                occurred_at: far,
                now: at(),
            }))
        );
        let events = k.decide(&issue(" Statistics portal ", HASH)).unwrap();
        assert_eq!(
            events,
            vec![CredentialEvent::ApiKeyIssued(ApiKeyIssued {
                key_id: Uuid::nil(),
                name: "Statistics portal".into(),
                secret_sha256: HASH.into(),
            })]
        );
        k.apply(&events[0], at());
        assert!(matches!(
            k.decide(&issue("again", HASH)),
            Err(CredentialError::Exists { .. })
        ));
        let revoke = Command::now(CredentialAction::RevokeApiKey, at());
        let events = k.decide(&revoke).unwrap();
        assert_eq!(events.len(), 1);
        k.apply(&events[0], at());
        assert_eq!(
            k.decide(&revoke),
            Ok(vec![]),
            "a second revocation writes nothing"
        );
    }
}
