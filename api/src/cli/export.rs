//! `careledger export-equity`: an equity table as CSV on standard output,
//! disclosure control applied — the same use case, and so the same table, as the
//! GraphQL `equity` field (`careledger_app::equity`), from the read models brought
//! up to the log's head.

use crate::cli::args::{ExportArgs, OpenDataArgs};
use crate::startup::secrets::disclosure;
use crate::startup::store::{load_catalogue, open_store};
use anyhow::Context;
use careledger_app::equity::{Filter, Outcome, ReferenceKind, Stratifier, TableRequest};
use careledger_app::projection::caught_up;
use careledger_app::{Access, Settings, SiteScope};
use careledger_domain::store::{Actor, EventStore, Role};
use careledger_infra::clock::SystemClock;
use std::sync::Arc;

/// `careledger export-open-data --out DIR`: the Frictionless package
/// ([`careledger_projections::equity::open_data`]) written into a new directory.
pub async fn open_data(args: OpenDataArgs) -> anyhow::Result<()> {
    let out = &args.out;
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .next()
            .is_none();
        anyhow::ensure!(
            empty,
            "{} exists and is not empty: name a new directory (nothing was written)",
            out.display()
        );
    }
    let method = disclosure(&args.disclosure, &args.store.data_dir, false)?;
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store: Arc<dyn EventStore> = opened.events();
    let snapshots = opened.snapshots(&args.store.data_dir);
    let projector = caught_up(&store, snapshots.as_ref()).await;
    opened.close().await;
    let projector = projector?;
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let files = {
        let model = projector.read();
        careledger_projections::equity::open_data::package(
            model.equity(),
            &method,
            args.min_cell,
            &created,
        )
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for f in &files {
        let path = out.join(&f.path);
        std::fs::write(&path, &f.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "CareLedger: wrote {} files to {} (datapackage.json, README.md and one table per stratifier; counts perturbed, cells below {} withheld).",
        files.len(),
        out.display(),
        args.min_cell
    );
    Ok(())
}

/// The stratifier named on the command line (`language`, `AGE_BAND`, …).
fn stratifier(name: &str) -> anyhow::Result<Stratifier> {
    let upper = name.to_uppercase();
    Stratifier::ALL
        .into_iter()
        .find(|s| s.name().eq_ignore_ascii_case(&upper))
        .with_context(|| {
            let all: Vec<&str> = Stratifier::ALL.iter().map(|s| s.name()).collect();
            format!(
                "--by {upper} is not a stratifier: one of {}",
                all.join(", ")
            )
        })
}

/// The outcome named on the command line (`referral_rate`, …).
fn outcome(name: &str) -> anyhow::Result<Outcome> {
    let upper = name.to_uppercase();
    Outcome::ALL
        .into_iter()
        .find(|o| o.name().eq_ignore_ascii_case(&upper))
        .with_context(|| {
            let all: Vec<&str> = Outcome::ALL.iter().map(|o| o.name()).collect();
            format!(
                "--outcome {upper} is not an outcome: one of {}",
                all.join(", ")
            )
        })
}

/// `careledger export-equity`.
pub async fn equity(args: ExportArgs) -> anyhow::Result<()> {
    let request = TableRequest {
        filter: Filter {
            from: args.from,
            to: args.to,
            sites: args.sites,
            ..Filter::default()
        },
        by: stratifier(&args.by)?,
        outcome: outcome(&args.outcome)?,
        reference: ReferenceKind::Largest,
        reference_group: None,
        k: args.k,
    };
    let catalogue = Arc::new(load_catalogue(&args.catalogue)?);
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store: Arc<dyn EventStore> = opened.events();
    let snapshots = opened.snapshots(&args.store.data_dir);
    let projector = caught_up(&store, snapshots.as_ref()).await?;
    let app = Arc::new(careledger_app::App::new(
        careledger_app::Ports {
            store,
            vault: opened.key_vault(&args.store.data_dir)?,
            clock: Arc::new(SystemClock),
            catalogue,
            projector,
        },
        Settings {
            min_cell: args.min_cell,
            disclosure: disclosure(&args.disclosure, &args.store.data_dir, false)?,
            ..Settings::default()
        },
    ));
    // The system exports: the table is perturbed, as for everyone outside a site.
    let access = Access::new(
        Actor {
            subject: "export-equity".into(),
            role: Role::System,
        },
        SiteScope::All,
    );
    let table = match app.check_equity_table(&access, request) {
        Ok(checked) => app.equity_table(checked, None, None).await,
        Err(e) => Err(e),
    };
    opened.close().await;
    print!("{}", table?.csv);
    Ok(())
}
