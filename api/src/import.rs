//! `careledger import-hsds`: bring an HSDS data package into the directory through
//! the command path. The package is read and checked whole first (`infra::hsds`);
//! one bad record and nothing is imported. Then each service is registered, or
//! updated where its profile or capacity changed (an unchanged service writes
//! nothing), and retired where the package says it is inactive.

use crate::app::{App, CommandContext, CommandError, Settings};
use crate::cli::ImportArgs;
use anyhow::Context;
use careledger_domain::directory::{DirectoryAction, Service};
use careledger_domain::store::{Actor, Role, StreamName};
use careledger_infra::clock::SystemClock;
use careledger_infra::hsds::ImportedService;
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use std::sync::Arc;
use uuid::Uuid;

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub registered: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub retired: usize,
    /// Retired in CareLedger but active in the package: retirement is final, so
    /// they stay retired (and are not updated).
    pub kept_retired: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} registered, {} updated, {} unchanged, {} retired",
            self.registered, self.updated, self.unchanged, self.retired
        )?;
        if self.kept_retired > 0 {
            write!(
                f,
                ", {} left retired (retirement is final)",
                self.kept_retired
            )?;
        }
        Ok(())
    }
}

fn ctx() -> CommandContext {
    CommandContext {
        actor: Actor {
            subject: "import-hsds".into(),
            role: Role::System,
        },
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    }
}

/// Imports `services` through `app`'s command path; `tick` is called after each.
///
/// # Errors
/// The first command that fails (the package was checked first, so only the
/// store failing can cause one).
pub async fn import_services(
    app: &App,
    services: &[ImportedService],
    mut tick: impl FnMut(),
) -> Result<ImportSummary, CommandError> {
    let mut sum = ImportSummary::default();
    let cctx = ctx();
    for s in services {
        let stream = StreamName::service(s.id);
        let run = |action: DirectoryAction| {
            app.execute::<Service>(stream.clone(), action, &cctx, |_| Ok(()))
        };
        let history = app.read_stream(&stream).await?;
        let state = crate::app::fold::<Service>(&history);
        match state.data() {
            None => {
                run(DirectoryAction::Register {
                    service: s.id,
                    profile: s.profile.clone(),
                    capacity: s.capacity,
                })
                .await?;
                sum.registered += 1;
                if !s.active {
                    run(DirectoryAction::Retire).await?;
                    sum.retired += 1;
                }
            }
            Some(d) if d.retired => {
                if s.active {
                    sum.kept_retired += 1;
                } else {
                    sum.unchanged += 1;
                }
            }
            Some(_) => {
                let a = run(DirectoryAction::Update {
                    profile: s.profile.clone(),
                })
                .await?;
                let b = run(DirectoryAction::ChangeCapacity {
                    capacity: s.capacity,
                })
                .await?;
                if !s.active {
                    run(DirectoryAction::Retire).await?;
                    sum.retired += 1;
                } else if a.unchanged && b.unchanged {
                    sum.unchanged += 1;
                } else {
                    sum.updated += 1;
                }
            }
        }
        tick();
    }
    Ok(sum)
}

/// `careledger import-hsds <path>`.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let catalogue = Arc::new(crate::serve::load_catalogue(&args.catalogue)?);
    let services = match careledger_infra::hsds::read_dir(&args.path, &catalogue) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprintln!("  {e}");
            }
            anyhow::bail!(
                "{} bad record(s) in {}: nothing imported",
                errors.len(),
                args.path.display()
            );
        }
    };
    let opened = crate::serve::open_store(&args.store, Arc::new(SystemClock)).await?;
    let app = App {
        store: opened.events(),
        vault: opened.key_vault(&args.store.data_dir)?,
        clock: Arc::new(SystemClock),
        catalogue,
        projector: Projector::new(Casework::default()),
        settings: Settings::default(),
        metrics: Arc::default(),
        streams: Default::default(),
    };
    let bar = crate::progress::bar(services.len() as u64, "importing services");
    let result = import_services(&app, &services, || bar.inc(1)).await;
    bar.finish_and_clear();
    let head = app.store.head().await;
    opened.close().await;
    let sum = result
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("the import stopped")?;
    println!(
        "CareLedger: imported {} services from {}: {sum} (log head now {}).",
        services.len(),
        args.path.display(),
        head.map(|h| h.raw()).unwrap_or_default()
    );
    Ok(())
}
