//! The read-model checkpoint, saved while the server runs and at shutdown.

use super::store::Store;
use crate::ops::metrics::Metrics;
use careledger_domain::store::{Position, SnapshotStore};
use careledger_projections::Casework;
use careledger_projections::runner::{self, Projector};
use std::sync::Arc;
use std::time::Duration;

/// How often a follower asks to lead the projection.
const LEAD_RETRY: Duration = Duration::from_secs(1);

/// Saves the read-model checkpoint every `every` while the projection moves. With
/// the embedded store this process is the only one. With PostgreSQL, only the
/// server holding the projection's advisory lock saves (the others keep their
/// in-memory copy current from the log and ask to lead every second); when the
/// leader dies its session ends, the lock is released, and another takes over and
/// saves at once. `leading_now` follows whether this server leads (the webhook
/// outbox runs only while it does).
pub async fn checkpoint_loop(
    mut stop: tokio::sync::oneshot::Receiver<()>,
    store: Store,
    projector: Arc<Projector>,
    snapshots: Arc<dyn SnapshotStore>,
    metrics: Arc<Metrics>,
    every: Duration,
    leading_now: tokio::sync::watch::Sender<bool>,
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
        metrics.set_leader(leading);
        // The webhook outbox delivers from the leading server only.
        leading_now.send_if_modified(|l| std::mem::replace(l, leading) != leading);
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
    metrics: &Metrics,
) -> Option<Position> {
    let (p, s) = (projector.clone(), snapshots.clone());
    match tokio::task::spawn_blocking(move || runner::save(&p, s.as_ref())).await {
        Ok(Ok(pos)) => {
            metrics.set_checkpoint(pos.raw());
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
