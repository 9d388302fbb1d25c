//! The PostgreSQL event store (DESIGN §3), for a network of hospitals that has
//! outgrown one machine. Several `careledger serve` processes may share one database.
//!
//! ## Positions that commit in order
//! A global position taken from a sequence can commit out of order: writer A takes
//! 41, writer B takes 42 and commits first, a subscriber reads 42, moves its cursor
//! past 41, and never sees A's event when it commits. Here positions are not taken
//! from a sequence. Every append transaction first updates the single row of
//! `log_head` (`UPDATE … RETURNING position`), which row-locks it until COMMIT, then
//! numbers its events from that head and stores the new head in the same row. A
//! second writer — in this process or another — blocks on that row until the first
//! has committed (or rolled back, leaving no gap), so transactions commit in
//! position order: when a reader sees position *p*, everything below *p* is
//! already visible. PostgreSQL marks a transaction committed in its snapshot
//! bookkeeping before it releases the transaction's row locks, so the next writer
//! cannot even start numbering before the previous commit is visible. A subscriber
//! therefore reads `position > last_seen` and can never skip or repeat an event.
//!
//! ## Group commit
//! The lock serialises commits, so throughput comes from batching: one writer task
//! per process owns one connection; appends from every task are queued to it and
//! everything queued (up to a bound) is decided and inserted in one transaction — one
//! multi-row INSERT from arrays, one WAL flush — before each caller is answered. A
//! conflicting append fails alone; the others commit.
//!
//! ## Waking subscribers
//! The append transaction sends `NOTIFY` with the new head; PostgreSQL delivers it at
//! COMMIT to every listening connection, in this process and in the others. Each
//! store keeps one `LISTEN` connection feeding a `watch` of the head; a subscription
//! that has caught up sleeps on it (with a slow fallback re-read, should a
//! notification be lost with its connection), never in a tight polling loop.
//!
//! ## Schema
//! All tables live in one PostgreSQL schema (`careledger` unless configured), created
//! and migrated at open under an advisory lock, so two processes starting together
//! do not race. A schema written by a newer CareLedger is refused with a clear error.

mod connection;
mod port;
mod request;
mod row;
mod schema;
mod snapshots;
mod store;
mod vault;
mod writer;

pub use connection::{describe, redacted};
pub use port::PG_PAGE;
pub use schema::{PG_SCHEMA_VERSION, PgOptions};
pub use snapshots::PgSnapshots;
pub use store::{Leadership, PgEventStore};
pub use vault::{PgKeyVault, PgKeys};
