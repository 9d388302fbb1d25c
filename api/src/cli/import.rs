//! `careledger import-hsds`: bring an HSDS directory into the service directory.
//! The package is read and checked whole first (`infra::hsds::read_path`, which
//! tells the three forms apart); one problem and nothing is imported, unless
//! `--skip-invalid` imports the valid services. `--check` reports what would
//! happen and writes nothing ([`careledger_app::directory::plan_import`]). The
//! import itself is the directory's use case
//! ([`careledger_app::directory::import_services`]), each service through the
//! command path.

use crate::cli::args::ImportArgs;
use crate::startup::store::{open_store, service_record, store_path};
use anyhow::Context;
use careledger_app::Settings;
use careledger_app::directory::{ServiceRecord, import_services, plan_import};
use careledger_domain::values::Lang;
use careledger_infra::clock::SystemClock;
use careledger_infra::hsds::{Package, ReadOptions, read_path};
use std::sync::Arc;

/// Notes printed by `--check` before "and N more".
const NOTES_SHOWN: usize = 50;

/// `careledger import-hsds <path>`.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let catalogue = Arc::new(crate::startup::store::load_catalogue(&args.catalogue)?);
    let language = match args.language.as_deref() {
        None => None,
        Some(l) => Some(
            Lang::from_tag(l)
                .filter(|_| l.len() == 2)
                .with_context(|| format!("--language {l:?} is not one of en, fr, nl, de"))?,
        ),
    };
    let options = ReadOptions {
        language,
        taxonomy_map: args.taxonomy_map.clone(),
    };
    let package = read_path(&args.path, &catalogue, &options);
    let path = args.path.display();
    let form = package.form.map_or("unrecognised", |f| f.describe());
    for e in &package.problems {
        eprintln!("  {e}");
    }
    let refused = !package.problems.is_empty() && !args.skip_invalid;
    let records: Vec<ServiceRecord> = package
        .services
        .iter()
        .cloned()
        .map(service_record)
        .collect();
    if args.check {
        return check(&args, &package, &records, refused).await;
    }
    if refused {
        anyhow::bail!(
            "{} problem(s) in {path} ({form}): nothing imported (--skip-invalid imports the {} valid services)",
            package.problems.len(),
            records.len()
        );
    }
    let (app, opened) =
        crate::startup::offline_app(&args.store, catalogue, None, Settings::default()).await?;
    let bar = crate::progress::bar(records.len() as u64, "importing services");
    let result = import_services(&app, &records, || bar.inc(1)).await;
    bar.finish_and_clear();
    let head = app.store.head().await;
    opened.close().await;
    let sum = result
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("the import stopped")?;
    println!(
        "CareLedger: imported {} services from {path} ({form}): {sum} (log head now {}).",
        records.len(),
        head.map(|h| h.raw()).unwrap_or_default()
    );
    if !package.problems.is_empty() {
        println!(
            "CareLedger: skipped {} invalid service(s); {} problem(s) reported above.",
            package.invalid_services,
            package.problems.len()
        );
    }
    if !package.notes.is_empty() {
        println!(
            "CareLedger: {} value(s) mapped rather than read as given (--check lists them).",
            package.notes.len()
        );
    }
    Ok(())
}

/// `--check`: what the import would do, and every problem; nothing written (a
/// store that does not exist yet is not created).
async fn check(
    args: &ImportArgs,
    package: &Package,
    records: &[ServiceRecord],
    refused: bool,
) -> anyhow::Result<()> {
    let path = args.path.display();
    let exists = store_path(&args.store)?.is_none_or(|p| p.exists());
    let bar = crate::progress::bar(records.len() as u64, "checking services");
    let sum = if exists {
        let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
        let store = opened.events();
        let sum = plan_import(Some(store.as_ref()), records, || bar.inc(1)).await;
        opened.close().await;
        sum
    } else {
        plan_import(None, records, || bar.inc(1)).await
    }
    .map_err(|e| anyhow::anyhow!("{e:?}"))
    .context("the check could not read the store")?;
    bar.finish_and_clear();
    println!(
        "CareLedger: checked {path} ({}): {} valid services, {} invalid; {} problem(s).",
        package.form.map_or("unrecognised", |f| f.describe()),
        records.len(),
        package.invalid_services,
        package.problems.len()
    );
    println!("  would be, if imported: {sum}");
    if !package.notes.is_empty() {
        println!(
            "  mapped rather than read as given ({}):",
            package.notes.len()
        );
        for n in package.notes.iter().take(NOTES_SHOWN) {
            println!("    {n}");
        }
        if package.notes.len() > NOTES_SHOWN {
            println!("    and {} more", package.notes.len() - NOTES_SHOWN);
        }
    }
    println!("  nothing written");
    if refused {
        anyhow::bail!(
            "{} problem(s): the import would refuse {path} (--skip-invalid would import the {} valid services)",
            package.problems.len(),
            records.len()
        );
    }
    Ok(())
}
