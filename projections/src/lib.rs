//! # careledger-projections
//!
//! Read models folded from CareLedger's events: worklists, need-case views,
//! service load, the equity-of-access cube, the audit trail — each a pure fold
//! with a checkpoint, fed by the event store's `subscribe_all`. Projections never
//! issue commands and never look anything up: the events carry what they need.
//!
//! The crate is in the workspace from the start so the dependency direction
//! (`api → projections → domain`) is fixed; its first read models arrive with the
//! GraphQL API milestone.
