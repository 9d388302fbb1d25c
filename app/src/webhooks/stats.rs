//! What the webhook outbox counts, per subscription, for the metrics edge
//! (read at scrape time; the application knows no exposition format).

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// One subscription's delivery figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionStats {
    /// Notifications the receiver took.
    pub delivered: u64,
    /// Attempts that failed (each retry counts).
    pub failed: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// When the oldest change not yet delivered was recorded; `None` when
    /// nothing waits.
    pub waiting_since: Option<DateTime<Utc>>,
    /// The log position delivered up to (the checkpoint).
    pub checkpoint: u64,
}

impl SubscriptionStats {
    /// How long the oldest waiting change has waited at `now` (zero when none).
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> f64 {
        self.waiting_since
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
    }
}

/// Figures of the subscriptions this process delivers to.
#[derive(Debug, Default)]
pub struct WebhookStats {
    subs: Mutex<BTreeMap<Uuid, SubscriptionStats>>,
}

impl WebhookStats {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Uuid, SubscriptionStats>> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update(&self, id: Uuid, f: impl FnOnce(&mut SubscriptionStats)) {
        f(self.lock().entry(id).or_default());
    }

    pub(crate) fn forget(&self, id: Uuid) {
        self.lock().remove(&id);
    }

    /// Every subscription's figures, by id.
    pub fn snapshot(&self) -> Vec<(Uuid, SubscriptionStats)> {
        self.lock().iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}
