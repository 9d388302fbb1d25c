//! `careledger import-hsds`: bring an HSDS data package into the directory. The
//! package is read and checked whole first (`infra::hsds`); one bad record and
//! nothing is imported. Then the directory's import use case
//! ([`careledger_app::directory::import_services`]) runs each service through the
//! command path.

use crate::cli::args::ImportArgs;
use crate::startup::store::service_record;
use anyhow::Context;
use careledger_app::Settings;
use careledger_app::directory::import_services;
use std::sync::Arc;

/// `careledger import-hsds <path>`.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let catalogue = Arc::new(crate::startup::store::load_catalogue(&args.catalogue)?);
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
    let (app, opened) =
        crate::startup::offline_app(&args.store, catalogue, None, Settings::default()).await?;
    let records: Vec<_> = services.iter().cloned().map(service_record).collect();
    let bar = crate::progress::bar(services.len() as u64, "importing services");
    let result = import_services(&app, &records, || bar.inc(1)).await;
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
