//! API keys: how they are issued (GraphQL and CLI share this) and checked.
//!
//! A key reads `clk_<key id, 32 hex>_<secret, 43 base64url characters>`: 256
//! random bits. Only the secret's SHA-256 is recorded (in the `ApiKeyIssued`
//! event); a presented key is hashed and compared in constant time with the hash
//! the read model holds. A key acts as an external application: the catalogue, the
//! directory and suppressed aggregates.

use crate::app::{App, CommandContext, CommandError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use careledger_domain::credential::{ApiKey, CredentialAction};
use careledger_domain::store::{Position, StreamName};
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
pub async fn issue(app: &App, ctx: &CommandContext, name: &str) -> Result<Issued, CommandError> {
    let key_id = ctx.idempotency_key.unwrap_or_else(Uuid::now_v7);
    let stream = StreamName::api_key(key_id);
    if ctx.idempotency_key.is_some() {
        let existing = app
            .store
            .read_stream(stream.clone(), 0, 1)
            .await
            .map_err(CommandError::from)?;
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
        .map_err(|e| CommandError::Unavailable(format!("no randomness: {e}")))?;
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

/// `careledger api-key …`.
pub async fn cli(cmd: crate::cli::ApiKeyCommand) -> anyhow::Result<()> {
    use crate::cli::ApiKeyCommand as C;
    use anyhow::Context;
    use careledger_domain::store::{Actor, Role};
    use careledger_infra::clock::SystemClock;
    use careledger_projections::Casework;
    use careledger_projections::runner::Projector;
    use std::sync::Arc;
    let store_args = match &cmd {
        C::Issue { store, .. } | C::Revoke { store, .. } | C::List { store } => store.clone(),
    };
    let opened = crate::serve::open_store(&store_args, Arc::new(SystemClock)).await?;
    let app = App {
        store: opened.events(),
        vault: opened.key_vault(&store_args.data_dir)?,
        clock: Arc::new(SystemClock),
        catalogue: Arc::new(
            careledger_infra::catalogue::default_catalogue()
                .context("the shipped needs catalogue is invalid")?,
        ),
        projector: Projector::new(Casework::default()),
        settings: Default::default(),
        metrics: Arc::default(),
        streams: Default::default(),
    };
    let ctx = CommandContext {
        actor: Actor {
            subject: "cli".into(),
            role: Role::Admin,
        },
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    };
    let outcome = match cmd {
        C::Issue { name, .. } => issue(&app, &ctx, &name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .map(|i| {
                println!(
                    "CareLedger: API key {} issued. The key (shown once; keep it safe):\n{}",
                    i.key_id,
                    i.secret.unwrap_or_default()
                );
            }),
        C::Revoke { id, .. } => match Uuid::try_parse(id.trim()) {
            Err(_) => Err(anyhow::anyhow!("'{id}' is not an API key id (a UUID)")),
            Ok(id) => app
                .execute::<ApiKey>(
                    StreamName::api_key(id),
                    CredentialAction::RevokeApiKey,
                    &ctx,
                    |_| Ok(()),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .map(|x| {
                    if x.unchanged {
                        println!("CareLedger: API key {id} was already revoked.");
                    } else {
                        println!("CareLedger: API key {id} revoked.");
                    }
                }),
        },
        C::List { .. } => {
            // Fold the log's API-key events (a small read: the whole log once).
            let mut model = Casework::default();
            let mut after = careledger_domain::store::Position::START;
            let mut failed = None;
            loop {
                match app.store.read_all(after, 16_384).await {
                    Ok(page) => {
                        let Some(last) = page.last() else { break };
                        after = last.position;
                        for e in &page {
                            model.apply(e);
                        }
                    }
                    Err(e) => {
                        failed = Some(anyhow::anyhow!("{e}"));
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => {
                    for k in model.api_keys() {
                        // A name recorded before the text rule may hold control
                        // characters: never live on the terminal.
                        println!(
                            "{}\t{}\tissued {} by {}\t{}",
                            k.id,
                            careledger_domain::values::escape_controls(&k.name),
                            k.issued_at.to_rfc3339(),
                            k.issued_by,
                            k.revoked_at.map_or("active".to_string(), |t| format!(
                                "revoked {}",
                                t.to_rfc3339()
                            ))
                        );
                    }
                    Ok(())
                }
            }
        }
    };
    opened.close().await;
    outcome
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
}
