//! The contract on the embedded SQLite store, and what only SQLite can show:
//! stored bytes that do not decode, files that are not (our) stores.

use crate::contract::{self, Harness};
use careledger_domain::store::{
    Appended, EventStore, ExpectedVersion, NewEvent, Position, StoreError, StreamName,
};
use careledger_infra::clock::SystemClock;
use careledger_infra::codec::Codec;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use std::path::PathBuf;
use std::sync::Arc;

pub struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Option<SqliteEventStore>,
}

fn open(path: &std::path::Path) -> SqliteEventStore {
    SqliteEventStore::open(path, Arc::new(SystemClock), SqliteOptions::default()).unwrap()
}

impl Harness for Sqlite {
    async fn fresh() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        let store = Some(open(&path));
        Sqlite {
            _dir: dir,
            path,
            store,
        }
    }
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::new(self.store.clone().expect("store open"))
    }
    async fn reopen(&mut self) {
        self.release().await;
        self.store = Some(open(&self.path));
    }
    async fn release(&mut self) {
        if let Some(s) = self.store.take() {
            s.close().await;
        }
    }
    fn spec(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

contract_tests!(Sqlite);

/// Writes a row behind the store's back, as a damaged or foreign file would hold it.
fn plant(
    path: &std::path::Path,
    stream: &str,
    version: i64,
    event_type: &str,
    schema_version: i64,
    payload: &[u8],
) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "INSERT INTO events (event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 'x', 'system', NULL, ?7, NULL)",
        rusqlite::params![uuid::Uuid::now_v7().as_bytes().as_slice(), stream, version, event_type, schema_version, payload, uuid::Uuid::now_v7().as_bytes().as_slice()],
    )
    .unwrap();
}

#[tokio::test]
async fn undecodable_events_are_errors_naming_stream_version_and_type_never_skipped() {
    let mut h = Sqlite::fresh().await;
    let s = contract::stream();
    h.store()
        .append(s.clone(), ExpectedVersion::NoStream, contract::events(1))
        .await
        .unwrap();
    // A row planted behind a running writer's back stays unread until the
    // writer publishes a head past it: plant it at rest, as damage would be.
    h.release().await;
    plant(&h.path, s.as_str(), 1, "NeedClosed", 1, b"{\"reason\": 42}");
    h.reopen().await;
    let store = h.store();
    let err = store.read_stream(s.clone(), 0, 10).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { stream, version: 1, event_type, .. } if stream == s.as_str() && event_type == "NeedClosed"),
        "{err:?}"
    );
    assert!(
        store.read_all(Position::START, 10).await.is_err(),
        "read_all does not skip it either"
    );
    // A subscription stops at the bad event, and stays there on retry.
    let mut sub = store.subscribe_all(Position::START);
    assert!(sub.next().await.is_ok());
    // The planted row bypassed the writer, so wake the subscription with a real append.
    store
        .append(
            contract::stream(),
            ExpectedVersion::NoStream,
            contract::events(1),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        assert!(matches!(
            sub.next().await,
            Err(StoreError::Corrupt { version: 1, .. })
        ));
    }
}

/// A bad event deep in a large page: `read_all` fails, and a subscription delivers
/// every event before it, in order, then stops there.
#[tokio::test]
async fn a_bad_event_in_a_large_page_stops_reads_exactly_there() {
    let h = Sqlite::fresh().await;
    let store = h.store();
    // 7,000 good events, the bad one at 7,001, 2,000 more: a 12,000-event page is read
    // as halves cut at the 6,000th event, so the bad one sits inside the second half
    // (and a subscription's first page holds all 9,001).
    for _ in 0..7 {
        store
            .append(
                contract::stream(),
                ExpectedVersion::NoStream,
                contract::events(1_000),
            )
            .await
            .unwrap();
    }
    let bad = contract::stream();
    plant(&h.path, bad.as_str(), 0, "NeedClosed", 1, b"not json");
    store
        .append(
            contract::stream(),
            ExpectedVersion::NoStream,
            contract::events(2_000),
        )
        .await
        .unwrap();
    let err = store.read_all(Position::START, 12_000).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { stream, .. } if stream == bad.as_str()),
        "{err:?}"
    );
    let mut sub = store.subscribe_all(Position::START);
    let mut last = Position::START;
    for _ in 0..7_000 {
        let e = sub.next().await.unwrap();
        assert!(e.position > last);
        last = e.position;
    }
    assert!(matches!(sub.next().await, Err(StoreError::Corrupt { .. })));
}

#[tokio::test]
async fn unknown_types_and_future_schema_versions_are_named() {
    let mut h = Sqlite::fresh().await;
    h.release().await;
    let (a, b) = (contract::stream(), contract::stream());
    plant(&h.path, a.as_str(), 0, "NeedTeleported", 1, b"{}");
    plant(
        &h.path,
        b.as_str(),
        0,
        "NeedClosed",
        7,
        b"{\"reason\":\"moved\"}",
    );
    h.reopen().await;
    let store = h.store();
    let err = store.read_stream(a.clone(), 0, 10).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "stored event {a}@0 has type NeedTeleported v1, which this version of CareLedger does not know"
        )
    );
    let err = store.read_stream(b.clone(), 0, 10).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnknownEventType {
                schema_version: 7,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn old_schema_versions_are_upcast_on_read_and_left_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    open(&path).close().await;
    let s = contract::stream();
    plant(
        &path,
        s.as_str(),
        0,
        "NeedClosed",
        0,
        b"{\"why\":\"deceased\"}",
    );
    let codec = Codec::default().with_upcaster("NeedClosed", 0, |v| {
        Ok(serde_json::json!({ "reason": v["why"] }))
    });
    let store = SqliteEventStore::open(
        &path,
        Arc::new(SystemClock),
        SqliteOptions {
            codec,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let read = store.read_stream(s.clone(), 0, 10).await.unwrap();
    assert_eq!(read[0].event.event_type(), "NeedClosed");
    store.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: i64 = conn
        .query_row("SELECT schema_version FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0, "upcasting never rewrites the log");
}

#[tokio::test]
async fn a_second_process_cannot_open_a_store_in_use() {
    let h = Sqlite::fresh().await;
    let err = SqliteEventStore::open(&h.path, Arc::new(SystemClock), SqliteOptions::default())
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("is in use by another CareLedger process"),
        "{err}"
    );
}

#[tokio::test]
async fn files_that_are_not_our_store_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let err = SqliteEventStore::open(&junk, Arc::new(SystemClock), SqliteOptions::default())
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("is not a usable SQLite store"),
        "{err}"
    );

    let newer = dir.path().join("newer.sqlite");
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version=99")
        .unwrap();
    let err = SqliteEventStore::open(&newer, Arc::new(SystemClock), SqliteOptions::default())
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("schema version 99, newer than this CareLedger understands"),
        "{err}"
    );
}

#[tokio::test]
async fn appends_after_close_are_refused() {
    let h = Sqlite::fresh().await;
    let store = h.store.clone().unwrap();
    store.close().await;
    let err = store
        .append(
            contract::stream(),
            ExpectedVersion::Any,
            contract::events(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
}

/// A row written behind the writer's back (an operator's `sqlite3` shell) decides:
/// an append expecting the version the writer last wrote is refused with the
/// stream's true version, and one that names the true version goes in after it
/// (the writer reads each stream's version in its transaction; a cache of the
/// versions it wrote was tried and must keep this true — see ARCHITECTURE).
#[tokio::test]
async fn rows_written_behind_the_writers_back_decide_the_version() {
    let h = Sqlite::fresh().await;
    let store = h.store();
    let planted = |stream: &StreamName, version| {
        plant(
            &h.path,
            stream.as_str(),
            version,
            "NeedClosed",
            1,
            b"{\"reason\":\"moved\"}",
        )
    };
    // The stream's version the store names when it refuses an append.
    let refused = |stream: StreamName, expected, n| {
        let store = store.clone();
        async move {
            match store.append(stream, expected, contract::events(n)).await {
                Err(StoreError::WrongExpectedVersion { actual, .. }) => actual,
                other => panic!("not refused as a version conflict: {other:?}"),
            }
        }
    };
    let s = contract::stream();
    store
        .append(s.clone(), ExpectedVersion::NoStream, contract::events(2))
        .await
        .unwrap();
    planted(&s, 2);
    assert_eq!(
        refused(s.clone(), ExpectedVersion::Exact(1), 1).await,
        Some(2)
    );
    let a = store
        .append(s.clone(), ExpectedVersion::Exact(2), contract::events(2))
        .await
        .unwrap();
    assert_eq!(a.first_version, 3);
    // A row planted past the head (a gap): the stream's version is the last row.
    planted(&s, 6);
    assert_eq!(
        refused(s.clone(), ExpectedVersion::Exact(4), 2).await,
        Some(6)
    );
    // A new stream the writer never saw, already started behind its back.
    let t = contract::stream();
    planted(&t, 0);
    assert_eq!(
        refused(t.clone(), ExpectedVersion::NoStream, 1).await,
        Some(0)
    );
    let a = store
        .append(t.clone(), ExpectedVersion::Any, contract::events(1))
        .await
        .unwrap();
    assert_eq!(a.first_version, 1);
    let versions: Vec<u64> = store
        .read_stream(s.clone(), 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [0, 1, 2, 3, 4, 6]);
}

/// A store whose WAL syncs the test holds back or fails: each sync announces
/// itself on `entered`, then waits for `release` to say how it ends.
fn gated(
    path: &std::path::Path,
) -> (
    SqliteEventStore,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<std::io::Result<()>>,
) {
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let store = SqliteEventStore::open(
        path,
        Arc::new(SystemClock),
        SqliteOptions {
            sync_wal: Some(Box::new(move || {
                let _ = entered_tx.send(());
                release_rx.recv().unwrap_or(Ok(()))
            })),
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    (store, entered, release)
}

/// Appends `events` to a new `stream` on a task of its own.
fn spawn_append(
    store: &SqliteEventStore,
    stream: StreamName,
    events: Vec<NewEvent>,
) -> tokio::task::JoinHandle<Result<Appended, StoreError>> {
    let store = store.clone();
    tokio::spawn(async move {
        store
            .append(stream, ExpectedVersion::NoStream, events)
            .await
    })
}

/// [`spawn_append`], returning once that append is committed and its sync is held.
fn held_append(
    store: &SqliteEventStore,
    entered: &std::sync::mpsc::Receiver<()>,
    stream: StreamName,
    events: Vec<NewEvent>,
) -> tokio::task::JoinHandle<Result<Appended, StoreError>> {
    let pending = spawn_append(store, stream, events);
    tokio::task::block_in_place(|| wait_entered(entered));
    pending
}

fn rows_in_file(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

fn wait_entered(entered: &std::sync::mpsc::Receiver<()>) {
    entered
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the syncer syncs");
}

/// The writer commits without syncing and goes on with the next batch while
/// the syncer syncs the last one; an append is answered, and anything a reader
/// of the store can see, only once its sync returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_is_answered_and_readable_only_once_its_wal_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let (store, entered, release) = gated(&path);
    let (a, b) = (contract::stream(), contract::stream());
    let first = held_append(&store, &entered, a.clone(), contract::events(2));
    // The first batch is committed and its sync is held: the writer is free.
    let second = spawn_append(&store, b.clone(), contract::events(1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rows_in_file(&path) < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer committed the second batch while the first one's sync was held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Committed, not yet durable: nobody is answered, and no read shows it.
    assert!(!first.is_finished() && !second.is_finished());
    assert_eq!(store.head().await.unwrap(), Position::START);
    assert!(
        store
            .read_all(Position::START, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_stream(a.clone(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut sub = store.subscribe_all(Position::START);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(100), sub.next())
            .await
            .is_err(),
        "a subscription delivers nothing that is not durable"
    );
    // The first sync returns: the first batch is answered and readable. The
    // second batch waits for its own sync.
    release.send(Ok(())).unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(store.head().await.unwrap(), first.last_position());
    assert_eq!(store.read_stream(a, 0, 10).await.unwrap().len(), 2);
    assert_eq!(sub.next().await.unwrap().position, first.positions[0]);
    tokio::task::block_in_place(|| wait_entered(&entered));
    assert!(!second.is_finished());
    assert!(
        store
            .read_stream(b.clone(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    release.send(Ok(())).unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(store.head().await.unwrap(), second.last_position());
    assert_eq!(store.read_all(Position::START, 100).await.unwrap().len(), 3);
    drop(release);
    store.close().await;
}

/// A failed sync fails its batch as "may or may not be stored", and the store
/// writes nothing more (after a failed fsync the kernel may have dropped the
/// pages, and the next fsync may not say so); once restarted, a retry of the
/// same events finds them stored or stores them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_wal_sync_fails_its_appends_and_every_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let (store, entered, release) = gated(&path);
    let s = contract::stream();
    let events = contract::events(2);
    let pending = held_append(&store, &entered, s.clone(), events.clone());
    release
        .send(Err(std::io::Error::other("injected EIO")))
        .unwrap();
    let err = pending.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable { detail } if detail.contains("fsync failed: injected EIO")),
        "{err:?}"
    );
    let later = store
        .append(
            contract::stream(),
            ExpectedVersion::NoStream,
            contract::events(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&later, StoreError::Unavailable { detail } if detail.contains("this append was not written")),
        "{later:?}"
    );
    assert_eq!(store.head().await.unwrap(), Position::START);
    assert!(
        store
            .read_all(Position::START, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(rows_in_file(&path), 2, "the later append wrote nothing");
    drop(release);
    store.close().await;
    drop(store);
    let store = open(&path);
    let retried = store
        .append(s.clone(), ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert!(retried.duplicate, "the first batch had reached the file");
    assert_eq!(store.read_stream(s, 0, 10).await.unwrap().len(), 2);
    store.close().await;
}

/// A store dropped without `close` while a sync is held: the drop waits for
/// the writer, so the file stays locked until that commit is synced, and is
/// free the moment the drop returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_store_waits_for_its_last_commit_to_be_synced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let (store, entered, release) = gated(&path);
    let pending = held_append(&store, &entered, contract::stream(), contract::events(1));
    pending.abort();
    let _ = pending.await;
    let dropping = std::thread::spawn(move || drop(store));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!dropping.is_finished(), "the drop waits for the held sync");
    let err = SqliteEventStore::open(&path, Arc::new(SystemClock), SqliteOptions::default())
        .err()
        .expect("still locked while the commit is not synced");
    assert!(err.to_string().contains("in use"), "{err}");
    release.send(Ok(())).unwrap();
    dropping.join().unwrap();
    let store = open(&path);
    assert_eq!(store.read_all(Position::START, 10).await.unwrap().len(), 1);
    store.close().await;
}

/// A sync that panics is a failed sync, not a dead syncer: its batch is
/// answered "may or may not be stored", and every later append is refused
/// unwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sync_fails_the_store_like_a_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.sqlite");
    let store = SqliteEventStore::open(
        &path,
        Arc::new(SystemClock),
        SqliteOptions {
            sync_wal: Some(Box::new(|| panic!("injected: the sync panics"))),
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let append = || {
        store.append(
            contract::stream(),
            ExpectedVersion::NoStream,
            contract::events(1),
        )
    };
    let first = append().await.unwrap_err();
    assert!(
        matches!(&first, StoreError::Unavailable { detail } if detail.contains("may or may not be stored") && detail.contains("the sync panicked")),
        "{first:?}"
    );
    let second = append().await.unwrap_err();
    assert!(
        matches!(&second, StoreError::Unavailable { detail } if detail.contains("this append was not written")),
        "{second:?}"
    );
    assert_eq!(rows_in_file(&path), 1, "the second append wrote nothing");
    assert_eq!(store.head().await.unwrap(), Position::START);
    store.close().await;
}
