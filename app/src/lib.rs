//! # careledger-app
//!
//! The application layer: what CareLedger *does*, whoever asks. Every edge — the
//! GraphQL API, the command line, the demo loader, the benchmark, and later live
//! subscriptions, the FHIR interface and the dashboard page — calls the use cases
//! here; no edge writes a business step of its own.
//!
//! * [`App`] — the ports (event store, key vault, clock, catalogue, read models)
//!   and the settings, built once with [`App::new`].
//! * [`command`] — the one command path (read, decide, append with the version
//!   read), idempotency keys, expected versions, the stream cache.
//! * [`error`] — [`AppError`], the one typed error, converted once at each edge.
//! * [`policy`] — who may do what ([`Access`], [`policy::Action`]): one table.
//! * Use cases by feature: [`casework`] (recipients, need cases, referrals,
//!   erasure), [`directory`] (imports), [`credentials`] (API keys),
//!   [`projection`] (read models brought up to the log's head), [`demo`] (the
//!   synthetic demonstration data set).
//!
//! It depends on `domain` and `projections` only — never on axum, async-graphql
//! or clap (a test in `tests/` checks the dependency graph).

pub mod aggregates;
pub mod answer_link;
pub mod audit;
pub mod casework;
pub mod command;
pub mod credentials;
pub mod demo;
pub mod directory;
pub mod equity;
pub mod error;
pub mod fhir;
pub mod inbox;
pub mod live;
pub mod personal;
pub mod policy;
pub mod projection;
pub mod telemetry;
pub mod webhooks;

pub use aggregates::{StreamAggregate, fold};
pub use command::{CommandContext, Executed, StreamCache};
pub use error::AppError;
pub use policy::{Access, SiteScope};

use careledger_domain::catalogue::Catalogue;
use careledger_domain::personal::KeyVault;
use careledger_domain::store::{Clock, EventStore};
use careledger_projections::equity::disclosure::CellKeyMethod;
use careledger_projections::runner::Projector;
use std::sync::Arc;
use std::time::Duration;

/// Settings queries and commands share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A need case with no event for this many days is overdue.
    pub overdue_days: u32,
    /// The longest a query waits for projections to reach a requested position.
    pub consistency_timeout: Duration,
    /// Small-cell suppression threshold k for equity tables (at least 1).
    pub min_cell: u64,
    /// A referral still unanswered (requested) after this many days is flagged,
    /// in the provider's inbox and to the coordinators.
    pub unanswered_days: u32,
    /// The cell-key perturbation of released counts, under the deployment's secret
    /// (`--disclosure-secret`, or `<data-dir>/disclosure-secret`).
    pub disclosure: CellKeyMethod,
    /// What answer links are signed with (from `--answer-link-secret`, or
    /// derived from the disclosure secret).
    pub answer_links: answer_link::LinkKey,
    /// The URL schemes webhook subscriptions may use: those the edge's HTTP
    /// client delivers to.
    pub webhook_schemes: &'static [&'static str],
}

impl Default for Settings {
    /// Defaults for tests and tools: the disclosure secret is random (a server
    /// reads its own from configuration).
    fn default() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("randomness");
        Self {
            overdue_days: 14,
            consistency_timeout: Duration::from_secs(5),
            min_cell: 5,
            unanswered_days: 5,
            disclosure: CellKeyMethod::new(&secret),
            answer_links: answer_link::LinkKey::default(),
            webhook_schemes: &["http"],
        }
    }
}

/// The adapters the application runs on, chosen by the caller (`api`'s start-up).
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn EventStore>,
    /// Seals and opens names and contact details; destroys keys on erasure.
    pub vault: Arc<dyn KeyVault>,
    pub clock: Arc<dyn Clock>,
    pub catalogue: Arc<Catalogue>,
    /// The read models, fed from the log.
    pub projector: Arc<Projector>,
}

/// Everything a use case needs. Cheap to share (`Arc`).
pub struct App {
    pub store: Arc<dyn EventStore>,
    /// Seals and opens names and contact details; destroys keys on erasure.
    pub vault: Arc<dyn KeyVault>,
    pub clock: Arc<dyn Clock>,
    pub catalogue: Arc<Catalogue>,
    pub projector: Arc<Projector>,
    pub settings: Settings,
    /// What the application counts (events appended), read by the metrics edge.
    pub telemetry: telemetry::Telemetry,
    /// Streams this process read or wrote lately (see [`StreamCache`]).
    pub streams: StreamCache,
    /// Live followers reading the log at once (a replay from long ago, a slow
    /// consumer): bounded, so many of them cannot take the store from the rest.
    pub log_readers: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// The application over `ports`, with an empty stream cache.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            store: ports.store,
            vault: ports.vault,
            clock: ports.clock,
            catalogue: ports.catalogue,
            projector: ports.projector,
            settings,
            telemetry: Default::default(),
            streams: StreamCache::default(),
            log_readers: Arc::new(tokio::sync::Semaphore::new(2)),
        }
    }
}
