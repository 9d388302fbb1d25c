//! The embedded event store: one SQLite file in WAL mode with `synchronous=FULL`.
//!
//! ## Group commit
//! One writer thread owns the only write connection. Appends from any number of
//! tasks are queued to it; it takes everything queued (up to a bound) into one
//! transaction — each multi-event append under its own SAVEPOINT, a single INSERT
//! being atomic by itself — commits once (one fsync for the whole batch), publishes
//! the new head, and only then answers each caller. A conflicting append fails alone;
//! the others in the batch commit.
//!
//! Durability is never traded for speed: `Ok` is sent after COMMIT returned, and
//! with `synchronous=FULL` in WAL mode COMMIT returns after the WAL is fsynced.
//!
//! ## Reads and subscriptions
//! Readers use a small pool of separate connections (WAL lets them read while the
//! writer writes), memory-mapped, decoding rows straight from SQLite's buffers; a
//! large page is read as two halves at once. The writer publishes the last committed position on a `watch`
//! channel; a subscription reads pages after its position and, when it has caught
//! up, sleeps until the published head moves. A single writer commits positions in
//! order, so reading `position > last_seen` after a commit never skips anything.
//!
//! One process owns a store file at a time: an OS lock on `<file>.lock` refuses a
//! second opener with a clear error instead of letting two group-commit writers race.

mod port;
mod read;
mod request;
mod schema;
mod store;
mod vault;
mod writer;

pub use port::REPLAY_PAGE;
pub use schema::{DURABLE_PRAGMAS, INSERT_SQL, SCHEMA_SQL, SCHEMA_VERSION, SqliteOptions};
pub use store::SqliteEventStore;
pub use vault::{KEY_FILE, SqliteKeyVault, SqliteKeys};
