//! Prometheus metrics, rendered by hand in the text exposition format (a few
//! counters and one histogram do not justify a metrics stack).
//!
//! * `careledger_graphql_requests_total{operation,outcome}` and
//!   `careledger_graphql_request_duration_seconds{operation}` (histogram). The
//!   operation label is the GraphQL operation name the client sent (or
//!   `anonymous`); at most [`MAX_OPERATIONS`] distinct names are kept, the rest
//!   count as `other`, so a client cannot blow up the label set.
//! * `careledger_graphql_requests_in_flight`, `careledger_events_appended_total`.
//! * `careledger_store_head_position`, `careledger_projection_position{projection}`
//!   and `careledger_projection_lag{projection}` (head minus position: events behind
//!   on the embedded store, whose positions are contiguous).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const MAX_OPERATIONS: usize = 200;
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct OpStats {
    ok: u64,
    error: u64,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    ops: Mutex<BTreeMap<String, OpStats>>,
    in_flight: AtomicU64,
    /// 1 while this process runs (checkpoints) the projection.
    pub leader: AtomicU64,
    /// The position of the last checkpoint this process saved.
    pub checkpoint: AtomicU64,
}

/// Counts a GraphQL request as in flight while it lives.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Escapes a label value (`\`, `"` and newlines).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn request(&self, operation: Option<&str>, ok: bool, took: Duration) {
        let name = match operation {
            Some(n) if !n.is_empty() && n.len() <= 64 => n,
            Some(_) => "other",
            None => "anonymous",
        };
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let key = if ops.contains_key(name) || ops.len() < MAX_OPERATIONS {
            name
        } else {
            "other"
        };
        let s = match ops.get_mut(key) {
            Some(s) => s,
            None => ops.entry(key.to_string()).or_default(),
        };
        if ok {
            s.ok += 1;
        } else {
            s.error += 1;
        }
        let secs = took.as_secs_f64();
        s.sum += secs;
        for (b, le) in s.buckets.iter_mut().zip(BUCKETS) {
            if secs <= le {
                *b += 1;
            }
        }
    }

    /// The text exposition, with the current head, projection position and the
    /// events this process appended.
    pub fn render(&self, head: u64, projected: u64, appended: u64) -> String {
        let mut out = String::new();
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP careledger_graphql_requests_total GraphQL requests by operation and outcome.\n# TYPE careledger_graphql_requests_total counter\n");
        for (name, s) in ops.iter() {
            let n = escape(name);
            let _ = writeln!(
                out,
                "careledger_graphql_requests_total{{operation=\"{n}\",outcome=\"ok\"}} {}",
                s.ok
            );
            let _ = writeln!(
                out,
                "careledger_graphql_requests_total{{operation=\"{n}\",outcome=\"error\"}} {}",
                s.error
            );
        }
        out.push_str("# HELP careledger_graphql_request_duration_seconds GraphQL request latency by operation.\n# TYPE careledger_graphql_request_duration_seconds histogram\n");
        for (name, s) in ops.iter() {
            let n = escape(name);
            for (b, le) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "careledger_graphql_request_duration_seconds_bucket{{operation=\"{n}\",le=\"{le}\"}} {b}"
                );
            }
            let count = s.ok + s.error;
            let _ = writeln!(
                out,
                "careledger_graphql_request_duration_seconds_bucket{{operation=\"{n}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "careledger_graphql_request_duration_seconds_sum{{operation=\"{n}\"}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "careledger_graphql_request_duration_seconds_count{{operation=\"{n}\"}} {count}"
            );
        }
        drop(ops);
        let _ = write!(
            out,
            "# HELP careledger_events_appended_total Events appended by commands.\n# TYPE careledger_events_appended_total counter\ncareledger_events_appended_total {}\n\
             # HELP careledger_graphql_requests_in_flight GraphQL requests being answered.\n# TYPE careledger_graphql_requests_in_flight gauge\ncareledger_graphql_requests_in_flight {}\n\
             # HELP careledger_store_head_position Position of the last committed event.\n# TYPE careledger_store_head_position gauge\ncareledger_store_head_position {head}\n\
             # HELP careledger_projection_position Position each projection has folded up to.\n# TYPE careledger_projection_position gauge\ncareledger_projection_position{{projection=\"casework\"}} {projected}\n\
             # HELP careledger_projection_lag Positions between the head and each projection.\n# TYPE careledger_projection_lag gauge\ncareledger_projection_lag{{projection=\"casework\"}} {}\n\
             # HELP careledger_projection_leader 1 while this process runs the projection (saves its checkpoints).\n# TYPE careledger_projection_leader gauge\ncareledger_projection_leader{{projection=\"casework\"}} {}\n\
             # HELP careledger_projection_checkpoint_position Position of the last checkpoint this process saved.\n# TYPE careledger_projection_checkpoint_position gauge\ncareledger_projection_checkpoint_position{{projection=\"casework\"}} {}\n",
            appended,
            self.in_flight.load(Ordering::Relaxed),
            head.saturating_sub(projected),
            self.leader.load(Ordering::Relaxed),
            self.checkpoint.load(Ordering::Relaxed),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_operation_with_a_cumulative_histogram() {
        let m = Metrics::default();
        m.request(Some("NeedCase"), true, Duration::from_millis(3));
        m.request(Some("NeedCase"), false, Duration::from_millis(30));
        m.request(None, true, Duration::from_micros(100));
        let text = m.render(10, 7, 3);
        for line in [
            "careledger_graphql_requests_total{operation=\"NeedCase\",outcome=\"ok\"} 1",
            "careledger_graphql_requests_total{operation=\"NeedCase\",outcome=\"error\"} 1",
            "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\",le=\"0.005\"} 1",
            "careledger_graphql_request_duration_seconds_bucket{operation=\"NeedCase\",le=\"0.05\"} 2",
            "careledger_graphql_request_duration_seconds_count{operation=\"anonymous\"} 1",
            "careledger_events_appended_total 3",
            "careledger_projection_lag{projection=\"casework\"} 3",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn the_operation_label_set_is_bounded() {
        let m = Metrics::default();
        for i in 0..(MAX_OPERATIONS + 50) {
            m.request(Some(&format!("op{i}")), true, Duration::ZERO);
        }
        m.request(Some("op0"), true, Duration::ZERO);
        let text = m.render(0, 0, 0);
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
