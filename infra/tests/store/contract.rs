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

// --- appends and versions ---------------------------------------------------

pub async fn an_append_is_read_back_whole_with_versions_from_zero<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let written = events(3);
    let before = now_micros();
    let a = store
        .append(s.clone(), ExpectedVersion::NoStream, written.clone())
        .await
        .unwrap();
    assert_eq!(
        (a.first_version, a.last_version(), a.duplicate),
        (0, 2, false)
    );
    assert!(
        a.positions.windows(2).all(|w| w[0] < w[1]),
        "positions grow: {:?}",
        a.positions
    );
    let read = store.read_stream(s.clone(), 0, 100).await.unwrap();
    assert_eq!(read.len(), 3);
    for (i, (r, w)) in read.iter().zip(&written).enumerate() {
        assert_eq!(
            (r.id, &r.stream, r.version, r.position),
            (w.id, &s, i as u64, a.positions[i])
        );
        assert_eq!(r.event, w.event);
        assert_eq!(r.metadata, w.metadata);
        assert!(r.recorded_at >= before - chrono::Duration::seconds(1));
    }
    assert_eq!(store.head().await.unwrap(), a.last_position());
}

pub async fn expected_versions_are_enforced_and_a_conflict_writes_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    let conflict = |expected, actual| StoreError::WrongExpectedVersion {
        stream: s.to_string(),
        expected,
        actual,
    };
    for (expected, actual) in [
        (ExpectedVersion::NoStream, Some(2)),
        (ExpectedVersion::Exact(1), Some(2)),
        (ExpectedVersion::Exact(3), Some(2)),
    ] {
        let err = store
            .append(s.clone(), expected, events(1))
            .await
            .unwrap_err();
        assert_eq!(err, conflict(expected, actual));
    }
    let missing = stream();
    let err = store
        .append(missing.clone(), ExpectedVersion::Exact(0), events(1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::WrongExpectedVersion {
            stream: missing.to_string(),
            expected: ExpectedVersion::Exact(0),
            actual: None
        }
    );
    assert_eq!(store.head().await.unwrap(), head, "conflicts wrote nothing");
    assert_eq!(all(&*store).await.len(), 3);
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Exact(2), events(1))
            .await
            .unwrap()
            .first_version,
        3
    );
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Any, events(2))
            .await
            .unwrap()
            .first_version,
        4
    );
    assert_eq!(
        store
            .append(stream(), ExpectedVersion::Any, events(1))
            .await
            .unwrap()
            .first_version,
        0
    );
}

pub async fn a_retried_append_returns_the_original_positions_and_writes_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let batch = events(2);
    let first = store
        .append(s.clone(), ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append(s.clone(), ExpectedVersion::Exact(1), events(2))
        .await
        .unwrap();
    store
        .append(stream(), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let head = store.head().await.unwrap();
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(3),
    ] {
        let retry = store
            .append(s.clone(), expected, batch.clone())
            .await
            .unwrap();
        assert!(retry.duplicate, "expected {expected}");
        assert_eq!(
            (retry.first_version, &retry.positions),
            (first.first_version, &first.positions)
        );
    }
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(all(&*store).await.len(), 5);
}

pub async fn an_event_id_stored_elsewhere_or_in_part_is_a_mismatch<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let batch = events(2);
    store
        .append(s.clone(), ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    let partly = vec![batch[1].clone(), event(CloseReason::Deceased)];
    let err = store
        .append(s.clone(), ExpectedVersion::Any, partly)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::IdempotencyMismatch { event_id, stored_in, .. }
            if *event_id == batch[1].id && stored_in == s.as_str()),
        "{err:?}"
    );
    let elsewhere = stream();
    let err = store
        .append(
            elsewhere.clone(),
            ExpectedVersion::NoStream,
            vec![batch[0].clone()],
        )
        .await
        .unwrap_err();
    // The stream holding the id is named, so the command path can check the
    // caller may know of it before answering about the key.
    assert!(
        matches!(&err, StoreError::IdempotencyMismatch { stored_in, .. } if stored_in == s.as_str()),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("stored in stream {s}")),
        "{err}"
    );
    assert_eq!(all(&*store).await.len(), 2, "nothing written");
    assert!(
        store
            .read_stream(elsewhere, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn malformed_appends_are_refused_and_write_nothing<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    assert_eq!(
        store
            .append(s.clone(), ExpectedVersion::Any, vec![])
            .await
            .unwrap_err(),
        StoreError::EmptyAppend {
            stream: s.to_string()
        }
    );
    let e = event(CloseReason::Moved);
    let err = store
        .append(s.clone(), ExpectedVersion::Any, vec![e.clone(), e.clone()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::DuplicateIdInAppend {
            stream: s.to_string(),
            event_id: e.id
        }
    );
    assert!(all(&*store).await.is_empty());
    assert_eq!(store.head().await.unwrap(), Position::START);
}

/// Read-your-writes on the head: once an append has returned, `head()` is at least
/// its last position, for every one of many concurrent writers.
pub async fn the_head_covers_every_acknowledged_append<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let a = store
                    .append(stream(), ExpectedVersion::NoStream, events(1))
                    .await
                    .unwrap();
                let head = store.head().await.unwrap();
                assert!(
                    head >= a.last_position(),
                    "head {head} behind acknowledged {}",
                    a.last_position()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

// --- reads ---------------------------------------------------------------------

pub async fn streams_read_from_a_version_with_a_limit<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(5))
        .await
        .unwrap();
    let versions = |v: Vec<RecordedEvent>| v.iter().map(|e| e.version).collect::<Vec<_>>();
    assert_eq!(
        versions(store.read_stream(s.clone(), 2, 100).await.unwrap()),
        vec![2, 3, 4]
    );
    assert_eq!(
        versions(store.read_stream(s.clone(), 1, 2).await.unwrap()),
        vec![1, 2]
    );
    assert!(
        store
            .read_stream(s.clone(), 5, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_stream(stream(), 0, 100)
            .await
            .unwrap()
            .is_empty(),
        "an unknown stream reads as empty"
    );
}

pub async fn the_global_log_pages_in_position_order_across_streams<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let (a, b) = (stream(), stream());
    let mut expected_ids = Vec::new();
    for round in 0..4u64 {
        for s in [&a, &b] {
            let batch = events(2);
            expected_ids.extend(batch.iter().map(|e| e.id));
            let expected = if round == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(round * 2 - 1)
            };
            store.append(s.clone(), expected, batch).await.unwrap();
        }
    }
    let mut paged = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().unwrap().position;
        paged.extend(page);
    }
    assert_eq!(paged.iter().map(|e| e.id).collect::<Vec<_>>(), expected_ids);
    assert!(paged.windows(2).all(|w| w[0].position < w[1].position));
    for s in [&a, &b] {
        let versions: Vec<u64> = paged
            .iter()
            .filter(|e| &e.stream == s)
            .map(|e| e.version)
            .collect();
        assert_eq!(versions, (0..8).collect::<Vec<_>>());
    }
}

/// Large pages (read by adapters in parallel halves) return exactly what small pages do.
pub async fn large_pages_read_exactly_the_log<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    for _ in 0..12 {
        store
            .append(stream(), ExpectedVersion::NoStream, events(1_000))
            .await
            .unwrap();
    }
    let mut small = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 700).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        small.extend(page);
    }
    assert_eq!(small.len(), 12_000);
    for (from, limit) in [(0, 10_000), (5_000, 6_001), (11_000, 9_000)] {
        let after = if from == 0 {
            Position::START
        } else {
            small[from - 1].position
        };
        let big = store.read_all(after, limit).await.unwrap();
        let want = &small[from..(from + limit).min(small.len())];
        assert_eq!(big.len(), want.len(), "from {from} limit {limit}");
        assert!(
            big.iter().zip(want).all(|(a, b)| a == b),
            "from {from} limit {limit}"
        );
    }
}

/// A subscription catching up over many pages (adapters may read ahead) delivers
/// exactly the log, then follows new appends.
pub async fn a_subscription_catching_up_over_many_pages_is_exactly_the_log<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    for _ in 0..40 {
        store
            .append(stream(), ExpectedVersion::NoStream, events(1_000))
            .await
            .unwrap();
    }
    let log = all(&*store).await;
    let mut sub = store.subscribe_all(Position::START);
    for want in &log {
        let got = next_within(&mut sub, 10).await;
        assert_eq!(&got, want);
    }
    let late = events(1);
    store
        .append(stream(), ExpectedVersion::NoStream, late.clone())
        .await
        .unwrap();
    assert_eq!(next_within(&mut sub, 10).await.id, late[0].id);
}

// --- concurrency ------------------------------------------------------------------

pub async fn a_conflict_fails_alone_among_concurrent_appends<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let contested = stream();
    store
        .append(contested.clone(), ExpectedVersion::NoStream, events(1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let contested = contested.clone();
        tasks.push(tokio::spawn(async move {
            if i % 6 == 0 {
                // Stale: the stream is at 0.
                (
                    false,
                    store
                        .append(contested, ExpectedVersion::Exact(5), events(1))
                        .await,
                )
            } else {
                (
                    true,
                    store
                        .append(stream(), ExpectedVersion::NoStream, events(2))
                        .await,
                )
            }
        }));
    }
    for t in tasks {
        let (good, result) = t.await.unwrap();
        assert_eq!(good, result.is_ok(), "{result:?}");
    }
    assert_eq!(all(&*store).await.len(), 1 + 50 * 2);
}

pub async fn concurrent_writers_on_one_stream_never_fork_it<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, s) = (store.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let mut wins = 0;
            for _ in 0..25 {
                let current = store.read_stream(s.clone(), 0, usize::MAX).await.unwrap();
                let expected = current.last().map_or(ExpectedVersion::NoStream, |e| {
                    ExpectedVersion::Exact(e.version)
                });
                match store.append(s.clone(), expected, events(1)).await {
                    Ok(_) => wins += 1,
                    Err(StoreError::WrongExpectedVersion { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            wins
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap();
    }
    let read = store.read_stream(s, 0, usize::MAX).await.unwrap();
    assert_eq!(read.len(), wins);
    assert_eq!(
        read.iter().map(|e| e.version).collect::<Vec<_>>(),
        (0..wins as u64).collect::<Vec<_>>()
    );
}

/// The hard case of DESIGN §3: many concurrent writers while a subscriber follows.
pub async fn a_subscriber_sees_every_event_once_in_order_under_concurrent_writers<H: Harness>() {
    const WRITERS: usize = 8;
    const APPENDS: usize = 150;
    let h = H::fresh().await;
    let store = h.store();
    // Some history first, so the subscriber catches up before it follows live.
    store
        .append(stream(), ExpectedVersion::NoStream, events(50))
        .await
        .unwrap();
    let mut sub = store.subscribe_all(Position::START);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..APPENDS {
                let batch = events(1 + (w + i) % 3);
                ids.extend(batch.iter().map(|e| e.id));
                store
                    .append(stream(), ExpectedVersion::NoStream, batch)
                    .await
                    .unwrap();
            }
            ids
        }));
    }
    let mut written: HashSet<EventId> = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let total = 50 + written.len();
    let mut seen = Vec::with_capacity(total);
    while seen.len() < total {
        seen.push(next_within(&mut sub, 10).await);
    }
    assert!(
        seen.windows(2).all(|w| w[0].position < w[1].position),
        "in position order, no repeats"
    );
    let seen_ids: HashSet<EventId> = seen.iter().map(|e| e.id).collect();
    assert_eq!(seen_ids.len(), total, "no event seen twice");
    assert!(written.is_subset(&seen_ids), "no event skipped");
    assert_eq!(
        seen,
        all(&*store).await,
        "the subscription is exactly the log"
    );
    // Nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err()
    );
    // A subscription from the middle sees exactly the tail.
    let mid = seen[total / 2].position;
    let mut tail = store.subscribe_all(mid);
    for e in &seen[total / 2 + 1..] {
        assert_eq!(next_within(&mut tail, 10).await.id, e.id);
    }
}

pub async fn a_subscription_follows_appends_made_after_it_caught_up<H: Harness>() {
    let h = H::fresh().await;
    let store = h.store();
    let s = stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, events(2))
        .await
        .unwrap();
    let mut sub = store.subscribe_all(Position::START);
    assert_eq!(next_within(&mut sub, 5).await.version, 0);
    assert_eq!(next_within(&mut sub, 5).await.version, 1);
    let waiting = tokio::spawn(async move { next_within(&mut sub, 5).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = events(1);
    store
        .append(s, ExpectedVersion::Exact(1), late.clone())
        .await
        .unwrap();
    assert_eq!(waiting.await.unwrap().id, late[0].id);
}

// --- the audit trail --------------------------------------------------------------

/// `read_audit` selects exactly what `AuditFilter::matches` says, in position order,
/// and pages with `after`.
pub async fn the_audit_trail_selects_by_stream_actor_site_and_period<H: Harness>() {
    use careledger_domain::store::AuditFilter;
    let h = H::fresh().await;
    let store = h.store();
    let by = |actor: &str, site: Option<&str>, n: usize| -> Vec<NewEvent> {
        (0..n)
            .map(|_| {
                let mut e = event(CloseReason::Moved);
                e.metadata.actor.subject = actor.to_string();
                e.metadata.site = site.map(|s| SiteId::parse(s).unwrap());
                e
            })
            .collect()
    };
    let (a, b, c) = (stream(), stream(), stream());
    store
        .append(
            a.clone(),
            ExpectedVersion::NoStream,
            by("nurse-x", Some("be-leuven"), 2),
        )
        .await
        .unwrap();
    store
        .append(
            b.clone(),
            ExpectedVersion::NoStream,
            by("nurse-y", Some("de-koeln"), 1),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .append(c.clone(), ExpectedVersion::NoStream, by("nurse-x", None, 1))
        .await
        .unwrap();
    store
        .append(
            a.clone(),
            ExpectedVersion::Exact(1),
            by("nurse-y", Some("be-leuven"), 1),
        )
        .await
        .unwrap();
    let log = all(&*store).await;
    let site = |s: &str| SiteId::parse(s).unwrap();
    let filters = [
        AuditFilter {
            actor: Some("nurse-x".into()),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![site("be-leuven")]),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![site("be-leuven"), site("de-koeln")]),
            ..Default::default()
        },
        AuditFilter {
            sites: Some(vec![]),
            ..Default::default()
        },
        AuditFilter {
            stream: Some(b.clone()),
            ..Default::default()
        },
        AuditFilter {
            actor: Some("nurse-x".into()),
            sites: Some(vec![site("de-koeln")]),
            ..Default::default()
        },
        AuditFilter {
            stream: Some(a.clone()),
            actor: Some("nurse-y".into()),
            ..Default::default()
        },
        AuditFilter {
            from: Some(log[3].recorded_at),
            ..Default::default()
        },
        AuditFilter {
            to: Some(log[3].recorded_at),
            sites: Some(vec![site("be-leuven")]),
            ..Default::default()
        },
    ];
    for f in filters {
        let expected: Vec<EventId> = log.iter().filter(|e| f.matches(e)).map(|e| e.id).collect();
        let got: Vec<EventId> = store
            .read_audit(f.clone(), Position::START, usize::MAX)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(got, expected, "{f:?}");
    }
    // Pages: two, then the rest after the second.
    let f = AuditFilter {
        actor: Some("nurse-x".into()),
        ..Default::default()
    };
    let first = store
        .read_audit(f.clone(), Position::START, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let rest = store
        .read_audit(f.clone(), first[1].position, 10)
        .await
        .unwrap();
    assert_eq!(
        first.iter().chain(&rest).map(|e| e.id).collect::<Vec<_>>(),
        log.iter()
            .filter(|e| f.matches(e))
            .map(|e| e.id)
            .collect::<Vec<_>>()
    );
}

// --- lifecycle and durability ----------------------------------------------------

pub async fn a_reopened_store_keeps_everything_and_continues<H: Harness>() {
    let mut h = H::fresh().await;
    let s = stream();
    h.store()
        .append(s.clone(), ExpectedVersion::NoStream, events(3))
        .await
        .unwrap();
    let before = all(&*h.store()).await;
    let head = h.store().head().await.unwrap();
    h.reopen().await;
    let store = h.store();
    assert_eq!(all(&*store).await, before);
    assert_eq!(store.head().await.unwrap(), head);
    let a = store
        .append(s.clone(), ExpectedVersion::Exact(2), events(1))
        .await
        .unwrap();
    assert_eq!(a.first_version, 3);
    assert!(a.last_position() > head);
    let conflict = store
        .append(s, ExpectedVersion::Exact(2), events(1))
        .await
        .unwrap_err();
    assert!(matches!(
        conflict,
        StoreError::WrongExpectedVersion {
            actual: Some(3),
            ..
        }
    ));
}

/// Runs `careledger-crash-writer <spec>` until it has acknowledged `want` writes (or
/// 20 s passed), kills it with SIGKILL, and returns every line it acknowledged —
/// those written before the kill too — asserting at least `at_least`.
pub async fn acknowledged_until_killed(spec: &str, want: usize, at_least: usize) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_careledger-crash-writer"))
        .arg(spec)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the crash writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acked.len() < want && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
            Ok(Ok(Some(line))) => acked.push(line),
            other => panic!("the crash writer stopped early: {other:?}"),
        }
    }
    child.start_kill().expect("SIGKILL");
    while let Ok(Some(line)) = lines.next_line().await {
        acked.push(line);
    }
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the writer was killed, not finished");
    assert!(
        acked.len() >= at_least,
        "enough load before the kill: {}",
        acked.len()
    );
    acked
}

/// A writer process appending under load is killed with SIGKILL; every append it
/// had acknowledged is found after reopening, at the version and position it was
/// acknowledged with.
pub async fn appends_acknowledged_before_a_kill_9_survive<H: Harness>() {
    let mut h = H::fresh().await;
    h.release().await;
    let acked = acknowledged_until_killed(&h.spec(), 3_000, 1_000).await;
    h.reopen().await;
    let store = h.store();
    let stored: BTreeMap<u64, RecordedEvent> = all(&*store)
        .await
        .into_iter()
        .map(|e| (e.position.raw(), e))
        .collect();
    for line in &acked {
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 5, "{line}");
        let (stream, version, position, id) = (
            f[1],
            f[2].parse::<u64>().unwrap(),
            f[3].parse::<u64>().unwrap(),
            f[4],
        );
        let e = stored
            .get(&position)
            .unwrap_or_else(|| panic!("acknowledged append lost: {line}"));
        assert_eq!(
            (e.stream.as_str(), e.version, e.id.to_string().as_str()),
            (stream, version, id),
            "{line}"
        );
    }
    // The store is whole: every stream's versions are contiguous from 0.
    let mut by_stream: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in stored.values() {
        by_stream
            .entry(e.stream.as_str())
            .or_default()
            .push(e.version);
    }
    for (s, v) in by_stream {
        assert_eq!(v, (0..v.len() as u64).collect::<Vec<_>>(), "{s}");
    }
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
