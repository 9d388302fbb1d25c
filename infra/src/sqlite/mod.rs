//! The embedded event store: one SQLite file in WAL mode, each commit's WAL
//! synced before anyone is answered or can read it.
//!
//! ## Group commit
//! One writer thread owns the only write connection. Appends from any number of
//! tasks are queued to it; it takes everything queued (up to a bound) into one
//! transaction — each multi-event append under its own SAVEPOINT, a single INSERT
//! being atomic by itself — and commits once. A conflicting append fails alone;
//! the others in the batch commit.
//!
//! ## Durability
//! Durability is never traded for speed: `Ok` is sent only after the WAL holding
//! the append was synced. The writer's connection runs `synchronous=NORMAL`, so
//! its COMMIT does not wait for the disk; a second thread, the syncer, syncs the
//! WAL (`fdatasync`) once for every batch committed since its last sync, then
//! publishes the new head, then answers those batches. While it syncs, the writer
//! is already writing the next batch. That is what `synchronous=FULL` does (WAL
//! synced after each commit; NORMAL keeps every other sync: before and after
//! checkpoints, and the WAL header when the file is reused), with the sync moved
//! off the writer's path. Every read (`read_all`, subscriptions, `read_stream`,
//! the audit) stops at the published head, so nothing committed but not yet
//! durable is ever read. A failed sync fails its batches ("may or may not be
//! stored"), and the store writes nothing more: after a failed fsync the kernel
//! may have dropped the pages, or kept them marked clean, and a later fsync may
//! not say so — so an operator checks the disk before restarting it. Opening
//! syncs the WAL and its directory first, covering whatever a killed process
//! left unsynced.
//!
//! ## Reads and subscriptions
//! Readers use a small pool of separate connections (WAL lets them read while the
//! writer writes), memory-mapped, decoding rows straight from SQLite's buffers; a
//! large page is read as two halves at once. The syncer publishes the last durable position on a `watch`
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
