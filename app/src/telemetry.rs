//! What the application counts for operations. The metrics edge (`api`'s `ops`)
//! reads these at scrape time; the application knows no exposition format.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Telemetry {
    events_appended: AtomicU64,
    /// The webhook outbox's deliveries, failures and lag, per subscription.
    pub webhooks: crate::webhooks::stats::WebhookStats,
}

impl Telemetry {
    /// `n` events were appended by this process's command path.
    pub fn appended(&self, n: usize) {
        self.events_appended.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Events appended by this process since it started.
    pub fn events_appended(&self) -> u64 {
        self.events_appended.load(Ordering::Relaxed)
    }
}
