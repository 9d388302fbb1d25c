//! Case work over GraphQL: care recipients, need cases and their referrals — the
//! types, the reads (from the projections) and one mutation per lifecycle
//! command (each a call to a use case of `careledger_app::casework`).

pub mod inputs;
pub mod links;
pub mod mutation;
pub mod notes;
pub mod query;
pub mod types;
