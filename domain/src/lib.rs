//! # careledger-domain
//!
//! The pure core of CareLedger: care recipients, need cases and their referrals,
//! the needs catalogue, and the ports the outside world implements. No I/O, no
//! clock, no async runtime, no SQL, no GraphQL: everything here is a function of
//! its inputs, which is what lets the lifecycle be tested exhaustively.
//!
//! ## Layout
//! * [`aggregate`] — `Command`, the `Aggregate` trait (`decide` / `apply`).
//! * [`recipient`] — care recipients and their equity stratifiers.
//! * [`need_case`] — need cases and the referral lifecycle (DESIGN §2).
//! * [`catalogue`] — validation of the needs catalogue.
//! * [`directory`] — the service directory (HSDS-shaped services).
//! * [`matching`] — ranked, explained service suggestions.
//! * [`values`], [`region`], [`ids`] — validating newtypes.
//! * [`event`] — the union of all events and their stored type names.
//! * [`store`] — the `EventStore` and `Clock` ports.
//! * [`future`] — `BoxFuture`, the boxed future every port returns.
//! * [`personal`] — names and contact details, sealed; the `KeyVault` port.
//! * [`timestamp`] — instants as integers in binary checkpoints.

pub mod aggregate;
pub mod catalogue;
pub mod credential;
pub mod directory;
pub mod event;
pub mod future;
pub mod ids;
pub mod matching;
pub mod need_case;
pub mod personal;
pub mod recipient;
pub mod region;
pub mod store;
pub mod timestamp;
pub mod values;
pub mod webhook;

pub use aggregate::{Aggregate, Command};
pub use event::DomainEvent;
