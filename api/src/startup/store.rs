//! The adapters, chosen by configuration: the embedded SQLite store (the default,
//! no configuration) or PostgreSQL, with the key vault and the checkpoint store
//! that go with each; and the needs catalogue.

use super::config::{CatalogueArgs, StoreArgs};
use anyhow::Context;
use careledger_domain::catalogue::Catalogue;
use careledger_domain::personal::KeyVault;
use careledger_domain::store::{Clock, EventStore, SnapshotStore};
use careledger_infra::postgres::{PgEventStore, PgOptions};
use careledger_infra::snapshot::FileSnapshots;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_infra::vault::SqliteKeyVault;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The embedded store's file name inside the data directory.
pub const STORE_FILE: &str = "careledger.sqlite";
/// Where read-model checkpoints live inside the data directory.
pub const PROJECTIONS_DIR: &str = "projections";

pub fn load_catalogue(args: &CatalogueArgs) -> anyhow::Result<Catalogue> {
    match &args.catalogue {
        Some(path) => careledger_infra::catalogue::load(path)
            .with_context(|| format!("failed to load the needs catalogue {}", path.display())),
        None => careledger_infra::catalogue::default_catalogue()
            .context("the shipped needs catalogue is invalid"),
    }
}

/// The store file a configuration names (`None`: a PostgreSQL URL).
pub fn store_path(args: &StoreArgs) -> anyhow::Result<Option<PathBuf>> {
    match args.store_url.as_deref() {
        None => Ok(Some(args.data_dir.join(STORE_FILE))),
        Some(url) => {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                anyhow::ensure!(
                    !path.is_empty(),
                    "the store URL '{url}' names no file: use sqlite:<path>"
                );
                Ok(Some(PathBuf::from(path)))
            } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Ok(None)
            } else {
                anyhow::bail!(
                    "the store URL '{}' is not one this version understands: use sqlite:<path> or postgres://user:password@host:port/database",
                    url.split('@').next_back().unwrap_or_default()
                )
            }
        }
    }
}

/// An opened event store: the embedded one or PostgreSQL.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteEventStore),
    Postgres(PgEventStore),
}

impl Store {
    pub fn events(&self) -> Arc<dyn EventStore> {
        match self {
            Store::Sqlite(s) => Arc::new(s.clone()),
            Store::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Where read-model checkpoints are kept: files in the data directory, or the
    /// PostgreSQL database (so replicas share them and keep nothing on local disk).
    pub fn snapshots(&self, data_dir: &Path) -> Arc<dyn SnapshotStore> {
        match self {
            Store::Sqlite(_) => Arc::new(FileSnapshots::new(data_dir.join(PROJECTIONS_DIR))),
            Store::Postgres(s) => Arc::new(s.snapshots()),
        }
    }

    /// The key vault of personal data: `keys.db` in the data directory beside an
    /// embedded store, the `recipient_keys` table with PostgreSQL (shared by replicas).
    pub fn key_vault(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn KeyVault>> {
        Ok(match self {
            Store::Sqlite(_) => {
                std::fs::create_dir_all(data_dir).with_context(|| {
                    format!("cannot create the data directory {}", data_dir.display())
                })?;
                Arc::new(SqliteKeyVault::in_dir(data_dir).with_context(|| {
                    format!("cannot open the key vault in {}", data_dir.display())
                })?)
            }
            Store::Postgres(s) => Arc::new(careledger_infra::vault::PgKeyVault::new(s.clone())),
        })
    }

    /// Where it is, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(s) => s.describe(),
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

pub async fn open_store(args: &StoreArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    match store_path(args)? {
        Some(path) => SqliteEventStore::open(&path, clock, SqliteOptions::default())
            .map(Store::Sqlite)
            .with_context(|| format!("failed to open the event store at {}", path.display())),
        None => {
            let url = args.store_url.as_deref().unwrap_or_default();
            let options = PgOptions {
                schema: args.pg_schema.clone(),
                ..PgOptions::default()
            };
            PgEventStore::open(url, clock, options)
                .await
                .map(Store::Postgres)
                .context("failed to open the PostgreSQL event store")
        }
    }
}

/// A service of a directory package as the application's import takes it.
pub fn service_record(
    s: careledger_infra::hsds::ImportedService,
) -> careledger_app::directory::ServiceRecord {
    careledger_app::directory::ServiceRecord {
        id: s.id,
        profile: s.profile,
        capacity: s.capacity,
        active: s.active,
    }
}
