//! The event-store contract suite (DESIGN §3), written once in [`contract`] and run
//! against every adapter: [`sqlite`] here; PostgreSQL and KurrentDB join by
//! implementing [`contract::Harness`] and invoking `contract_tests!`.

#[macro_use]
mod contract;
mod sqlite;
