//! [`PgSnapshots`]: read-model checkpoints in the `snapshots` table.

use super::connection::describe;
use super::store::PgEventStore;
use careledger_domain::store::SnapshotStore;

/// Read-model checkpoints in the `snapshots` table. The port is synchronous (the
/// runner saves from a blocking task), so calls block on the store's runtime.
pub struct PgSnapshots {
    pub(super) store: PgEventStore,
    pub(super) handle: tokio::runtime::Handle,
}

impl PgSnapshots {
    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(|| self.handle.block_on(f)),
            Err(_) => self.handle.block_on(f),
        }
    }
}

fn io_err(e: tokio_postgres::Error) -> std::io::Error {
    std::io::Error::other(describe(&e))
}

impl SnapshotStore for PgSnapshots {
    fn load(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.block(async {
            let row = self
                .store
                .reader()
                .query_opt("SELECT bytes FROM snapshots WHERE name = $1", &[&name])
                .await
                .map_err(io_err)?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }
    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.block(async {
            self.store
                .reader()
                .execute(
                    "INSERT INTO snapshots (name, bytes) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, saved_at = now()",
                    &[&name, &bytes],
                )
                .await
                .map_err(io_err)?;
            Ok(())
        })
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.block(async {
            self.store
                .reader()
                .execute("DELETE FROM snapshots WHERE name = $1", &[&name])
                .await
                .map_err(io_err)?;
            Ok(())
        })
    }
}

/// Declared here rather than beside the store's other methods so that the store
/// module need not know this one.
impl PgEventStore {
    /// Read-model checkpoints kept in this database.
    pub fn snapshots(&self) -> PgSnapshots {
        PgSnapshots {
            store: self.clone(),
            handle: tokio::runtime::Handle::current(),
        }
    }
}
