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
use crate::changes::{ChangeFeed, RING_CAPACITY, change_of};
use careledger_domain::store::{EventStore, Position, RecordedEvent, SnapshotStore};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The live read model and the position it reached.
pub struct Projector {
    model: RwLock<Casework>,
    position: watch::Sender<Position>,
    /// What each folded event changed, for live subscriptions.
    feed: Arc<ChangeFeed>,
    /// How many need cases the model held when it was made (see
    /// [`Self::compact_if_grown`]).
    need_cases_at_start: usize,
}

/// A read-your-writes wait ran out before the projection reached the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotCaughtUp {
    pub wanted: Position,
    pub reached: Position,
}

impl Projector {
    pub fn new(model: Casework) -> Arc<Self> {
        Self::with_ring(model, RING_CAPACITY)
    }

    /// As [`Self::new`], keeping `ring` recent changes for live followers.
    pub fn with_ring(model: Casework, ring: usize) -> Arc<Self> {
        let (position, _) = watch::channel(model.position());
        let feed = Arc::new(ChangeFeed::new(model.position(), ring));
        Arc::new(Self {
            need_cases_at_start: model.need_case_count(),
            model: RwLock::new(model),
            position,
            feed,
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

    /// Folds one event and publishes the new position: the change it made is
    /// recorded in the feed first and its followers woken after, so a follower
    /// that sees the position finds the change.
    pub fn apply(&self, e: &RecordedEvent) {
        let change = {
            let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
            if e.position <= m.position() {
                return;
            }
            m.apply(e);
            self.feed.record(e.position, || change_of(&m, e))
        };
        self.position.send_replace(e.position);
        if let Some(c) = change {
            self.feed.notify(&c);
        }
    }

    /// Rebuilds the model's ordered indexes with full nodes
    /// ([`Casework::compact_indexes`]) if an eighth or more of its need cases
    /// were folded in since it was made: once a start has caught up with the
    /// log. A checkpoint's index is read whole (already full), so a start from
    /// one skips it; a cold start gains ~25 MB at a million need cases.
    /// Whether it rebuilt them.
    pub fn compact_if_grown(&self) -> bool {
        let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
        let grown = m.need_case_count().saturating_sub(self.need_cases_at_start);
        if grown == 0 || grown < m.need_case_count() / 8 {
            return false;
        }
        let started = std::time::Instant::now();
        m.compact_indexes();
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            need_cases_folded = grown,
            "read-model indexes compacted"
        );
        true
    }

    /// The change feed live subscriptions follow.
    pub fn feed(&self) -> &Arc<ChangeFeed> {
        &self.feed
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
    let started = std::time::Instant::now();
    match snapshots.open(Casework::NAME) {
        Ok(Some(src)) => match Casework::from_source(&*src) {
            Some(m) => {
                tracing::info!(
                    projection = Casework::NAME,
                    bytes = src.size(),
                    ms = started.elapsed().as_millis() as u64,
                    position = m.position().raw(),
                    "checkpoint loaded"
                );
                m
            }
            None => {
                tracing::warn!(
                    projection = Casework::NAME,
                    "checkpoint is of another format, damaged or unreadable; rebuilding from the log"
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
    // Streamed: the model is never held a second time as one block of bytes.
    let mut position = Position::START;
    snapshots.save_streamed(Casework::NAME, &mut |w| {
        let m = projector.read();
        position = m.position();
        m.write_snapshot(w)
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use careledger_domain::store::{
        Appended, BoxFuture, ExpectedVersion, NewEvent, StoreError, StreamName, Subscription,
    };
    use std::sync::Mutex;

    /// A store that only records where subscriptions start.
    #[derive(Default)]
    struct Recording {
        starts: Mutex<Vec<Position>>,
    }

    struct Never;
    impl Subscription for Never {
        fn next(&mut self) -> BoxFuture<'_, Result<RecordedEvent, StoreError>> {
            Box::pin(std::future::pending())
        }
    }

    /// What the methods this test does not call answer.
    fn unused<T: Send + 'static>() -> BoxFuture<'static, Result<T, StoreError>> {
        Box::pin(async {
            Err(StoreError::Unavailable {
                detail: "not used by this test".into(),
            })
        })
    }

    impl EventStore for Recording {
        fn append(
            &self,
            _: StreamName,
            _: ExpectedVersion,
            _: Vec<NewEvent>,
        ) -> BoxFuture<'_, Result<Appended, StoreError>> {
            unused()
        }
        fn read_stream(
            &self,
            _: StreamName,
            _: u64,
            _: usize,
        ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
            unused()
        }
        fn read_all(
            &self,
            _: Position,
            _: usize,
        ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
            unused()
        }
        fn subscribe_all(&self, after: Position) -> Box<dyn Subscription> {
            self.starts.lock().unwrap().push(after);
            Box::new(Never)
        }
        fn head(&self) -> BoxFuture<'_, Result<Position, StoreError>> {
            unused()
        }
    }

    #[derive(Default)]
    struct MemSnapshots(Mutex<Option<Vec<u8>>>);
    impl SnapshotStore for MemSnapshots {
        fn load(&self, _: &str) -> std::io::Result<Option<Vec<u8>>> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn save(&self, _: &str, bytes: &[u8]) -> std::io::Result<()> {
            *self.0.lock().unwrap() = Some(bytes.to_vec());
            Ok(())
        }
        fn remove(&self, _: &str) -> std::io::Result<()> {
            *self.0.lock().unwrap() = None;
            Ok(())
        }
    }

    /// A restart resumes from the checkpoint's position instead of the start of
    /// the log; an unreadable checkpoint falls back to a full rebuild.
    #[tokio::test]
    async fn the_runner_resumes_from_the_saved_checkpoint() {
        let snapshots = MemSnapshots::default();
        // Pretend 41 events were folded (only the position matters here).
        let model = Casework::default().at_position(41);
        let projector = Projector::new(model);
        assert_eq!(save(&projector, &snapshots).unwrap(), Position::new(41));

        let restarted = Projector::new(load(&snapshots));
        assert_eq!(restarted.position(), Position::new(41));
        let store = Arc::new(Recording::default());
        let task = tokio::spawn(run(restarted, store.clone()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        task.abort();
        assert_eq!(*store.starts.lock().unwrap(), vec![Position::new(41)]);

        snapshots.save(Casework::NAME, b"garbage").unwrap();
        assert_eq!(load(&snapshots).position(), Position::START);
    }

    #[tokio::test]
    async fn a_read_your_writes_wait_ends_when_the_position_is_reached_or_times_out() {
        let p = Projector::new(Casework::default());
        let e = p
            .wait_for(Position::new(1), Duration::from_millis(30))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            NotCaughtUp {
                wanted: Position::new(1),
                reached: Position::START
            }
        );
        assert!(p.wait_for(Position::START, Duration::ZERO).await.is_ok());
    }
}
