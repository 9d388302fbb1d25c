//! The bounded pool the CPU-bound aggregate work of all requests runs on: at
//! most `permits` tables are computed at once, each on tokio's blocking pool, so
//! the async workers stay free for other clients' requests. A request waits for a
//! permit only until its deadline; work that has not started by then never
//! starts (`REQUEST_TIMEOUT`).

use crate::AppError;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// The code of a request whose deadline passed before its table was computed.
pub const TIMED_OUT: &str = "REQUEST_TIMEOUT";

/// Bounds the aggregate work of all requests together (see the module doc).
pub struct AggregatePool {
    permits: Arc<Semaphore>,
    /// One table at a time per credential, so that one caller's many tables queue
    /// behind each other rather than in front of everyone else's (the global
    /// semaphore is first come, first served). Held until the table is done, even
    /// when its request has timed out.
    per_credential: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl AggregatePool {
    /// One permit per core but one (at least one): a core stays free for the rest.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_permits(cores.saturating_sub(1).max(1))
    }

    pub fn with_permits(n: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(n.max(1))),
            per_credential: Default::default(),
        }
    }

    /// The credential's own semaphore (one permit).
    fn own(&self, credential: &str) -> Arc<Semaphore> {
        let mut map = self
            .per_credential
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(credential.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }
}

impl Default for AggregatePool {
    fn default() -> Self {
        Self::new()
    }
}

fn too_late() -> AppError {
    AppError::rejected(
        None,
        TIMED_OUT,
        "the request's time limit ran out before this table could be computed",
    )
}

/// A permit, if it comes before the deadline.
async fn until(
    deadline: Option<Instant>,
    acquire: impl Future<Output = Result<OwnedSemaphorePermit, AcquireError>>,
) -> Result<OwnedSemaphorePermit, AppError> {
    let permit = match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), acquire)
            .await
            .map_err(|_| too_late())?,
        None => acquire.await,
    };
    // The pool's semaphores are never closed; should one be, the server is stopping.
    permit.map_err(|_| AppError::unavailable_msg("the server is stopping"))
}

/// Runs `work` (an equity computation) on tokio's blocking pool, bounded by
/// `pool` (unbounded without one) and one at a time per `credential`, if
/// `deadline` has not passed by the time it may start.
pub async fn compute<T: Send + 'static>(
    pool: Option<&AggregatePool>,
    credential: &str,
    deadline: Option<Instant>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let permits = match pool {
        None => None,
        Some(pool) => {
            let own = until(deadline, pool.own(credential).acquire_owned()).await?;
            let global = until(deadline, pool.permits.clone().acquire_owned()).await?;
            Some((own, global))
        }
    };
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(too_late());
    }
    tokio::task::spawn_blocking(move || {
        let _permits = permits;
        work()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "an equity computation failed");
        AppError::internal(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn work_runs_before_its_deadline() {
        let pool = AggregatePool::with_permits(1);
        let deadline = Instant::now() + Duration::from_secs(10);
        let v = compute(Some(&pool), "qm:a", Some(deadline), || 42).await;
        assert_eq!(v.unwrap(), 42);
        assert_eq!(compute(None, "qm:a", None, || 7).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn work_past_its_deadline_never_starts() {
        let pool = AggregatePool::with_permits(1);
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = started.clone();
        let past = Instant::now() - Duration::from_millis(1);
        let e = compute(Some(&pool), "qm:a", Some(past), move || {
            s.store(true, std::sync::atomic::Ordering::SeqCst)
        })
        .await
        .unwrap_err();
        assert_eq!(e.code(), Some(TIMED_OUT));
        assert_eq!(
            e.to_string(),
            "the request's time limit ran out before this table could be computed"
        );
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_credential_waiting_behind_its_own_table_times_out() {
        let pool = Arc::new(AggregatePool::with_permits(4));
        // The credential's one permit is held by a table still running.
        let own = pool.own("qm:a").acquire_owned().await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(50);
        let e = compute(Some(&pool), "qm:a", Some(deadline), || ())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(TIMED_OUT));
        // Another credential is not held up.
        let deadline = Instant::now() + Duration::from_secs(10);
        compute(Some(&pool), "qm:b", Some(deadline), || ())
            .await
            .unwrap();
        drop(own);
    }
}
