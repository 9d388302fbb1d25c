//! Feeds the read model from the log and keeps its checkpoint.
//!
//! * [`Projector`] holds the model behind a read-write lock and publishes the
//!   position it reached on a watch channel: queries read it; read-your-writes
//!   waits ([`Projector::wait_for`]) and the lag metric watch the position.
//! * [`run`] follows `subscribe_all` from the model's checkpoint for ever. It owns
//!   the subscription in one task and never races `next()` against anything else,
//!   so no event is ever dropped half-read. A read error (a corrupt event, the
//!   store unreachable) is logged and retried with back-off: the subscription stays
//!   at the failing event, so nothing is skipped.
//! * Checkpoints are snapshots of the whole model together with the position it
//!   holds, written by [`save`] through a [`SnapshotStore`] (periodically and at
//!   shutdown). A restart loads the snapshot and follows the log from its position;
//!   after a crash, the events since the last snapshot are folded again, which is
//!   safe because the fold is deterministic and skips what it already holds.

use crate::casework::Casework;
use careledger_domain::store::{EventStore, Position, RecordedEvent, SnapshotStore};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The live read model and the position it reached.
pub struct Projector {
    model: RwLock<Casework>,
    position: watch::Sender<Position>,
}

/// A read-your-writes wait ran out before the projection reached the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotCaughtUp {
    pub wanted: Position,
    pub reached: Position,
}

impl Projector {
    pub fn new(model: Casework) -> Arc<Self> {
        let (position, _) = watch::channel(model.position());
        Arc::new(Self {
            model: RwLock::new(model),
            position,
        })
    }

    /// The model, for reading. Hold the guard briefly: folding waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, Casework> {
        self.model.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Every event up to this position is visible to queries.
    pub fn position(&self) -> Position {
        *self.position.borrow()
    }

    /// Folds one event and publishes the new position.
    pub fn apply(&self, e: &RecordedEvent) {
        {
            let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
            m.apply(e);
        }
        self.position.send_replace(e.position);
    }

    /// Waits until queries see every event up to `wanted`, at most `timeout`.
    ///
    /// # Errors
    /// [`NotCaughtUp`] with the position reached when the time ran out.
    pub async fn wait_for(&self, wanted: Position, timeout: Duration) -> Result<(), NotCaughtUp> {
        let mut rx = self.position.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= wanted)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(NotCaughtUp {
                wanted,
                reached: self.position(),
            }),
        }
    }

    /// A receiver that sees each new position (for readiness and metrics).
    pub fn watch(&self) -> watch::Receiver<Position> {
        self.position.subscribe()
    }
}

/// Loads the checkpoint saved under [`Casework::NAME`], or an empty model when
/// there is none or it cannot be used (then the log is folded from the start).
pub fn load(snapshots: &dyn SnapshotStore) -> Casework {
    match snapshots.load(Casework::NAME) {
        Ok(Some(bytes)) => match Casework::from_snapshot(&bytes) {
            Some(m) => m,
            None => {
                tracing::warn!(
                    projection = Casework::NAME,
                    "checkpoint is of another format or unreadable; rebuilding from the log"
                );
                Casework::default()
            }
        },
        Ok(None) => Casework::default(),
        Err(e) => {
            tracing::warn!(projection = Casework::NAME, error = %e, "cannot read the checkpoint; rebuilding from the log");
            Casework::default()
        }
    }
}

/// Saves a checkpoint of the model as it is now. Returns the position saved.
///
/// # Errors
/// The snapshot store's I/O errors.
pub fn save(projector: &Projector, snapshots: &dyn SnapshotStore) -> std::io::Result<Position> {
    let (bytes, position) = {
        let m = projector.read();
        (m.to_snapshot(), m.position())
    };
    snapshots.save(Casework::NAME, &bytes)?;
    Ok(position)
}

/// Follows the log from the model's checkpoint, for ever (abort the task to stop).
pub async fn run(projector: Arc<Projector>, store: Arc<dyn EventStore>) {
    let mut sub = store.subscribe_all(projector.position());
    let mut backoff = Duration::from_millis(100);
    loop {
        match sub.next().await {
            Ok(e) => {
                projector.apply(&e);
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                tracing::error!(projection = Casework::NAME, error = %e, "projection cannot read the log; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
