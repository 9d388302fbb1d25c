//! The shared contract. Each test body is a generic async fn over a [`Harness`];
//! `contract_tests!(Harness)` turns them into `#[tokio::test]`s for one adapter.

use careledger_domain::ids::{EventId, NeedCaseId};
use careledger_domain::need_case::{CloseReason, NeedCaseEvent, NeedClosed};
use careledger_domain::store::{
    Actor, EventMetadata, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, Role,
    StoreError, StreamName,
};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

mod appends;
mod audit;
mod concurrency;
mod durability;
mod reads;

pub use appends::*;
pub use audit::*;
pub use concurrency::*;
pub use durability::*;
pub use reads::*;

/// What an adapter provides to run the contract.
pub trait Harness: Sized + Send + 'static {
    /// A fresh, empty store of its own.
    fn fresh() -> impl std::future::Future<Output = Self> + Send;
    fn store(&self) -> Arc<dyn EventStore>;
    /// Closes the store and opens it again at the same place.
    fn reopen(&mut self) -> impl std::future::Future<Output = ()> + Send;
    /// Closes the store so another process can own it.
    fn release(&mut self) -> impl std::future::Future<Output = ()> + Send;
    /// How `careledger-crash-writer` names this store.
    fn spec(&self) -> String;
    /// True when this adapter's tests cannot run here (and say why); never in CI.
    fn skip() -> bool {
        false
    }
}

pub fn stream() -> StreamName {
    StreamName::need_case(NeedCaseId::from_uuid(Uuid::now_v7()))
}

/// Times are stored to the microsecond.
fn now_micros() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

pub fn event(reason: CloseReason) -> NewEvent {
    NewEvent {
        id: EventId::from_uuid(Uuid::now_v7()),
        event: NeedCaseEvent::NeedClosed(NeedClosed { reason }).into(),
        metadata: EventMetadata {
            occurred_at: now_micros(),
            actor: Actor {
                subject: "nurse-17".into(),
                role: Role::Coordinator,
            },
            site: Some(SiteId::parse("be-leuven").unwrap()),
            correlation_id: Uuid::now_v7(),
            causation_id: Some(Uuid::now_v7()),
        },
    }
}

pub fn events(n: usize) -> Vec<NewEvent> {
    (0..n).map(|_| event(CloseReason::Moved)).collect()
}

async fn all(store: &dyn EventStore) -> Vec<RecordedEvent> {
    store.read_all(Position::START, usize::MAX).await.unwrap()
}

async fn next_within(
    sub: &mut Box<dyn careledger_domain::store::Subscription>,
    secs: u64,
) -> RecordedEvent {
    tokio::time::timeout(Duration::from_secs(secs), sub.next())
        .await
        .expect("subscription stalled")
        .expect("subscription failed")
}

macro_rules! contract_tests {
    ($harness:ty) => {
        contract_tests!(@each $harness;
            an_append_is_read_back_whole_with_versions_from_zero,
            expected_versions_are_enforced_and_a_conflict_writes_nothing,
            a_retried_append_returns_the_original_positions_and_writes_nothing,
            an_event_id_stored_elsewhere_or_in_part_is_a_mismatch,
            malformed_appends_are_refused_and_write_nothing,
            the_head_covers_every_acknowledged_append,
            streams_read_from_a_version_with_a_limit,
            large_pages_read_exactly_the_log,
            a_subscription_catching_up_over_many_pages_is_exactly_the_log,
            the_global_log_pages_in_position_order_across_streams,
            a_conflict_fails_alone_among_concurrent_appends,
            concurrent_writers_on_one_stream_never_fork_it,
            a_subscriber_sees_every_event_once_in_order_under_concurrent_writers,
            a_subscription_follows_appends_made_after_it_caught_up,
            a_reopened_store_keeps_everything_and_continues,
            appends_acknowledged_before_a_kill_9_survive,
            the_audit_trail_selects_by_stream_actor_site_and_period,
        );
    };
    (@each $harness:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if <$harness as crate::contract::Harness>::skip() {
                    return;
                }
                crate::contract::$name::<$harness>().await
            }
        )*
    };
}
