//! The contract on the PostgreSQL store, each test in a schema of its own, and what
//! only PostgreSQL can show: configuration refused at open, in words.
//!
//! The database comes from `CARELEDGER_TEST_PG_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Without it the tests say why they did
//! not run — except in CI (`CI` set), where a missing database fails them.

use crate::contract::{self, Harness};
use careledger_domain::store::{EventStore, ExpectedVersion, StoreError};
use careledger_infra::clock::SystemClock;
use careledger_infra::postgres::{PG_SCHEMA_VERSION, PgEventStore, PgOptions};
use std::sync::Arc;

pub const URL_VAR: &str = "CARELEDGER_TEST_PG_URL";

/// The test database, or `None` (outside CI) after saying why the test is skipped.
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set: CI must run the PostgreSQL tests")
        }
        _ => {
            eprintln!(
                "PostgreSQL test not run: set {URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            None
        }
    }
}

fn new_schema() -> String {
    format!("t_{}", uuid::Uuid::now_v7().simple())
}

pub async fn open(url: &str, schema: &str) -> PgEventStore {
    PgEventStore::open(
        url,
        Arc::new(SystemClock),
        PgOptions {
            schema: schema.to_string(),
            ..PgOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Drops a test schema (on a thread of its own: called from `Drop`).
pub fn drop_schema(url: String, schema: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
            }
        });
    })
    .join();
}

pub struct Postgres {
    url: String,
    schema: String,
    store: Option<PgEventStore>,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        drop_schema(self.url.clone(), self.schema.clone());
    }
}

impl Harness for Postgres {
    async fn fresh() -> Self {
        let url = url().expect("checked by skip()");
        let schema = new_schema();
        let store = Some(open(&url, &schema).await);
        Postgres { url, schema, store }
    }
    fn store(&self) -> Arc<dyn EventStore> {
        Arc::new(self.store.clone().expect("store open"))
    }
    async fn reopen(&mut self) {
        self.release().await;
        self.store = Some(open(&self.url, &self.schema).await);
    }
    async fn release(&mut self) {
        if let Some(s) = self.store.take() {
            s.close().await;
        }
    }
    fn spec(&self) -> String {
        format!("postgres:{}|{}", self.schema, self.url)
    }
    fn skip() -> bool {
        url().is_none()
    }
}

contract_tests!(Postgres);

async fn open_err(url: &str, schema: &str) -> String {
    match PgEventStore::open(
        url,
        Arc::new(SystemClock),
        PgOptions {
            schema: schema.into(),
            connect_timeout: std::time::Duration::from_secs(3),
            ..PgOptions::default()
        },
    )
    .await
    {
        Ok(_) => panic!("opened {url}"),
        Err(StoreError::Unavailable { detail }) => detail,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_in_words_not_with_a_panic_or_a_hang() {
    let Some(url) = url() else { return };
    // Nothing listens on port 1.
    let d = open_err("postgres://postgres@127.0.0.1:1/test", "careledger").await;
    assert!(
        d.contains("cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/test"),
        "{d}"
    );
    // A database that does not exist.
    let d = open_err(
        "postgres://postgres@127.0.0.1:5432/no_such_database_here",
        "careledger",
    )
    .await;
    assert!(
        d.contains("no_such_database_here") && d.contains("does not exist"),
        "{d}"
    );
    // Credentials the server refuses (here: a role that does not exist).
    let d = open_err(
        "postgres://no_such_role_here:pw@127.0.0.1:5432/test",
        "careledger",
    )
    .await;
    assert!(
        d.contains("no_such_role_here") && d.contains("does not exist"),
        "{d}"
    );
    assert!(!d.contains(":pw@"), "{d}");
    // Not a URL; and the password never shows in a message.
    let d = open_err("postgres://someone:s3cret@[nonsense", "careledger").await;
    assert!(
        d.contains("is not a PostgreSQL URL") && !d.contains("s3cret"),
        "{d}"
    );
    let d = open_err("postgres://someone:s3cret@127.0.0.1:1/test", "careledger").await;
    assert!(!d.contains("s3cret"), "{d}");
    // A schema name that could not be quoted safely.
    let d = open_err(&url, "Robert'); DROP").await;
    assert!(d.contains("not a usable schema name"), "{d}");
    // A schema written by a newer CareLedger.
    let schema = new_schema();
    let store = open(&url, &schema).await;
    store.close().await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "INSERT INTO \"{schema}\".schema_version VALUES ({})",
            PG_SCHEMA_VERSION + 1
        ))
        .await
        .unwrap();
    let d = open_err(&url, &schema).await;
    assert!(
        d.contains(&format!("is at version {}", PG_SCHEMA_VERSION + 1))
            && d.contains("newer CareLedger"),
        "{d}"
    );
    drop_schema(url, schema);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_opening_one_new_schema_together_migrate_it_once() {
    let Some(url) = url() else { return };
    let schema = new_schema();
    let (a, b) = tokio::join!(open(&url, &schema), open(&url, &schema));
    let s = contract::stream();
    a.append(s.clone(), ExpectedVersion::NoStream, contract::events(1))
        .await
        .unwrap();
    // The other process sees it, and conflicts with it.
    assert_eq!(b.read_stream(s.clone(), 0, 10).await.unwrap().len(), 1);
    assert!(matches!(
        b.append(s, ExpectedVersion::NoStream, contract::events(1))
            .await,
        Err(StoreError::WrongExpectedVersion {
            actual: Some(0),
            ..
        })
    ));
    a.close().await;
    b.close().await;
    drop_schema(url, schema);
}

/// The hard case across writers that do not share a process's writer task: four
/// stores on one schema (as four server processes would be) append concurrently
/// while a fifth follows with `subscribe_all`; it sees every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_misses_nothing_while_several_processes_write() {
    use careledger_domain::store::Position;
    use std::collections::HashSet;
    let Some(url) = url() else { return };
    let schema = new_schema();
    let follower = open(&url, &schema).await;
    let mut sub = follower.subscribe_all(Position::START);
    let mut writers = Vec::new();
    for _ in 0..4 {
        let store = open(&url, &schema).await;
        writers.push(tokio::spawn(async move {
            let mut tasks = Vec::new();
            for t in 0..8 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..60 {
                        let batch = contract::events(1 + (t + i) % 3);
                        ids.extend(batch.iter().map(|e| e.id));
                        store
                            .append(contract::stream(), ExpectedVersion::NoStream, batch)
                            .await
                            .unwrap();
                    }
                    ids
                }));
            }
            let mut ids = Vec::new();
            for t in tasks {
                ids.extend(t.await.unwrap());
            }
            store.close().await;
            ids
        }));
    }
    let mut written = HashSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let mut seen = Vec::new();
    while seen.len() < written.len() {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), sub.next())
            .await
            .expect("subscription stalled")
            .unwrap();
        seen.push(e);
    }
    assert!(seen.windows(2).all(|w| w[0].position < w[1].position));
    let ids: HashSet<_> = seen.iter().map(|e| e.id).collect();
    assert_eq!(ids, written, "every event once");
    // Positions are dense: nothing was skipped in between.
    assert_eq!(seen.last().unwrap().position.raw(), written.len() as u64);
    follower.close().await;
    drop_schema(url, schema);
}
