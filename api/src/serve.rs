//! `careledger serve`.

use crate::cli::{CatalogueArgs, ServeArgs};
use anyhow::Context;
use careledger_domain::catalogue::Catalogue;
use careledger_domain::store::EventStore;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use std::sync::Arc;

/// The embedded store's file name inside the data directory.
pub const STORE_FILE: &str = "careledger.sqlite";

pub fn load_catalogue(args: &CatalogueArgs) -> anyhow::Result<Catalogue> {
    match &args.catalogue {
        Some(path) => careledger_infra::catalogue::load(path)
            .with_context(|| format!("failed to load the needs catalogue {}", path.display())),
        None => careledger_infra::catalogue::default_catalogue()
            .context("the shipped needs catalogue is invalid"),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let catalogue = load_catalogue(&args.catalogue)?;
    let path = args.store.data_dir.join(STORE_FILE);
    let store = SqliteEventStore::open(&path, Arc::new(SystemClock), SqliteOptions::default())
        .with_context(|| format!("failed to open the event store at {}", path.display()))?;
    let head = store
        .head()
        .await
        .context("failed to read the store's head")?;
    tracing::info!(
        catalogue_version = catalogue.version(),
        needs = catalogue.len(),
        head = head.raw(),
        "store open"
    );
    println!(
        "CareLedger: event store open at {} (head position {head}); needs catalogue {} with {} needs. Ctrl-C to stop.",
        std::fs::canonicalize(&path)
            .unwrap_or(path.clone())
            .display(),
        catalogue.version(),
        catalogue.len()
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    store.close().await;
    println!("CareLedger: store closed.");
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
