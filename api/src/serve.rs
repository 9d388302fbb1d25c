//! `careledger serve`, `rebuild` and `token`: wiring adapters to ports, start-up and
//! shutdown.
//!
//! Start-up: load the catalogue, open the store, load the read-model checkpoint,
//! start the projection runner (it follows the log from the checkpoint), load the
//! demo data if asked, bind, serve. Shutdown (SIGTERM or Ctrl-C): stop accepting,
//! let in-flight requests finish, let the projection fold what was committed, save
//! its checkpoint, flush and close the store.

use crate::app::{App, Settings};
use crate::auth::{Claims, TokenKey, admin_claims};
use crate::cli::{CatalogueArgs, RebuildArgs, SecretArgs, ServeArgs, StoreArgs, TokenArgs};
use crate::http::{HttpState, router};
use anyhow::Context;
use careledger_domain::catalogue::Catalogue;
use careledger_domain::personal::KeyVault;
use careledger_domain::store::{Clock, EventStore, Position, SnapshotStore};
use careledger_infra::clock::SystemClock;
use careledger_infra::postgres::{PgEventStore, PgOptions};
use careledger_infra::snapshot::FileSnapshots;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_infra::vault::SqliteKeyVault;
use careledger_projections::Casework;
use careledger_projections::runner::{self, Projector};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The embedded store's file name inside the data directory.
pub const STORE_FILE: &str = "careledger.sqlite";
/// Where read-model checkpoints live inside the data directory.
pub const PROJECTIONS_DIR: &str = "projections";
/// How often a follower asks to lead the projection.
const LEAD_RETRY: Duration = Duration::from_secs(1);

pub fn load_catalogue(args: &CatalogueArgs) -> anyhow::Result<Catalogue> {
    match &args.catalogue {
        Some(path) => careledger_infra::catalogue::load(path)
            .with_context(|| format!("failed to load the needs catalogue {}", path.display())),
        None => careledger_infra::catalogue::default_catalogue()
            .context("the shipped needs catalogue is invalid"),
    }
}

/// The store file a configuration names (`None`: a PostgreSQL URL).
fn store_path(args: &StoreArgs) -> anyhow::Result<Option<PathBuf>> {
    match args.store_url.as_deref() {
        None => Ok(Some(args.data_dir.join(STORE_FILE))),
        Some(url) => {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                anyhow::ensure!(
                    !path.is_empty(),
                    "the store URL '{url}' names no file: use sqlite:<path>"
                );
                Ok(Some(PathBuf::from(path)))
            } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                Ok(None)
            } else {
                anyhow::bail!(
                    "the store URL '{}' is not one this version understands: use sqlite:<path> or postgres://user:password@host:port/database",
                    url.split('@').next_back().unwrap_or_default()
                )
            }
        }
    }
}

/// An opened event store: the embedded one or PostgreSQL.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteEventStore),
    Postgres(PgEventStore),
}

impl Store {
    pub fn events(&self) -> Arc<dyn EventStore> {
        match self {
            Store::Sqlite(s) => Arc::new(s.clone()),
            Store::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Where read-model checkpoints are kept: files in the data directory, or the
    /// PostgreSQL database (so replicas share them and keep nothing on local disk).
    pub fn snapshots(&self, data_dir: &Path) -> Arc<dyn SnapshotStore> {
        match self {
            Store::Sqlite(_) => Arc::new(FileSnapshots::new(data_dir.join(PROJECTIONS_DIR))),
            Store::Postgres(s) => Arc::new(s.snapshots()),
        }
    }

    /// The key vault of personal data: `keys.db` in the data directory beside an
    /// embedded store, the `recipient_keys` table with PostgreSQL (shared by replicas).
    pub fn key_vault(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn KeyVault>> {
        Ok(match self {
            Store::Sqlite(_) => {
                std::fs::create_dir_all(data_dir).with_context(|| {
                    format!("cannot create the data directory {}", data_dir.display())
                })?;
                Arc::new(SqliteKeyVault::in_dir(data_dir).with_context(|| {
                    format!("cannot open the key vault in {}", data_dir.display())
                })?)
            }
            Store::Postgres(s) => Arc::new(careledger_infra::vault::PgKeyVault::new(s.clone())),
        })
    }

    /// Where it is, without credentials.
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => s.path().display().to_string(),
            Store::Postgres(s) => s.describe(),
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

pub async fn open_store(args: &StoreArgs, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    match store_path(args)? {
        Some(path) => SqliteEventStore::open(&path, clock, SqliteOptions::default())
            .map(Store::Sqlite)
            .with_context(|| format!("failed to open the event store at {}", path.display())),
        None => {
            let url = args.store_url.as_deref().unwrap_or_default();
            let options = PgOptions {
                schema: args.pg_schema.clone(),
                ..PgOptions::default()
            };
            PgEventStore::open(url, clock, options)
                .await
                .map(Store::Postgres)
                .context("failed to open the PostgreSQL event store")
        }
    }
}

fn token_key(secret: &SecretArgs, data_dir: &Path) -> anyhow::Result<(TokenKey, bool)> {
    let keys = &secret.jwt_public_key;
    if !keys.is_empty() {
        // With an identity provider's keys, HS256 only when a secret is configured
        // (no secret file is created, no token printed).
        let key = match &secret.jwt_secret {
            Some(s) => TokenKey::from_secret(s)
                .context("invalid --jwt-secret")?
                .with_public_keys(keys)?,
            None => TokenKey::public_only(keys)?,
        }
        .with_rs256_claims(secret.jwt_issuer.clone(), secret.jwt_audience.clone());
        return Ok((key, false));
    }
    match &secret.jwt_secret {
        Some(s) => Ok((
            TokenKey::from_secret(s).context("invalid --jwt-secret")?,
            false,
        )),
        None => TokenKey::load_or_create(data_dir),
    }
}

/// The disclosure-control secret's file in the data directory when none is configured.
pub const DISCLOSURE_SECRET_FILE: &str = "disclosure-secret";

/// The cell-key method under the configured secret, or the one in `data_dir`
/// (when `create`, made with 32 random bytes, mode 0600, if there is none). Never
/// from the code; it survives restarts, and servers sharing a store must share it.
/// Exports never create one: a second secret would publish a second, independent
/// draw of the same cells, and averaging draws converges on the exact counts.
pub fn disclosure(
    args: &crate::cli::DisclosureArgs,
    data_dir: &Path,
    create: bool,
) -> anyhow::Result<careledger_projections::equity::disclosure::CellKeyMethod> {
    use careledger_projections::equity::disclosure::CellKeyMethod;
    if let Some(s) = &args.disclosure_secret {
        anyhow::ensure!(
            s.len() >= 32,
            "the disclosure secret must be at least 32 bytes long"
        );
        return Ok(CellKeyMethod::new(s.as_bytes()));
    }
    let path = data_dir.join(DISCLOSURE_SECRET_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            anyhow::ensure!(
                bytes.len() >= 32,
                "the disclosure secret in {} is shorter than 32 bytes",
                path.display()
            );
            Ok(CellKeyMethod::new(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => Err(anyhow::anyhow!(
            "no disclosure secret in {}: start the server once on this data directory, or pass the deployment's --disclosure-secret (CARELEDGER_DISCLOSURE_SECRET); nothing was written",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.write_all(&raw)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(CellKeyMethod::new(&raw))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let catalogue = Arc::new(load_catalogue(&args.catalogue)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if store_path(&args.store)?.is_none() {
        anyhow::ensure!(
            args.secret.jwt_secret.is_some() || !args.secret.jwt_public_key.is_empty(),
            "with a PostgreSQL store several servers share one database, so they must share how tokens are checked: set --jwt-secret (or CARELEDGER_JWT_SECRET; mint tokens with `careledger token --jwt-secret …`) or --jwt-public-key"
        );
        anyhow::ensure!(
            args.disclosure.disclosure_secret.is_some(),
            "with a PostgreSQL store several servers share one database, so they must release the same perturbed figures: set --disclosure-secret (or CARELEDGER_DISCLOSURE_SECRET, at least 32 bytes)"
        );
    }
    let opened = open_store(&args.store, clock.clone()).await?;
    let store = opened.events();
    let (keys, first_start) = token_key(&args.secret, &args.store.data_dir)?;

    let snapshots = opened.snapshots(&args.store.data_dir);
    let projector = Projector::new(runner::load(snapshots.as_ref()));
    let vault = opened.key_vault(&args.store.data_dir)?;
    let runner_task = tokio::spawn(runner::run(projector.clone(), store.clone()));
    let app = Arc::new(App {
        store: store.clone(),
        vault,
        clock: clock.clone(),
        catalogue: catalogue.clone(),
        projector: projector.clone(),
        settings: Settings {
            overdue_days: args.overdue_days,
            consistency_timeout: Duration::from_millis(args.consistency_timeout_ms),
            min_cell: args.min_cell,
            disclosure: disclosure(&args.disclosure, &args.store.data_dir, true)?,
        },
        metrics: Arc::default(),
        streams: Default::default(),
    });

    let head = store
        .head()
        .await
        .context("failed to read the store's head")?;
    if args.demo {
        if head == Position::START {
            crate::demo::load(&app, args.demo_seed, args.demo_recipients).await?;
        } else {
            println!("CareLedger: the store is not empty; demo data not loaded.");
        }
    }
    let head = store
        .head()
        .await
        .context("failed to read the store's head")?;

    let ready = Arc::new(AtomicBool::new(false));
    {
        let (projector, ready) = (projector.clone(), ready.clone());
        tokio::spawn(async move {
            if projector
                .wait_for(head, Duration::from_secs(24 * 3600))
                .await
                .is_ok()
            {
                ready.store(true, Ordering::Release);
                tracing::info!(position = head.raw(), "projections caught up; ready");
            }
        });
    }
    let (stop_checkpoints, stop) = tokio::sync::oneshot::channel();
    let checkpoints = tokio::spawn(checkpoint_loop(
        stop,
        opened.clone(),
        projector.clone(),
        snapshots.clone(),
        app.metrics.clone(),
        Duration::from_secs(args.checkpoint_secs),
    ));

    let signals = ShutdownSignals::install()?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let limits = crate::http::Limits {
        rate_per_sec: f64::from(args.rate_limit),
        burst: f64::from(args.rate_limit_burst),
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        max_in_flight: args.max_in_flight as usize,
    };
    let connection_limits = crate::listener::ConnectionLimits {
        max_connections: args.max_connections as usize,
        max_per_peer: args.max_connections_per_peer as usize,
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        body_timeout: Duration::from_millis(args.body_timeout_ms),
        request_timeout: limits.request_timeout,
        max_body_bytes: crate::http::MAX_BODY_BYTES,
    };
    let state = Arc::new(HttpState {
        schema: crate::graphql::build_schema(app.clone()),
        app: app.clone(),
        keys: keys.clone(),
        ready,
        documents: Default::default(),
        limiter: crate::http::RateLimiter::new(&limits),
        limits,
        in_flight: Default::default(),
    });
    tracing::info!(%addr, catalogue_version = catalogue.version(), needs = catalogue.len(), head = head.raw(), "serving");
    println!(
        "CareLedger: event store at {} (head position {head}); needs catalogue {} with {} needs.",
        opened.describe(),
        catalogue.version(),
        catalogue.len()
    );
    if first_start {
        let claims = admin_claims(clock.now().timestamp());
        let token = keys.sign(&claims);
        // The token stays the line's last word (scripts and tests read it there).
        println!(
            "CareLedger: first start: admin token (shown once; keep it safe; valid {} h, until {}; mint another with `careledger token --role admin --sub admin`): {token}",
            crate::auth::ADMIN_TOKEN_HOURS,
            expiry_text(claims.exp)
        );
    }
    println!(
        "CareLedger: listening on http://{addr} (GraphiQL at /, GraphQL at /graphql). Ctrl-C to stop."
    );

    crate::listener::run(listener, router(state), connection_limits, signals.recv()).await;

    tracing::info!("shutting down");
    // Let the projection fold everything committed, then save its checkpoint (the
    // loop saves it if this process leads, then gives the lead up).
    let head = store.head().await.unwrap_or(Position::START);
    let _ = projector.wait_for(head, Duration::from_secs(10)).await;
    runner_task.abort();
    let _ = runner_task.await;
    let _ = stop_checkpoints.send(());
    let _ = checkpoints.await;
    opened.close().await;
    println!("CareLedger: stopped; store closed.");
    Ok(())
}

/// Saves the read-model checkpoint every `every` while the projection moves. With
/// the embedded store this process is the only one. With PostgreSQL, only the
/// server holding the projection's advisory lock saves (the others keep their
/// in-memory copy current from the log and ask to lead every second); when the
/// leader dies its session ends, the lock is released, and another takes over and
/// saves at once.
async fn checkpoint_loop(
    mut stop: tokio::sync::oneshot::Receiver<()>,
    store: Store,
    projector: Arc<Projector>,
    snapshots: Arc<dyn SnapshotStore>,
    metrics: Arc<crate::metrics::Metrics>,
    every: Duration,
) {
    let mut lead: Option<careledger_infra::postgres::Leadership> = None;
    let mut saved = projector.position();
    let mut last_save = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(LEAD_RETRY.min(every));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => {
                // Shutting down: the last checkpoint, then the lead (if held) is let go.
                if matches!(store, Store::Sqlite(_)) || lead.is_some() {
                    save_checkpoint(&projector, &snapshots, &metrics).await;
                }
                return;
            }
        }
        let mut became = false;
        let leading = match &store {
            Store::Sqlite(_) => true,
            Store::Postgres(pg) => {
                if lead.as_ref().is_some_and(|l| !l.is_held()) {
                    tracing::warn!("lost the projection lock's connection; following");
                    lead = None;
                }
                if lead.is_none() {
                    match pg.try_lead(Casework::NAME).await {
                        Ok(Some(l)) => {
                            tracing::info!("leading the casework projection");
                            lead = Some(l);
                            became = true;
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot ask to lead the projection"),
                    }
                }
                lead.is_some()
            }
        };
        metrics.leader.store(u64::from(leading), Ordering::Relaxed);
        let due = became || last_save.elapsed() >= every;
        if leading
            && due
            && (became || projector.position() != saved)
            && let Some(pos) = save_checkpoint(&projector, &snapshots, &metrics).await
        {
            saved = pos;
            last_save = tokio::time::Instant::now();
        }
    }
}

async fn save_checkpoint(
    projector: &Arc<Projector>,
    snapshots: &Arc<dyn SnapshotStore>,
    metrics: &crate::metrics::Metrics,
) -> Option<Position> {
    let (p, s) = (projector.clone(), snapshots.clone());
    match tokio::task::spawn_blocking(move || runner::save(&p, s.as_ref())).await {
        Ok(Ok(pos)) => {
            metrics.checkpoint.store(pos.raw(), Ordering::Relaxed);
            tracing::debug!(position = pos.raw(), "read-model checkpoint saved");
            Some(pos)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot save the read-model checkpoint");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "checkpoint task failed");
            None
        }
    }
}

/// `careledger rebuild`: fold the whole log into fresh read models and save them.
pub async fn rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let opened = open_store(&args.store, Arc::new(SystemClock)).await?;
    let store = opened.events();
    let head = store.head().await?;
    let snapshots = opened.snapshots(&args.store.data_dir);
    snapshots
        .remove(Casework::NAME)
        .context("cannot remove the old checkpoint")?;
    let bar = crate::progress::bar(head.raw(), "rebuilding read models (events)");
    let started = std::time::Instant::now();
    let mut model = Casework::default();
    let mut after = Position::START;
    let mut count = 0u64;
    loop {
        let page = store.read_all(after, 16_384).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for e in &page {
            model.apply(e);
        }
        count += page.len() as u64;
        bar.set_position(after.raw());
    }
    bar.finish_and_clear();
    let bytes = model.to_snapshot();
    let saved = {
        let snapshots = snapshots.clone();
        tokio::task::spawn_blocking(move || snapshots.save(Casework::NAME, &bytes)).await?
    };
    saved.context("cannot save the rebuilt checkpoint")?;
    opened.close().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "CareLedger: read models rebuilt from {count} events in {secs:.2} s ({:.0} events/s): {} need cases, {} care recipients, up to position {}.",
        count as f64 / secs.max(1e-9),
        model.need_case_count(),
        model.recipient_count(),
        model.position()
    );
    Ok(())
}

/// `careledger token`: mint a token with the server's secret. Every token expires
/// (`--hours`, 8 unless given, at most [`crate::auth::MAX_TOKEN_HOURS`]), and only
/// the roles of the authorisation table are minted.
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let role = crate::auth::token_role(&args.role).with_context(|| {
        let why = if careledger_domain::store::Role::from_name(&args.role).is_some() {
            "is the server's internal role and is never given to a token"
        } else {
            "is not a role"
        };
        format!(
            "--role '{}' {why}: choose {}",
            args.role,
            crate::auth::token_role_names()
        )
    })?;
    for s in args.sites.iter().filter(|s| *s != "*") {
        careledger_domain::values::SiteId::parse(s)?;
    }
    anyhow::ensure!(!args.sub.trim().is_empty(), "--sub must name a subject");
    anyhow::ensure!(
        (1..=crate::auth::MAX_TOKEN_HOURS).contains(&args.hours),
        "--hours must be between 1 and {}",
        crate::auth::MAX_TOKEN_HOURS
    );
    let keys = match &args.secret.jwt_secret {
        Some(s) => TokenKey::from_secret(s).context("invalid --jwt-secret")?,
        None => TokenKey::load(&args.store.data_dir)?,
    };
    let now = SystemClock.now().timestamp();
    let exp = now + i64::from(args.hours) * 3600;
    println!(
        "{}",
        keys.sign(&Claims {
            sub: args.sub,
            role: role.name().into(),
            sites: args.sites,
            iat: now,
            exp,
        })
    );
    eprintln!(
        "CareLedger: {} token, valid {} h, until {}.",
        role.name(),
        args.hours,
        expiry_text(exp)
    );
    Ok(())
}

/// A token's expiry for people: `2026-11-30 14:05 UTC`.
fn expiry_text(exp: i64) -> String {
    chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| exp.to_string())
}

/// SIGTERM and Ctrl-C (SIGINT) handlers, installed before the server says it is
/// listening: a signal that arrives between that line and the first poll of the
/// shutdown future must still mean "shut down gracefully", not the default action
/// (which kills the process).
pub struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first SIGTERM or SIGINT.
    pub async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {},
            _ = self.int.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
