//! API keys: how they are issued (GraphQL and CLI share this) and checked.
//!
//! A key reads `clk_<key id, 32 hex>_<secret, 43 base64url characters>`: 256
//! random bits. Only the secret's SHA-256 is recorded (in the `ApiKeyIssued`
//! event); a presented key is hashed and compared in constant time with the hash
//! the read model holds. A key acts as an external application: the catalogue, the
//! directory and suppressed aggregates.

use crate::{App, AppError, CommandContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::credential::{ApiKey, CredentialAction};
use careledger_domain::store::{Position, StreamName};
use careledger_projections::Casework;
use careledger_projections::casework::ApiKeyView;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const PREFIX: &str = "clk_";

/// An issued key.
pub struct Issued {
    pub key_id: Uuid,
    /// `None` on a replayed idempotency key: the secret is shown once.
    pub secret: Option<String>,
    pub position: Position,
    pub duplicate: bool,
}

fn hex_sha256(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a key named `name`. Its id is the command's idempotency key when there
/// is one, so a retry finds the key it made (and cannot show its secret again).
pub async fn issue(
    app: &App,
    access: &crate::Access,
    ctx: &CommandContext,
    name: &str,
) -> Result<Issued, AppError> {
    access.check(crate::policy::Action::ManageCredentials)?;
    let key_id = ctx.idempotency_key.unwrap_or_else(Uuid::now_v7);
    let stream = StreamName::api_key(key_id);
    if ctx.idempotency_key.is_some() {
        let existing = app
            .store
            .read_stream(stream.clone(), 0, 1)
            .await
            .map_err(AppError::from)?;
        if let Some(first) = existing.first() {
            return Ok(Issued {
                key_id,
                secret: None,
                position: first.position,
                duplicate: true,
            });
        }
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw)
        .map_err(|e| AppError::unavailable_msg(format!("no randomness: {e}")))?;
    let secret = format!("{PREFIX}{}_{}", key_id.simple(), B64.encode(raw));
    let action = CredentialAction::IssueApiKey {
        key_id,
        name: name.to_string(),
        secret_sha256: hex_sha256(&secret),
    };
    // The idempotency key became the key id; the command itself is not replayable.
    let ctx = CommandContext {
        idempotency_key: None,
        ..ctx.clone()
    };
    let x = app
        .execute::<ApiKey>(stream, action, &ctx, |_| Ok(()))
        .await?;
    Ok(Issued {
        key_id,
        secret: Some(secret),
        position: x.position,
        duplicate: false,
    })
}

/// The key id a presented key names, if it has the key shape.
pub fn key_id(presented: &str) -> Option<Uuid> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 32 && !secret.is_empty())
        .then(|| Uuid::try_parse(id).ok())
        .flatten()
}

/// Whether `presented` is the key whose secret hashes to `stored` (constant time).
pub fn matches(presented: &str, stored: &str) -> bool {
    let h = hex_sha256(presented);
    h.len() == stored.len()
        && h.bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Revokes API key `id` (administrators; the key stops working at once on every
/// server that has folded the event). Revoking a revoked key changes nothing
/// (`unchanged`).
///
/// # Errors
/// `API_KEY_NOT_FOUND` and the other refusals of the credential aggregate; a
/// store failure.
pub async fn revoke(
    app: &App,
    access: &crate::Access,
    ctx: &CommandContext,
    id: Uuid,
) -> Result<crate::Executed, AppError> {
    access.check(crate::policy::Action::ManageCredentials)?;
    app.execute::<ApiKey>(
        StreamName::api_key(id),
        CredentialAction::RevokeApiKey,
        ctx,
        |_| Ok(()),
    )
    .await
}

/// Every API key the log records, with its state, folded from the log itself (a
/// small read: for a command that runs without a server's read models).
///
/// # Errors
/// The store's read errors.
pub async fn list_from_log(app: &App, access: &crate::Access) -> Result<Vec<ApiKeyView>, AppError> {
    access.check(crate::policy::Action::ManageCredentials)?;
    let mut model = Casework::default();
    crate::projection::fold_log(
        app.store.as_ref(),
        careledger_domain::store::Position::START,
        None,
        |e| model.apply(e),
        |_| {},
    )
    .await?;
    Ok(model.api_keys().cloned().collect())
}

/// Who presents `presented`, if it is an active key this server's read model
/// knows: an external application (the catalogue, the directory, released
/// aggregates). `None` for anything else — malformed, unknown, revoked or a
/// wrong secret look the same to the caller.
pub fn access_for_key(app: &App, presented: &str) -> Option<crate::Access> {
    let id = key_id(presented)?;
    let model = app.projector.read();
    let key = model.api_key(id).filter(|k| k.revoked_at.is_none())?;
    matches(presented, &key.secret_sha256).then(|| {
        crate::Access::new(
            careledger_domain::store::Actor {
                subject: format!("apikey-{id}"),
                role: careledger_domain::store::Role::ExternalApp,
            },
            crate::SiteScope::Only(Vec::new()),
        )
    })
}

/// Every API key the read model knows, oldest first (administrators).
///
/// # Errors
/// `Forbidden` for anyone but an administrator.
pub fn list(app: &App, access: &crate::Access) -> Result<Vec<ApiKeyView>, AppError> {
    access.check(crate::policy::Action::ManageCredentials)?;
    let mut keys: Vec<ApiKeyView> = app.projector.read().api_keys().cloned().collect();
    keys.sort_by_key(|k| k.issued_at);
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_id_and_matches_only_its_own_hash() {
        let id = Uuid::now_v7();
        let key = format!("{PREFIX}{}_{}", id.simple(), B64.encode([7u8; 32]));
        assert_eq!(key_id(&key), Some(id));
        assert!(matches(&key, &hex_sha256(&key)));
        let other = format!("{PREFIX}{}_{}", id.simple(), B64.encode([8u8; 32]));
        assert!(!matches(&other, &hex_sha256(&key)));
        for bad in [
            "",
            "clk_",
            "clk_abc_x",
            "eyJhbGciOi.x.y",
            &format!("{PREFIX}{}_", id.simple()),
        ] {
            assert_eq!(key_id(bad), None, "{bad}");
        }
    }

    /// Only administrators manage API keys: whoever else calls a credentials use
    /// case is refused by role, and nothing is written.
    #[tokio::test]
    async fn only_administrators_issue_revoke_or_list_keys() {
        use crate::policy::{Action, Denied};
        use careledger_domain::store::{Actor, Role};
        use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(careledger_infra::clock::SystemClock);
        let store = SqliteEventStore::open(
            dir.path().join("s.sqlite"),
            clock.clone(),
            SqliteOptions::default(),
        )
        .unwrap();
        let app = App::new(
            crate::Ports {
                store: Arc::new(store),
                vault: Arc::new(
                    careledger_infra::vault::SqliteKeyVault::in_dir(dir.path()).unwrap(),
                ),
                clock,
                catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
                projector: careledger_projections::runner::Projector::new(Casework::default()),
            },
            crate::Settings::default(),
        );
        let denied = |e: &AppError| {
            matches!(
                e,
                AppError::Forbidden(Denied::Role(Action::ManageCredentials))
            )
        };
        for role in [Role::Coordinator, Role::QualityManager, Role::ExternalApp] {
            let access = crate::Access::new(
                Actor {
                    subject: "x".into(),
                    role,
                },
                crate::SiteScope::All,
            );
            let ctx = CommandContext {
                actor: access.actor.clone(),
                idempotency_key: None,
                expected_version: None,
                occurred_at: None,
                correlation_id: Uuid::now_v7(),
            };
            let e = issue(&app, &access, &ctx, "k").await.err().unwrap();
            assert!(denied(&e), "{role:?}: {e:?}");
            let e = revoke(&app, &access, &ctx, Uuid::now_v7())
                .await
                .unwrap_err();
            assert!(denied(&e), "{role:?}: {e:?}");
            assert!(denied(&list(&app, &access).unwrap_err()), "{role:?}");
            assert!(denied(&list_from_log(&app, &access).await.unwrap_err()));
        }
        assert_eq!(
            app.store.head().await.unwrap(),
            careledger_domain::store::Position::START
        );
    }
}
