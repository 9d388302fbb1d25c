//! The key vault in the PostgreSQL schema: the `recipient_keys` table (migration 3),
//! shared by every replica.

use crate::seal::{Key, KeyState, KeyTable, TableVault, key_of};
use careledger_domain::ids::RecipientId;
use careledger_domain::personal::VaultError;
use careledger_domain::store::BoxFuture;

/// The vault in the PostgreSQL schema (`recipient_keys`, migration 3).
pub type PgKeyVault = TableVault<PgKeys>;

#[derive(Clone)]
pub struct PgKeys {
    store: super::store::PgEventStore,
}

fn pg_err(e: tokio_postgres::Error) -> VaultError {
    VaultError::Unavailable(crate::postgres::describe(&e))
}

impl TableVault<PgKeys> {
    pub fn new(store: super::store::PgEventStore) -> Self {
        TableVault(PgKeys { store })
    }
}

impl KeyTable for PgKeys {
    fn insert_or_get(
        &self,
        r: RecipientId,
        fresh: Key,
    ) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        Box::pin(async move {
            self.store
                .client()
                .execute(
                    "INSERT INTO recipient_keys (recipient, key) VALUES ($1, $2)
                     ON CONFLICT (recipient) DO NOTHING",
                    &[&r.as_uuid(), &fresh.as_slice()],
                )
                .await
                .map_err(pg_err)?;
            self.get(r).await
        })
    }

    fn get(&self, r: RecipientId) -> BoxFuture<'_, Result<KeyState, VaultError>> {
        Box::pin(async move {
            let row = self
                .store
                .client()
                .query_opt(
                    "SELECT key, destroyed_at IS NOT NULL FROM recipient_keys WHERE recipient = $1",
                    &[&r.as_uuid()],
                )
                .await
                .map_err(pg_err)?;
            Ok(match row {
                None => KeyState::Missing,
                Some(row) if row.get::<_, bool>(1) => KeyState::Destroyed,
                Some(row) => KeyState::Present(key_of(row.get(0))?),
            })
        })
    }

    fn tombstone(&self, r: RecipientId) -> BoxFuture<'_, Result<(), VaultError>> {
        Box::pin(async move {
            self.store
                .client()
                .execute(
                    "INSERT INTO recipient_keys (recipient, key, destroyed_at) VALUES ($1, NULL, now())
                     ON CONFLICT (recipient) DO UPDATE
                     SET key = NULL, destroyed_at = COALESCE(recipient_keys.destroyed_at, now())",
                    &[&r.as_uuid()],
                )
                .await
                .map_err(pg_err)?;
            Ok(())
        })
    }
}
