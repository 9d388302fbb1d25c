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
use careledger_domain::store::{Clock, EventStore, Position};
use careledger_infra::clock::SystemClock;
use careledger_infra::snapshot::FileSnapshots;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
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
/// How often the read-model checkpoint is saved while serving.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

pub fn load_catalogue(args: &CatalogueArgs) -> anyhow::Result<Catalogue> {
    match &args.catalogue {
        Some(path) => careledger_infra::catalogue::load(path)
            .with_context(|| format!("failed to load the needs catalogue {}", path.display())),
        None => careledger_infra::catalogue::default_catalogue()
            .context("the shipped needs catalogue is invalid"),
    }
}

/// The store file a configuration names.
fn store_path(args: &StoreArgs) -> anyhow::Result<PathBuf> {
    match args.store_url.as_deref() {
        None => Ok(args.data_dir.join(STORE_FILE)),
        Some(url) => {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                anyhow::ensure!(
                    !path.is_empty(),
                    "the store URL '{url}' names no file: use sqlite:<path>"
                );
                Ok(PathBuf::from(path))
            } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                anyhow::bail!(
                    "a PostgreSQL event store is not available in this version; use the embedded store (sqlite:<path>, or no --store-url)"
                )
            } else {
                anyhow::bail!(
                    "'{url}' is not a store URL this version understands: use sqlite:<path>"
                )
            }
        }
    }
}

pub fn open_store(args: &StoreArgs, clock: Arc<dyn Clock>) -> anyhow::Result<SqliteEventStore> {
    let path = store_path(args)?;
    SqliteEventStore::open(&path, clock, SqliteOptions::default())
        .with_context(|| format!("failed to open the event store at {}", path.display()))
}

fn token_key(secret: &SecretArgs, data_dir: &Path) -> anyhow::Result<(TokenKey, bool)> {
    match &secret.jwt_secret {
        Some(s) => Ok((
            TokenKey::from_secret(s).context("invalid --jwt-secret")?,
            false,
        )),
        None => TokenKey::load_or_create(data_dir),
    }
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let catalogue = Arc::new(load_catalogue(&args.catalogue)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sqlite = open_store(&args.store, clock.clone())?;
    let store: Arc<dyn EventStore> = Arc::new(sqlite.clone());
    let (keys, first_start) = token_key(&args.secret, &args.store.data_dir)?;

    let snapshots = Arc::new(FileSnapshots::new(
        args.store.data_dir.join(PROJECTIONS_DIR),
    ));
    let projector = Projector::new(runner::load(snapshots.as_ref()));
    let runner_task = tokio::spawn(runner::run(projector.clone(), store.clone()));
    let app = Arc::new(App {
        store: store.clone(),
        clock: clock.clone(),
        catalogue: catalogue.clone(),
        projector: projector.clone(),
        settings: Settings {
            overdue_days: args.overdue_days,
            consistency_timeout: Duration::from_millis(args.consistency_timeout_ms),
            min_cell: args.min_cell,
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
    let checkpoints = {
        let (projector, snapshots) = (projector.clone(), snapshots.clone());
        tokio::spawn(async move {
            let mut saved = projector.position();
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if projector.position() != saved {
                    let (p, s) = (projector.clone(), snapshots.clone());
                    match tokio::task::spawn_blocking(move || runner::save(&p, s.as_ref())).await {
                        Ok(Ok(pos)) => saved = pos,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "cannot save the read-model checkpoint")
                        }
                        Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
                    }
                }
            }
        })
    };

    let signals = ShutdownSignals::install()?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(HttpState {
        schema: crate::graphql::build_schema(app.clone()),
        app: app.clone(),
        keys: keys.clone(),
        ready,
        documents: Default::default(),
    });
    tracing::info!(%addr, catalogue_version = catalogue.version(), needs = catalogue.len(), head = head.raw(), "serving");
    println!(
        "CareLedger: event store at {} (head position {head}); needs catalogue {} with {} needs.",
        sqlite.path().display(),
        catalogue.version(),
        catalogue.len()
    );
    if first_start {
        let token = keys.sign(&admin_claims(clock.now().timestamp()));
        println!("CareLedger: first start: admin token (shown once; keep it safe): {token}");
    }
    println!(
        "CareLedger: listening on http://{addr} (GraphiQL at /, GraphQL at /graphql). Ctrl-C to stop."
    );

    axum::serve(listener, router(state))
        .with_graceful_shutdown(signals.recv())
        .await
        .context("the HTTP server failed")?;

    tracing::info!("shutting down");
    checkpoints.abort();
    // Let the projection fold everything committed, then save its checkpoint.
    let head = store.head().await.unwrap_or(Position::START);
    let _ = projector.wait_for(head, Duration::from_secs(10)).await;
    runner_task.abort();
    let _ = runner_task.await;
    match runner::save(&projector, snapshots.as_ref()) {
        Ok(p) => tracing::info!(position = p.raw(), "read-model checkpoint saved"),
        Err(e) => tracing::warn!(error = %e, "cannot save the read-model checkpoint"),
    }
    sqlite.close().await;
    println!("CareLedger: stopped; store closed.");
    Ok(())
}

/// `careledger rebuild`: fold the whole log into fresh read models and save them.
pub async fn rebuild(args: RebuildArgs) -> anyhow::Result<()> {
    let sqlite = open_store(&args.store, Arc::new(SystemClock))?;
    let store: &dyn EventStore = &sqlite;
    let head = store.head().await?;
    let snapshots = FileSnapshots::new(args.store.data_dir.join(PROJECTIONS_DIR));
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
    use careledger_domain::store::SnapshotStore;
    snapshots
        .save(Casework::NAME, &model.to_snapshot())
        .context("cannot save the rebuilt checkpoint")?;
    sqlite.close().await;
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

/// `careledger token`: mint a token with the server's secret.
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let role = careledger_domain::store::Role::from_name(&args.role)
        .filter(|r| *r != careledger_domain::store::Role::System)
        .with_context(|| {
            format!(
                "unknown role '{}': coordinator, quality_manager, external_app or admin",
                args.role
            )
        })?;
    for s in args.sites.iter().filter(|s| *s != "*") {
        careledger_domain::values::SiteId::parse(s)?;
    }
    anyhow::ensure!(!args.sub.trim().is_empty(), "--sub must name a subject");
    let keys = match &args.secret.jwt_secret {
        Some(s) => TokenKey::from_secret(s).context("invalid --jwt-secret")?,
        None => TokenKey::load(&args.store.data_dir)?,
    };
    let now = SystemClock.now().timestamp();
    println!(
        "{}",
        keys.sign(&Claims {
            sub: args.sub,
            role: role.name().into(),
            sites: args.sites,
            iat: now,
            exp: args.hours.map(|h| now + i64::from(h) * 3600),
        })
    );
    Ok(())
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
