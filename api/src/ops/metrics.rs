//! Prometheus metrics with the `prometheus-client` crate: one [`Registry`] per
//! server instance (built in `startup`, held here; no global registry, so two
//! servers in one process — the tests — never share counts), scraped at
//! `/metrics` in the Prometheus text format 0.0.4 (the format this endpoint has
//! always served; the crate's OpenMetrics encoder would rename the `# HELP` lines
//! and add `# EOF`).
//!
//! * `careledger_graphql_requests_total{operation,outcome}` and
//!   `careledger_graphql_request_duration_seconds{operation}` (histogram). The
//!   operation label is the GraphQL operation name the client sent (or
//!   `anonymous`); at most [`MAX_OPERATIONS`] distinct names are kept, the rest
//!   count as `other`, so a client cannot blow up the label set.
//! * `careledger_graphql_requests_in_flight`, `careledger_events_appended_total`
//!   (read from the application at scrape time).
//! * `careledger_store_head_position`, `careledger_projection_position{projection}`
//!   and `careledger_projection_lag{projection}` (head minus position: events behind
//!   on the embedded store, whose positions are contiguous), set at scrape time.
//! * `careledger_projection_leader{projection}` and
//!   `careledger_projection_checkpoint_position{projection}`, set by the
//!   checkpoint loop.

use careledger_projections::Casework;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of what [`Metrics::render`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

pub const MAX_OPERATIONS: usize = 200;
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

/// A position (or a 0/1 flag): never negative, and as wide as the log.
type Position = Gauge<u64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    /// The operation names given a label of their own (bounded).
    operations: Mutex<HashSet<String>>,
    in_flight: Gauge,
    head: Position,
    projected: Position,
    lag: Position,
    leader: Position,
    checkpoint: Position,
}

/// `careledger_events_appended_total`, read from the application when scraped
/// (the count lives in `careledger_app::telemetry`, which knows no Prometheus).
struct AppendedEvents(Box<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for AppendedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppendedEvents")
    }
}

impl Collector for AppendedEvents {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counter = ConstCounter::new((self.0)());
        let metric = encoder.encode_descriptor(
            "careledger_events_appended",
            "Events appended by commands.",
            None,
            counter.metric_type(),
        )?;
        counter.encode(metric)
    }
}

/// Counts a GraphQL request as in flight while it lives.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    /// A registry with every metric registered; `appended` reads the events this
    /// process appended (called at each scrape).
    pub fn new(appended: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::new_with_constructor(histogram as fn() -> Histogram);
        let in_flight = Gauge::default();
        let head = Position::default();
        // The encoder adds a counter's `_total` and the help text's full stop.
        registry.register(
            "careledger_graphql_requests",
            "GraphQL requests by operation and outcome",
            requests.clone(),
        );
        registry.register(
            "careledger_graphql_request_duration_seconds",
            "GraphQL request latency by operation",
            durations.clone(),
        );
        registry.register_collector(Box::new(AppendedEvents(Box::new(appended))));
        registry.register(
            "careledger_graphql_requests_in_flight",
            "GraphQL requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "careledger_store_head_position",
            "Position of the last committed event",
            head.clone(),
        );
        let projection =
            registry.sub_registry_with_label(("projection".into(), Casework::NAME.into()));
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Position::default();
            registry.register(name, help, g.clone());
            g
        };
        let projected = gauge(
            projection,
            "careledger_projection_position",
            "Position each projection has folded up to",
        );
        let lag = gauge(
            projection,
            "careledger_projection_lag",
            "Positions between the head and each projection",
        );
        let leader = gauge(
            projection,
            "careledger_projection_leader",
            "1 while this process runs the projection (saves its checkpoints)",
        );
        let checkpoint = gauge(
            projection,
            "careledger_projection_checkpoint_position",
            "Position of the last checkpoint this process saved",
        );
        Self {
            registry,
            requests,
            durations,
            operations: Mutex::default(),
            in_flight,
            head,
            projected,
            lag,
            leader,
            checkpoint,
        }
    }

    /// Adds a collector read at each scrape (e.g. the webhook outbox's figures).
    pub fn register_collector(&mut self, collector: Box<dyn Collector>) {
        self.registry.register_collector(collector);
    }

    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(self)
    }

    pub fn request(&self, operation: Option<&str>, ok: bool, took: Duration) {
        let name = match operation {
            Some(n) if !n.is_empty() && n.len() <= 64 => n,
            Some(_) => "other",
            None => "anonymous",
        };
        let (key, first) = {
            let mut known = self.operations.lock().unwrap_or_else(|e| e.into_inner());
            let key = if known.contains(name) || known.len() < MAX_OPERATIONS {
                name
            } else {
                "other"
            };
            (key, !known.contains(key) && known.insert(key.to_string()))
        };
        let operation = key.to_string();
        if first {
            // Both outcomes are shown from an operation's first request on.
            for outcome in ["ok", "error"] {
                let labels = RequestLabels {
                    operation: operation.clone(),
                    outcome,
                };
                drop(self.requests.get_or_create(&labels));
            }
        }
        let labels = RequestLabels {
            operation,
            outcome: if ok { "ok" } else { "error" },
        };
        self.requests.get_or_create(&labels).inc();
        let labels = OperationLabels {
            operation: labels.operation,
        };
        self.durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Whether this process runs (checkpoints) the projection.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(u64::from(leading));
    }

    /// The position of the last checkpoint this process saved.
    pub fn set_checkpoint(&self, position: u64) {
        self.checkpoint.set(position);
    }

    /// The text exposition, with the current head and projection position.
    pub fn render(&self, head: u64, projected: u64) -> String {
        self.head.set(head);
        self.projected.set(projected);
        self.lag.set(head.saturating_sub(projected));
        let mut out = String::new();
        // Writing to a `String` cannot fail, nor can our label sets.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_operation_with_a_cumulative_histogram() {
        let m = Metrics::new(|| 3);
        m.request(Some("NeedCase"), true, Duration::from_millis(3));
        m.request(Some("NeedCase"), false, Duration::from_millis(30));
        m.request(None, true, Duration::from_micros(100));
        m.set_leader(true);
        m.set_checkpoint(6);
        let _running = m.start_request();
        let text = m.render(10, 7);
        for line in [
            "# HELP careledger_graphql_requests_total GraphQL requests by operation and outcome.",
            "# TYPE careledger_graphql_requests_total counter",
            "careledger_graphql_requests_total{operation=\"NeedCase\",outcome=\"ok\"} 1",
            "careledger_graphql_requests_total{operation=\"NeedCase\",outcome=\"error\"} 1",
            "careledger_graphql_requests_total{operation=\"anonymous\",outcome=\"error\"} 0",
            "# TYPE careledger_graphql_request_duration_seconds histogram",
            "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\",le=\"0.005\"} 1",
            "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\",le=\"0.05\"} 2",
            "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\",le=\"+Inf\"} 2",
            "careledger_graphql_request_duration_seconds_count{operation=\"anonymous\"} 1",
            "# TYPE careledger_events_appended_total counter",
            "careledger_events_appended_total 3",
            "careledger_graphql_requests_in_flight 1",
            "careledger_store_head_position 10",
            "careledger_projection_position{projection=\"casework\"} 7",
            "careledger_projection_lag{projection=\"casework\"} 3",
            "careledger_projection_leader{projection=\"casework\"} 1",
            "careledger_projection_checkpoint_position{projection=\"casework\"} 6",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        let buckets = text
            .lines()
            .filter(|l| {
                l.starts_with(
                    "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\"",
                )
            })
            .count();
        assert_eq!(buckets, BUCKETS.len() + 1, "the buckets and +Inf");
    }

    #[test]
    fn the_in_flight_gauge_falls_when_a_request_ends() {
        let m = Metrics::new(|| 0);
        drop(m.start_request());
        assert!(
            m.render(0, 0)
                .lines()
                .any(|l| l == "careledger_graphql_requests_in_flight 0")
        );
    }

    #[test]
    fn each_server_has_its_own_registry() {
        let (a, b) = (Metrics::new(|| 0), Metrics::new(|| 0));
        a.request(Some("Only"), true, Duration::ZERO);
        assert!(a.render(0, 0).contains("operation=\"Only\""));
        assert!(!b.render(0, 0).contains("operation=\"Only\""));
    }

    #[test]
    fn the_operation_label_set_is_bounded() {
        let m = Metrics::new(|| 0);
        for i in 0..(MAX_OPERATIONS + 50) {
            m.request(Some(&format!("op{i}")), true, Duration::ZERO);
        }
        m.request(Some("op0"), true, Duration::ZERO);
        let text = m.render(0, 0);
        let ok_lines = text
            .lines()
            .filter(|l| {
                l.starts_with("careledger_graphql_requests_total") && l.contains("outcome=\"ok\"")
            })
            .count();
        assert_eq!(
            ok_lines,
            MAX_OPERATIONS + 1,
            "{MAX_OPERATIONS} names plus 'other'"
        );
        assert!(
            text.contains(
                "careledger_graphql_requests_total{operation=\"other\",outcome=\"ok\"} 50"
            )
        );
        assert!(
            text.contains("careledger_graphql_requests_total{operation=\"op0\",outcome=\"ok\"} 2")
        );
    }
}
