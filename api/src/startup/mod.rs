//! Start-up and shutdown: wiring adapters to ports (the only place that chooses
//! them), in the shape of mini-redis's `run(listener, shutdown)`.
//!
//! [`Application::build`] loads the catalogue, opens the store, loads the
//! read-model checkpoint, starts the projection runner (it follows the log from
//! the checkpoint), loads the demo data if asked, and binds — returning the bound
//! address before anything is served. [`Application::run_until_stopped`] serves
//! until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
//! lets the projection fold what was committed, saves its checkpoint, and flushes
//! and closes the store.

pub mod checkpoint;
pub mod config;
pub mod secrets;
pub mod signals;
pub mod store;
pub mod webhooks;

use crate::http::tokens::{TokenKey, admin_claims, expiry_text};
use crate::http::{HttpState, router};
use crate::ops::metrics::Metrics;
use anyhow::Context;
use careledger_app::{App, Ports, Settings};
use careledger_domain::store::{Clock, Position, SnapshotStore};
use careledger_infra::clock::SystemClock;
use careledger_projections::runner::{self, Projector};
use config::ServeArgs;
use serde::Serialize;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use store::Store;

/// A server built and bound, not yet serving.
pub struct Application {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: Arc<App>,
    opened: Store,
    projector: Arc<Projector>,
    snapshots: Arc<dyn SnapshotStore>,
    runner: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
    keys: TokenKey,
    ready: Arc<AtomicBool>,
    /// The first-start admin token and its expiry (shown once, when serving starts).
    admin_token: Option<(String, i64)>,
    config: ServeArgs,
}

/// The line a test harness or a supervisor reads, as JSON, from `--ready-file`:
/// where the server listens and, on its first start, the admin token.
#[derive(Debug, Serialize)]
pub struct ReadyLine<'a> {
    pub addr: String,
    pub admin_token: Option<&'a str>,
    pub pid: u32,
}

impl Application {
    /// Everything but serving: adapters chosen and opened, read models loaded and
    /// following the log, demo data loaded if asked, the address bound.
    ///
    /// # Errors
    /// A configuration that cannot work (said plainly), a store that cannot be
    /// opened, an address that cannot be bound.
    pub async fn build(config: ServeArgs) -> anyhow::Result<Self> {
        let args = &config;
        let catalogue = Arc::new(store::load_catalogue(&args.catalogue)?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        if store::store_path(&args.store)?.is_none() {
            anyhow::ensure!(
                args.secret.jwt_secret.is_some() || !args.secret.jwt_public_key.is_empty(),
                "with a PostgreSQL store several servers share one database, so they must share how tokens are checked: set --jwt-secret (or CARELEDGER_JWT_SECRET; mint tokens with `careledger token --jwt-secret …`) or --jwt-public-key"
            );
            anyhow::ensure!(
                args.disclosure.disclosure_secret.is_some(),
                "with a PostgreSQL store several servers share one database, so they must release the same perturbed figures: set --disclosure-secret (or CARELEDGER_DISCLOSURE_SECRET, at least 32 bytes)"
            );
        }
        let opened = store::open_store(&args.store, clock.clone()).await?;
        let store = opened.events();
        let (keys, first_start) = secrets::token_key(&args.secret, &args.store.data_dir)?;

        let snapshots = opened.snapshots(&args.store.data_dir);
        let projector = Projector::with_ring(
            runner::load(snapshots.as_ref()),
            args.live_ring_changes as usize,
        );
        // What decoding the checkpoint left behind was just freed: the need cases' own copies
        // of their recipients' profiles, and with PostgreSQL the checkpoint's bytes.
        crate::release_freed_memory();
        let vault = opened.key_vault(&args.store.data_dir)?;
        let runner_task = tokio::spawn(runner::run(projector.clone(), store.clone()));
        let settings = Settings {
            overdue_days: args.overdue_days,
            consistency_timeout: Duration::from_millis(args.consistency_timeout_ms),
            min_cell: args.min_cell,
            unanswered_days: args.unanswered_days,
            disclosure: secrets::disclosure(&args.disclosure, &args.store.data_dir, true)?,
            answer_links: secrets::answer_links(
                args.answer_link_secret.as_deref(),
                &args.disclosure,
                &args.store.data_dir,
            )?,
            webhook_schemes: webhooks::HttpSender::SCHEMES,
        };
        let app = Arc::new(App::new(
            Ports {
                store: store.clone(),
                vault,
                clock: clock.clone(),
                catalogue: catalogue.clone(),
                projector: projector.clone(),
            },
            settings,
        ));

        let head = store
            .head()
            .await
            .context("failed to read the store's head")?;
        if args.demo {
            if head == Position::START {
                load_demo(&app, args.demo_seed, args.demo_recipients).await?;
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
                    // The indexes a cold fold filled in ascending order are
                    // half empty: rebuilt whole, then what they held is freed,
                    // on every runtime worker (see `release_freed_memory`).
                    projector.compact_if_grown();
                    crate::release_freed_memory();
                    crate::collect_on_every_worker().await;
                    ready.store(true, Ordering::Release);
                    tracing::info!(position = head.raw(), "projections caught up; ready");
                }
            });
        }
        // This server's own registry (no global one): requests, latencies, and
        // the events this application appended, read at each scrape.
        let metrics = {
            let appended = app.clone();
            let mut m = Metrics::new(move || appended.telemetry.events_appended());
            m.register_collector(crate::ops::webhooks::collector(app.clone()));
            m
        };
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, catalogue_version = catalogue.version(), needs = catalogue.len(), head = head.raw(), "bound");
        println!(
            "CareLedger: event store at {} (head position {head}); needs catalogue {} with {} needs.",
            opened.describe(),
            catalogue.version(),
            catalogue.len()
        );
        let admin_token = first_start.then(|| {
            let claims = admin_claims(clock.now().timestamp());
            (keys.sign(&claims), claims.exp)
        });
        Ok(Self {
            listener,
            addr,
            app,
            opened,
            projector,
            snapshots,
            runner: runner_task,
            metrics: Arc::new(metrics),
            keys,
            ready,
            admin_token,
            config,
        })
    }

    /// The address the server listens on (port 0 in the configuration: the one
    /// the system chose).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first-start admin token (shown once), if this start created the secret.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token.as_ref().map(|(t, _)| t.as_str())
    }

    /// Writes the [`ReadyLine`] as JSON to `path` (mode 0600: it may hold the
    /// admin token), replacing the file whole so a reader never sees half of it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_ready_file(&self, path: &PathBuf) -> anyhow::Result<()> {
        let line = ReadyLine {
            addr: self.addr.to_string(),
            admin_token: self.admin_token(),
            pid: std::process::id(),
        };
        let json = serde_json::to_string(&line)?;
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        crate::http::tokens::write_private(&tmp, format!("{json}\n").as_bytes())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully (see the
    /// module documentation). On the first start it prints the admin token; with
    /// `--ready-file` it writes the ready line before serving (should that fail,
    /// it shuts down as after a signal and says why).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let args = &self.config;
        if let Some((token, exp)) = &self.admin_token {
            // The token stays the line's last word (people copy it from there).
            println!(
                "CareLedger: first start: admin token (shown once; keep it safe; valid {} h, until {}; mint another with `careledger token --role admin --sub admin`): {token}",
                crate::http::tokens::ADMIN_TOKEN_HOURS,
                expiry_text(*exp)
            );
        }
        let ready = match &args.ready_file {
            Some(path) => self.write_ready_file(path),
            None => Ok(()),
        };
        let (stop_checkpoints, stop) = tokio::sync::oneshot::channel();
        let (leading, leading_now) =
            tokio::sync::watch::channel(matches!(self.opened, Store::Sqlite(_)));
        let checkpoints = tokio::spawn(checkpoint::checkpoint_loop(
            stop,
            self.opened.clone(),
            self.projector.clone(),
            self.snapshots.clone(),
            self.metrics.clone(),
            Duration::from_secs(args.checkpoint_secs),
            leading,
        ));
        // Webhook notifications: the log is the outbox (careledger_app::webhooks).
        let outbox = tokio::spawn(
            careledger_app::webhooks::outbox::Outbox::new(
                self.app.clone(),
                Arc::new(webhooks::HttpSender {
                    timeout: Duration::from_millis(args.webhook_timeout_ms),
                }),
                self.snapshots.clone(),
                careledger_app::webhooks::outbox::OutboxSettings {
                    fhir_base: webhooks::fhir_base(args.public_url.as_deref(), self.addr),
                    backoff: careledger_app::webhooks::outbox::Backoff {
                        first: Duration::from_millis(args.webhook_retry_first_ms),
                        max: Duration::from_millis(
                            args.webhook_retry_max_ms.max(args.webhook_retry_first_ms),
                        ),
                    },
                },
            )
            .run(leading_now),
        );
        let limits = crate::http::limits::Limits {
            rate_per_sec: f64::from(args.rate_limit),
            burst: f64::from(args.rate_limit_burst),
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            max_in_flight: args.max_in_flight as usize,
        };
        let connection_limits = crate::http::listener::ConnectionLimits {
            max_connections: args.max_connections as usize,
            max_per_peer: args.max_connections_per_peer as usize,
            header_timeout: Duration::from_millis(args.header_timeout_ms),
            body_timeout: Duration::from_millis(args.body_timeout_ms),
            request_timeout: limits.request_timeout,
            max_body_bytes: crate::http::MAX_BODY_BYTES,
        };
        let (schema, fast_schema) = crate::graphql::build_schemas(
            self.app.clone(),
            crate::graphql::casework::types::LinkBase(args.public_url.clone()),
        );
        let validated =
            crate::http::validated::ValidatedDocuments::new(crate::graphql::schema_env().await);
        let state = Arc::new(HttpState {
            schema,
            fast_schema,
            validated,
            app: self.app.clone(),
            keys: self.keys.clone(),
            ready: self.ready.clone(),
            metrics: self.metrics.clone(),
            documents: Default::default(),
            limiter: crate::http::limits::RateLimiter::new(&limits),
            limits,
            in_flight: Default::default(),
            live: crate::http::ws::LiveSockets::new(
                args.max_websockets as usize,
                args.max_connections_per_peer as usize,
            ),
            public_url: args.public_url.clone(),
            dashboard: Default::default(),
        });
        let addr = self.addr;
        match &ready {
            Ok(()) => {
                tracing::info!(%addr, "serving");
                println!(
                    "CareLedger: listening on http://{addr} (GraphiQL at /, GraphQL at /graphql). Ctrl-C to stop."
                );
                let sockets = state.clone();
                let live = state.clone();
                // Subscription sockets are closed (1001) when shutdown begins.
                let shutdown = async move {
                    shutdown.await;
                    sockets.live.stop();
                };
                crate::http::listener::run(
                    self.listener,
                    router(state),
                    connection_limits,
                    shutdown,
                )
                .await;
                // Upgraded sockets left the listener's accounting: let them send
                // their close frame before the process goes.
                live.live.closed(Duration::from_secs(5)).await;
            }
            // Nobody would learn where the server listens: do not serve.
            Err(e) => tracing::error!(error = %e, "cannot write the ready file; stopping"),
        }

        tracing::info!("shutting down");
        // A notification cut off here is sent again after the restart (same
        // idempotency id): its checkpoint moves only once it was taken.
        outbox.abort();
        let _ = outbox.await;
        // Let the projection fold everything committed, then save its checkpoint
        // (the loop saves it if this process leads, then gives the lead up).
        let head = self.app.store.head().await.unwrap_or(Position::START);
        let _ = self.projector.wait_for(head, Duration::from_secs(10)).await;
        self.runner.abort();
        let _ = self.runner.await;
        let _ = stop_checkpoints.send(());
        let _ = checkpoints.await;
        self.opened.close().await;
        println!("CareLedger: stopped; store closed.");
        ready
    }
}

/// The application over a store opened for one command that runs and exits
/// (`import-hsds`, `api-key`, `export-equity`): the shipped catalogue unless
/// given, the read models as `projector` (empty unless the command needs them).
///
/// # Errors
/// The store or the key vault cannot be opened.
pub async fn offline_app(
    store_args: &config::StoreArgs,
    catalogue: Arc<careledger_domain::catalogue::Catalogue>,
    projector: Option<Arc<Projector>>,
    settings: Settings,
) -> anyhow::Result<(Arc<App>, Store)> {
    let opened = store::open_store(store_args, Arc::new(SystemClock)).await?;
    let projector = match projector {
        Some(p) => p,
        None => Projector::new(careledger_projections::Casework::default()),
    };
    let app = Arc::new(App::new(
        Ports {
            store: opened.events(),
            vault: opened.key_vault(&store_args.data_dir)?,
            clock: Arc::new(SystemClock),
            catalogue,
            projector,
        },
        settings,
    ));
    Ok((app, opened))
}

/// The demonstration data set (`serve --demo`): the shipped example directory,
/// then `recipients` care recipients, through the application's use case.
async fn load_demo(app: &Arc<App>, seed: u64, recipients: u32) -> anyhow::Result<()> {
    let directory: Vec<careledger_app::directory::ServiceRecord> =
        careledger_infra::hsds::read_example(&app.catalogue)
            .map_err(|e| anyhow::anyhow!("the shipped HSDS package is invalid: {e:?}"))?
            .into_iter()
            .map(store::service_record)
            .collect();
    let bar = crate::progress::bar(u64::from(recipients), "loading demo data (care recipients)");
    let started = std::time::Instant::now();
    let loaded = careledger_app::demo::load(app, &directory, seed, recipients, || bar.inc(1))
        .await
        .map_err(|e| anyhow::anyhow!("a demo command failed: {e:?}"))?;
    bar.finish_and_clear();
    println!(
        "CareLedger: demo directory: {} services ({}).",
        directory.len(),
        loaded.directory
    );
    println!(
        "CareLedger: demo data loaded (seed {seed}): {recipients} care recipients, {} commands in {:.1} s.",
        loaded.commands,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
