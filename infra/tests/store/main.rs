//! The event-store contract suite (DESIGN §3), written once in [`contract`] and run
//! against every adapter: [`sqlite`] and [`postgres`]; another adapter (KurrentDB)
//! joins by implementing [`contract::Harness`] and invoking `contract_tests!`.

#[macro_use]
mod contract;
mod postgres;
mod sqlite;
mod vault;
