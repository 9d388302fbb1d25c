//! `careledger export-equity`: an equity table as CSV on standard output,
//! suppression applied — the same table the GraphQL `equity` field serves (the
//! command asks the schema in process), from the read models brought up to the
//! log's head.

use crate::cli::args::{ExportArgs, OpenDataArgs};
use crate::startup::secrets::disclosure;
use crate::startup::store::{load_catalogue, open_store};
use anyhow::Context;
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

/// `careledger export-equity`.
pub async fn equity(args: ExportArgs) -> anyhow::Result<()> {
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
    let schema = crate::graphql::build_schema(app);
    let query =
        "query($by: Stratifier!, $outcome: EquityOutcome!, $filter: EquityFilterInput, $k: Int) {
        equity(by: $by, outcome: $outcome, filter: $filter, k: $k) { csv } }";
    let vars = serde_json::json!({
        "by": args.by.to_uppercase(),
        "outcome": args.outcome.to_uppercase(),
        "k": args.k,
        "filter": { "from": args.from, "to": args.to, "sites": args.sites },
    });
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(vars))
        .data(Access {
            actor: Actor {
                subject: "export-equity".into(),
                role: Role::System,
            },
            sites: SiteScope::All,
        })
        .data(careledger_domain::values::Lang::En);
    let response = schema.execute(request).await;
    opened.close().await;
    if let Some(e) = response.errors.first() {
        anyhow::bail!("{}", e.message);
    }
    let data = response.data.into_json().context("unreadable answer")?;
    print!("{}", data["equity"]["csv"].as_str().unwrap_or_default());
    Ok(())
}
