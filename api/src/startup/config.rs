//! What the server and the commands are configured with. Each field is a flag
//! (documented in `--help`) that can also be set by the environment variable named
//! there; the command line (`cli`) flattens these into its commands, and start-up
//! reads them — start-up never looks at the command line itself.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded store, the read-model checkpoints and the token
    /// secret (created if missing).
    #[arg(long, env = "CARELEDGER_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The event store, as a URL: `sqlite:<path>` for an embedded store elsewhere
    /// than the data directory, or `postgres://user:password@host:port/database` to
    /// keep events and read-model checkpoints in PostgreSQL (several servers may
    /// share it). Default: `<data-dir>/careledger.sqlite`.
    #[arg(
        long,
        alias = "store",
        env = "CARELEDGER_STORE_URL",
        hide_env_values = true
    )]
    pub store_url: Option<String>,
    /// With a PostgreSQL store: the schema holding CareLedger's tables (created and
    /// migrated at start).
    #[arg(long, env = "CARELEDGER_PG_SCHEMA", default_value = "careledger")]
    pub pg_schema: String,
}

#[derive(Debug, Args, Clone)]
pub struct CatalogueArgs {
    /// A needs catalogue (tab-separated) to use instead of the shipped one.
    #[arg(long, env = "CARELEDGER_CATALOGUE")]
    pub catalogue: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct SecretArgs {
    /// The HS256 secret bearer tokens are signed with (at least 32 bytes). Default:
    /// the one in `<data-dir>/jwt-secret`, created at first start.
    #[arg(long, env = "CARELEDGER_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// RSA public keys (PEM files, repeatable or comma-separated) that RS256 bearer
    /// tokens from an identity provider are verified with; a token's `kid` names a
    /// key by its file stem. With keys and no `--jwt-secret`, only RS256 tokens are
    /// accepted.
    #[arg(long, env = "CARELEDGER_JWT_PUBLIC_KEYS", value_delimiter = ',')]
    pub jwt_public_key: Vec<PathBuf>,
    /// The issuer (`iss`) RS256 tokens must name (an identity provider signs
    /// tokens for many applications).
    #[arg(long, env = "CARELEDGER_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The audience (`aud`) RS256 tokens must name: this server's client id at the
    /// identity provider.
    #[arg(long, env = "CARELEDGER_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, env = "CARELEDGER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub disclosure: DisclosureArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// A need case with no update for this many days is overdue (worklists).
    #[arg(long, env = "CARELEDGER_OVERDUE_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub overdue_days: u32,
    /// The longest a query with `minPosition` waits for the read models, in milliseconds.
    #[arg(
        long,
        env = "CARELEDGER_CONSISTENCY_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub consistency_timeout_ms: u64,
    /// Equity tables withhold counts from 1 to k − 1 (and what derives from them);
    /// queries may ask for a larger k, never a smaller one.
    #[arg(long, env = "CARELEDGER_MIN_CELL", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub min_cell: u64,
    /// A referral still unanswered (requested) after this many days is flagged in
    /// the provider's inbox and to the coordinators (`unansweredOverdue`).
    #[arg(long, env = "CARELEDGER_UNANSWERED_DAYS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub unanswered_days: u32,
    /// Requests per second each credential may make (a token bucket holding
    /// `--rate-limit-burst`); over it a request is refused with 429. 0: no limit.
    #[arg(long, env = "CARELEDGER_RATE_LIMIT", default_value_t = 200)]
    pub rate_limit: u32,
    /// How many requests a credential may make at once before the rate applies.
    #[arg(long, env = "CARELEDGER_RATE_LIMIT_BURST", default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
    /// The longest a GraphQL request may run; past it the answer is 503
    /// `REQUEST_TIMEOUT` (a mutation may have been applied: retry it with the same
    /// idempotency key).
    #[arg(long, env = "CARELEDGER_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Requests one credential may have running at once; more are refused at once
    /// with 429 `TOO_MANY_IN_FLIGHT`.
    #[arg(long, env = "CARELEDGER_MAX_IN_FLIGHT", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_in_flight: u32,
    /// Open connections the server keeps at once; further clients wait in the
    /// listen queue until one closes.
    #[arg(long, env = "CARELEDGER_MAX_CONNECTIONS", default_value_t = 1_024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Recent changes kept in memory for live subscriptions while somebody follows
    /// (about 150 bytes each); a subscriber further behind reads the log instead.
    #[arg(long, env = "CARELEDGER_LIVE_RING_CHANGES", default_value_t = 16_384, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub live_ring_changes: u32,
    /// WebSocket subscription sockets the server keeps open at once; past it an
    /// upgrade is answered 503 `TOO_MANY_WEBSOCKETS`.
    #[arg(long, env = "CARELEDGER_MAX_WEBSOCKETS", default_value_t = 4_096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_websockets: u32,
    /// Open connections one client address may hold; more are closed at once.
    /// Behind a reverse proxy every client has the proxy's address: raise it there.
    #[arg(long, env = "CARELEDGER_MAX_CONNECTIONS_PER_PEER", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_peer: u32,
    /// How long a client may take to send a request's headers (and, on a kept-alive
    /// connection, to start the next request) before the connection is closed.
    #[arg(long, env = "CARELEDGER_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// How long a client may pause while sending a request body; a body still
    /// arriving when the request time limit ends is cut off too (408).
    #[arg(long, env = "CARELEDGER_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Seconds between read-model checkpoints (saved by the one server that leads
    /// the projection when several share a PostgreSQL store).
    #[arg(long, env = "CARELEDGER_CHECKPOINT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub checkpoint_secs: u64,
    /// On an empty store, load a synthetic demonstration data set first.
    #[arg(long, env = "CARELEDGER_DEMO")]
    pub demo: bool,
    /// Seed of the demonstration data (the same seed gives the same data).
    #[arg(long, env = "CARELEDGER_DEMO_SEED", default_value_t = 42)]
    pub demo_seed: u64,
    /// How many care recipients the demonstration data holds.
    #[arg(long, env = "CARELEDGER_DEMO_RECIPIENTS", default_value_t = 3000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub demo_recipients: u32,
    /// The secret answer links are signed with (at least 32 bytes). Default: a
    /// key derived from the disclosure secret. A new one voids every link issued.
    #[arg(long, env = "CARELEDGER_ANSWER_LINK_SECRET", hide_env_values = true)]
    pub answer_link_secret: Option<String>,
    /// The server's public address (e.g. `https://careledger.example.org`), from
    /// which answer links are made absolute; without it they are paths
    /// (`/answer/…`) the coordinator's client completes.
    #[arg(long, env = "CARELEDGER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The first delay before a failed webhook notification is sent again; it
    /// doubles after each failure in a row, up to `--webhook-retry-max-ms`.
    #[arg(long, env = "CARELEDGER_WEBHOOK_RETRY_FIRST_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_retry_first_ms: u64,
    /// The longest delay between two attempts to send a webhook notification.
    #[arg(long, env = "CARELEDGER_WEBHOOK_RETRY_MAX_MS", default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub webhook_retry_max_ms: u64,
    /// How long a webhook receiver may take to answer (connecting included);
    /// past it the attempt failed and is retried.
    #[arg(long, env = "CARELEDGER_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub webhook_timeout_ms: u64,
    /// Once bound, write `{"addr", "admin_token", "pid"}` as one JSON line to this
    /// file (mode 0600; replaced whole), for supervisors and test harnesses.
    #[arg(long, env = "CARELEDGER_READY_FILE")]
    pub ready_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct DisclosureArgs {
    /// The secret keying the cell-key perturbation of released equity counts (at
    /// least 32 bytes; servers sharing a PostgreSQL store must share it). Default:
    /// the one in `<data-dir>/disclosure-secret`, created at first start.
    #[arg(long, env = "CARELEDGER_DISCLOSURE_SECRET", hide_env_values = true)]
    pub disclosure_secret: Option<String>,
}
