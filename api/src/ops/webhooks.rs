//! The webhook outbox's figures in `/metrics`, read from the application at
//! scrape time (`careledger_app::webhooks::stats`), one series per subscription
//! this server delivers to (label `subscription`, its id):
//!
//! * `careledger_webhook_deliveries_total` — notifications the receiver took;
//! * `careledger_webhook_delivery_failures_total` — attempts that failed (each
//!   retry counts);
//! * `careledger_webhook_consecutive_failures` — failures since the last success;
//! * `careledger_webhook_lag_seconds` — how long the oldest change not yet
//!   delivered has waited since it was recorded (0 when nothing waits);
//! * `careledger_webhook_checkpoint_position` — the log position delivered up to.

use careledger_app::App;
use careledger_app::webhooks::stats::SubscriptionStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabel {
    subscription: String,
}

struct Webhooks(Arc<App>);

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Webhooks")
    }
}

/// The collector `startup` registers.
pub fn collector(app: Arc<App>) -> Box<dyn Collector> {
    Box::new(Webhooks(app))
}

type Series = fn(&SubscriptionStats, chrono::DateTime<chrono::Utc>) -> f64;
type Count = fn(&SubscriptionStats) -> u64;

impl Collector for Webhooks {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let subs = self.0.telemetry.webhooks.snapshot();
        let now = self.0.clock.now();
        let counters: [(&str, &str, Count); 2] = [
            (
                "careledger_webhook_deliveries",
                "Webhook notifications the receiver took.",
                |s| s.delivered,
            ),
            (
                "careledger_webhook_delivery_failures",
                "Webhook delivery attempts that failed (each retry counts).",
                |s| s.failed,
            ),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (id, s) in &subs {
                let label = SubscriptionLabel {
                    subscription: id.to_string(),
                };
                ConstCounter::new(value(s)).encode(family.encode_family(&label)?)?;
            }
        }
        let gauges: [(&str, &str, Series); 3] = [
            (
                "careledger_webhook_consecutive_failures",
                "Webhook delivery failures since the last success.",
                |s, _| f64::from(s.consecutive_failures),
            ),
            (
                "careledger_webhook_lag_seconds",
                "Age of the oldest change not yet delivered (0 when none waits).",
                |s, now| s.lag_seconds(now),
            ),
            (
                "careledger_webhook_checkpoint_position",
                "Log position each webhook subscription delivered up to.",
                |s, _| s.checkpoint as f64,
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (id, s) in &subs {
                let label = SubscriptionLabel {
                    subscription: id.to_string(),
                };
                ConstGauge::new(value(s, now)).encode(family.encode_family(&label)?)?;
            }
        }
        Ok(())
    }
}
