//! The boxed future every port returns (`EventStore`, `SnapshotStore`, `KeyVault`).
//!
//! Futures are boxed so the ports stay object-safe (`Arc<dyn EventStore>` lets the
//! store be chosen by configuration) without the domain depending on an async
//! runtime: a boxed future is plain `core`. It lives alone, below every other
//! module, so a port beside its data (the key vault in `personal`) need not import
//! the event-store module, which imports the events.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: what every port method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
