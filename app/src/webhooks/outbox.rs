//! The webhook outbox: the log is the outbox, and each subscription keeps a
//! checkpoint in the snapshot store (`webhook-<id>`: the last log position it
//! delivered up to and how many notifications it has sent).
//!
//! One worker per live subscription, started and stopped by [`Outbox::run`] as
//! subscriptions are created and deleted (and only while this server leads: with
//! PostgreSQL, the server that saves the projection's checkpoints). A worker
//! reads the log after its checkpoint, never beyond the position the projection
//! has folded (committed events only, and the model then knows every need case
//! and service they name); each change of a referral's status that passes the
//! subscription's filter becomes one notification ([`scan`]), sent in log order:
//! the next waits until the receiver has taken the previous one, which is retried
//! with capped exponential backoff ([`Backoff`]) for as long as it takes. Only
//! then does the checkpoint move (saved at once). Progress over events that
//! notify nothing is saved at most once a second. After a crash the
//! worker resumes from its checkpoint: a notification may be sent again, with
//! the same idempotency id, event number and body, but none is lost.
//!
//! A change read again from the log names the referral's organisation as the
//! directory records it now (as live subscriptions do).

use crate::App;
use crate::webhooks::manage::open_secret;
use crate::webhooks::notification::{self, Notice};
use crate::webhooks::port::{Outgoing, WebhookSender};
use careledger_domain::store::{Position, RecordedEvent, SnapshotStore};
use careledger_domain::webhook::WebhookFilter;
use careledger_projections::Casework;
use careledger_projections::casework::webhooks::WebhookView;
use careledger_projections::changes::change_of;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Events read per page.
const PAGE: usize = 1_024;
/// Progress over events that concern no notification is saved at most this often.
const SAVE_SKIPPED_EVERY: Duration = Duration::from_secs(1);
/// How often the set of subscriptions is looked at.
const SUPERVISE_EVERY: Duration = Duration::from_millis(250);

/// Retry delays: `first`, doubling after each failure, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failure in a row (1, 2, …).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// How the outbox delivers.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// The FHIR interface's absolute address (`<public URL>/fhir`), for `fullUrl`s.
    pub fhir_base: String,
    pub backoff: Backoff,
}

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every change up to this log position was delivered (or concerns it not).
    pub position: u64,
    /// Notifications sent so far (the last one's event number).
    pub events: u64,
}

/// The snapshot name of a subscription's checkpoint.
pub fn checkpoint_name(id: Uuid) -> String {
    format!("webhook-{}", id.simple())
}

/// The notifications the events of `page` after `after` and up to `reached`
/// make for a subscription with `filter`, numbered after `events`; and the
/// position up to which the page was examined. Only changes that move a
/// referral to a status are notified (`Task` changes); notes, consent
/// withdrawals and answer links are not.
pub fn scan(
    model: &Casework,
    page: &[RecordedEvent],
    after: Position,
    reached: Position,
    filter: &WebhookFilter,
    mut events: u64,
) -> (Vec<Notice>, Position) {
    let mut last = after;
    let mut out = Vec::new();
    for e in page
        .iter()
        .filter(|e| e.position > after)
        .take_while(|e| e.position <= reached)
    {
        last = e.position;
        let Some(c) = change_of(model, e) else {
            continue;
        };
        let Some(r) = c.referral else { continue };
        let Some(status) = r.status else { continue };
        if !filter.matches(r.organisation.as_ref(), &c.site, status) {
            continue;
        }
        events += 1;
        out.push(Notice {
            position: e.position,
            event_number: events,
            recorded_at: e.recorded_at,
            occurred_at: c.occurred_at,
            need_case: c.need_case,
            referral: r.referral,
            status,
        });
    }
    // A page that ends before `reached` leaves the rest for the next read.
    let scanned = if page.last().is_some_and(|e| e.position < reached) {
        last
    } else {
        reached
    };
    (out, scanned)
}

/// Delivers every subscription's notifications.
pub struct Outbox {
    app: Arc<App>,
    sender: Arc<dyn WebhookSender>,
    snapshots: Arc<dyn SnapshotStore>,
    settings: OutboxSettings,
}

/// The workers; dropping it (the outbox task aborted) stops them all.
struct Workers(HashMap<Uuid, JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        self.0.values().for_each(JoinHandle::abort);
    }
}

impl Outbox {
    pub fn new(
        app: Arc<App>,
        sender: Arc<dyn WebhookSender>,
        snapshots: Arc<dyn SnapshotStore>,
        settings: OutboxSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            app,
            sender,
            snapshots,
            settings,
        })
    }

    /// Runs a worker for each live subscription while `leading` is true, for
    /// ever (abort the task to stop; its workers stop with it).
    pub async fn run(self: Arc<Self>, mut leading: watch::Receiver<bool>) {
        let mut workers = Workers(HashMap::new());
        let mut cleaned = HashSet::new();
        loop {
            let lead = *leading.borrow_and_update();
            let (live, deleted): (Vec<WebhookView>, HashSet<Uuid>) = {
                let m = self.app.projector.read();
                let live = m
                    .webhooks()
                    .filter(|w| lead && w.deleted_at.is_none())
                    .cloned()
                    .collect();
                let deleted = m
                    .webhooks()
                    .filter(|w| w.deleted_at.is_some())
                    .map(|w| w.id)
                    .collect();
                (live, deleted)
            };
            let wanted: HashSet<Uuid> = live.iter().map(|w| w.id).collect();
            let mut stopped = Vec::new();
            workers.0.retain(|id, h| {
                let keep = wanted.contains(id) && !h.is_finished();
                if !keep {
                    h.abort();
                    stopped.push(*id);
                }
                keep
            });
            for id in stopped {
                self.app.telemetry.webhooks.forget(id);
            }
            // A deleted subscription's checkpoint goes (once per process: also
            // one deleted while no server ran).
            if lead {
                for id in deleted.difference(&cleaned).copied().collect::<Vec<_>>() {
                    if !workers.0.contains_key(&id) {
                        match self.io(move |s| s.remove(&checkpoint_name(id))).await {
                            Ok(()) => {
                                cleaned.insert(id);
                            }
                            Err(e) => {
                                tracing::warn!(subscription = %id, error = %e, "cannot remove a deleted webhook subscription's checkpoint");
                            }
                        }
                    }
                }
            }
            for w in live {
                workers
                    .0
                    .entry(w.id)
                    .or_insert_with(|| tokio::spawn(self.clone().deliver(w)));
            }
            tokio::select! {
                () = tokio::time::sleep(SUPERVISE_EVERY) => {}
                r = leading.changed() => if r.is_err() {
                    tokio::time::sleep(SUPERVISE_EVERY).await;
                },
            }
        }
    }

    /// Runs snapshot-store I/O on the blocking pool (files are fsynced; the
    /// PostgreSQL store blocks on its runtime).
    async fn io<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SnapshotStore) -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let s = self.snapshots.clone();
        tokio::task::spawn_blocking(move || f(s.as_ref()))
            .await
            .map_err(std::io::Error::other)?
    }

    /// The subscription's checkpoint: saved, or its creation's position. An
    /// unreadable store is asked again; an unreadable checkpoint starts over
    /// (everything is sent again, with the same idempotency ids).
    async fn load(&self, w: &WebhookView) -> Checkpoint {
        let start = Checkpoint {
            position: w.created_position,
            events: 0,
        };
        let mut failures = 0;
        loop {
            let name = checkpoint_name(w.id);
            match self.io(move |s| s.load(&name)).await {
                Ok(None) => return start,
                Ok(Some(bytes)) => {
                    return serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        tracing::warn!(subscription = %w.id, "unreadable webhook checkpoint; delivering from the subscription's start");
                        start
                    });
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(subscription = %w.id, error = %e, "cannot read a webhook checkpoint");
                    tokio::time::sleep(self.settings.backoff.delay(failures)).await;
                }
            }
        }
    }

    async fn save(&self, id: Uuid, cp: Checkpoint) {
        let bytes = serde_json::to_vec(&cp).expect("a checkpoint serialises");
        let name = checkpoint_name(id);
        if let Err(e) = self.io(move |s| s.save(&name, &bytes)).await {
            // The next save covers it; a crash before then sends again.
            tracing::warn!(subscription = %id, error = %e, "cannot save a webhook checkpoint");
        }
        self.app
            .telemetry
            .webhooks
            .update(id, |s| s.checkpoint = cp.position);
    }

    /// Delivers one subscription's notifications, for ever; returns when its
    /// secret is gone (the subscription was deleted).
    async fn deliver(self: Arc<Self>, w: WebhookView) {
        let id = w.id;
        let mut failures = 0;
        let secret = loop {
            match open_secret(&self.app, &w).await {
                Ok(Some(s)) => break s,
                Ok(None) => return,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(subscription = %id, error = %e, "cannot open a webhook subscription's secret");
                    tokio::time::sleep(self.settings.backoff.delay(failures)).await;
                }
            }
        };
        let mut cp = self.load(&w).await;
        let mut saved = (cp, Instant::now());
        self.app
            .telemetry
            .webhooks
            .update(id, |s| s.checkpoint = cp.position);
        let mut wake = self.app.projector.watch();
        loop {
            wake.borrow_and_update();
            let reached = self.app.projector.position();
            let after = Position::new(cp.position);
            if reached <= after {
                if cp != saved.0 {
                    self.save(id, cp).await;
                    saved = (cp, Instant::now());
                }
                if wake.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            }
            let page = match self.app.store.read_all(after, PAGE).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %e, "cannot read the log for webhooks");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let (notices, scanned) = {
                let m = self.app.projector.read();
                scan(&m, &page, after, reached, &w.filter, cp.events)
            };
            for (i, n) in notices.iter().enumerate() {
                self.app
                    .telemetry
                    .webhooks
                    .update(id, |s| s.waiting_since = Some(n.recorded_at));
                let out =
                    notification::outgoing(&self.settings.fhir_base, id, &w.endpoint, &secret, n);
                self.send(id, &out).await;
                cp = Checkpoint {
                    position: n.position.raw(),
                    events: n.event_number,
                };
                self.save(id, cp).await;
                saved = (cp, Instant::now());
                let next = notices.get(i + 1).map(|n| n.recorded_at);
                self.app.telemetry.webhooks.update(id, |s| {
                    s.delivered += 1;
                    s.consecutive_failures = 0;
                    s.waiting_since = next;
                });
            }
            cp.position = cp.position.max(scanned.raw());
            if cp != saved.0 && saved.1.elapsed() >= SAVE_SKIPPED_EVERY {
                self.save(id, cp).await;
                saved = (cp, Instant::now());
            }
        }
    }

    /// Sends `out` until the receiver takes it.
    async fn send(&self, id: Uuid, out: &Outgoing) {
        let mut failures = 0u32;
        loop {
            match self.sender.post(out).await {
                Ok(()) => return,
                Err(f) => {
                    failures += 1;
                    let delay = self.settings.backoff.delay(failures);
                    self.app.telemetry.webhooks.update(id, |s| {
                        s.failed += 1;
                        s.consecutive_failures = failures;
                    });
                    tracing::warn!(
                        subscription = %id,
                        attempt = failures,
                        retry_in_ms = delay.as_millis() as u64,
                        failure = %f,
                        "webhook delivery failed"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}
