//! `careledger api-key issue | revoke | list`: the credentials use cases
//! ([`careledger_app::credentials`]) from the command line, as an administrator.

use crate::cli::args::ApiKeyCommand as C;
use anyhow::Context;
use careledger_app::{Access, CommandContext, Settings, SiteScope, credentials};
use careledger_domain::store::{Actor, Role};
use std::sync::Arc;
use uuid::Uuid;

pub async fn run(cmd: C) -> anyhow::Result<()> {
    let store_args = match &cmd {
        C::Issue { store, .. } | C::Revoke { store, .. } | C::List { store } => store.clone(),
    };
    let catalogue = Arc::new(
        careledger_infra::catalogue::default_catalogue()
            .context("the shipped needs catalogue is invalid")?,
    );
    let (app, opened) =
        crate::startup::offline_app(&store_args, catalogue, None, Settings::default()).await?;
    let access = Access::new(
        Actor {
            subject: "cli".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    );
    let ctx = CommandContext {
        actor: access.actor.clone(),
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    };
    let outcome = match cmd {
        C::Issue { name, .. } => credentials::issue(&app, &access, &ctx, &name)
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
            Ok(id) => credentials::revoke(&app, &access, &ctx, id)
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
        C::List { .. } => credentials::list_from_log(&app, &access)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .map(|keys| {
                for k in keys {
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
            }),
    };
    opened.close().await;
    outcome
}
