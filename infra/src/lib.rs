//! # careledger-infra
//!
//! Adapters for the ports of `careledger-domain`. Only this crate knows SQL and how
//! events are encoded.
//!
//! ## Layout
//! * [`sqlite`] — the embedded event store (SQLite, WAL, group commit) and the
//!   embedded key vault (`keys.db`).
//! * [`postgres`] — the PostgreSQL event store (positions committed in order, group
//!   commit, LISTEN/NOTIFY), checkpoints in the database, projection leadership, and
//!   the key vault table.
//! * [`codec`] — event encoding, schema versions and upcasting.
//! * [`catalogue`] — reading the needs catalogue file.
//! * [`hsds`] — reading an Open Referral HSDS 3.0 data package (the service directory).
//! * [`clock`] — the system clock.
//! * [`snapshot`] — projection checkpoints as files, replaced atomically.
//! * [`seal`] — the AEAD sealing of personal data, and the key vault over any key
//!   table.
//! * [`vault`] — the key vaults' one address (re-exports the SQLite file and the
//!   PostgreSQL table vaults, and the sealing).

pub mod catalogue;
pub mod clock;
pub mod codec;
mod group_commit;
pub mod hsds;
pub mod postgres;
pub mod seal;
pub mod snapshot;
pub mod sqlite;
pub mod vault;
