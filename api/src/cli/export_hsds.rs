//! `careledger export-hsds DIR`: the service directory as an HSDS 3.0 tabular
//! data package (`infra::hsds::export`), from the directory read model brought
//! up to the log's head. Importing the package back writes nothing.

use crate::cli::args::ExportHsdsArgs;
use crate::startup::store::open_store;
use anyhow::Context;
use careledger_app::directory::directory_records;
use careledger_app::projection::caught_up;
use careledger_domain::store::EventStore;
use careledger_infra::clock::SystemClock;
use careledger_infra::hsds::export::{ExportService, package};
use std::sync::Arc;

pub async fn run(args: ExportHsdsArgs) -> anyhow::Result<()> {
    let out = &args.dir;
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
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store: Arc<dyn EventStore> = opened.events();
    let snapshots = opened.snapshots(&args.store.data_dir);
    let projector = caught_up(&store, snapshots.as_ref()).await;
    opened.close().await;
    let projector = projector?;
    let records = directory_records(projector.read().directory());
    let services: Vec<ExportService<'_>> = records
        .iter()
        .map(|r| ExportService {
            id: r.id,
            profile: &r.profile,
            capacity: r.capacity,
            active: r.active,
        })
        .collect();
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let files = package(&services, &created);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let bar = crate::progress::bar(files.len() as u64, "writing tables");
    for f in &files {
        let path = out.join(&f.path);
        std::fs::write(&path, &f.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "CareLedger: wrote {} services as an HSDS 3.0 tabular data package to {} ({} files).",
        services.len(),
        out.display(),
        files.len()
    );
    Ok(())
}
