//! # careledger-projections
//!
//! Read models folded from CareLedger's events, each a pure fold with a checkpoint,
//! fed by the event store's `subscribe_all`. Projections never issue commands and
//! never look anything up: the events carry what they need.
//!
//! ## Layout
//! * [`casework`] — the coordinators' read model: need-case views, care recipients,
//!   the set of unfinished need cases the worklist scans. A pure fold
//!   ([`Casework::apply`]) over recorded events; the command side folds a single
//!   stream with the same code ([`NeedCaseView::apply`]) so a mutation's answer and
//!   a later query agree by construction.
//! * [`directory`] — the service directory (searchable, indexed by need for the
//!   matcher) and per-service load, folded inside the casework model.
//! * [`equity`] — equity-of-access statistics (Wilson, Newcombe, Katz, Fisher,
//!   z-test, Kaplan–Meier, WHO HEAT summary measures).
//! * [`changes`] — what each folded event changed, by topic (site, organisation),
//!   in a bounded ring the live subscriptions follow.
//! * [`runner`] — feeds a projection from `subscribe_all`, publishes the position it
//!   reached (for read-your-writes waits and the lag metric), and saves checkpoints
//!   (snapshots of the model with the position they hold) through a
//!   `SnapshotStore` (a port of the domain crate), so a restart resumes instead of replaying everything.

pub mod casework;
pub mod changes;
pub mod directory;
pub mod equity;
pub mod runner;

pub use casework::{ApiKeyView, Casework, NeedCaseView, PersonalData, RecipientView, view_version};
