//! The PostgreSQL scenarios (run when `CARELEDGER_BENCH_PG_URL` names a database):
//! `pg_append_batched` against a raw multi-row INSERT of the same rows,
//! `pg_append_concurrent` (64 tasks, single-event durable appends) against one
//! transaction per event, and `pg_replay` against a raw scan of the same rows. Each
//! scenario works in a schema of its own, dropped afterwards.

use super::{batched_rate, encode_rows, report, sample_events, stream};
use careledger_domain::store::{EventStore, ExpectedVersion, Position};
use careledger_infra::clock::SystemClock;
use careledger_infra::postgres::{PG_PAGE, PgEventStore, PgOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

pub struct PgScale {
    pub batched_events: usize,
    pub batch: usize,
    pub tasks: usize,
    pub per_task: usize,
    pub per_event_baseline: Duration,
    pub replay_events: usize,
}

async fn client(url: &str) -> Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the benchmark database");
    tokio::spawn(conn);
    c
}

async fn open(url: &str, schema: &str) -> PgEventStore {
    let c = client(url).await;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
    PgEventStore::open(
        url,
        Arc::new(SystemClock),
        PgOptions {
            schema: schema.into(),
            ..PgOptions::default()
        },
    )
    .await
    .expect("open the PostgreSQL store")
}

async fn drop_schema(url: &str, schema: &str) {
    let _ = client(url)
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await;
}

/// A raw client on `schema`'s tables (created by opening a store there).
async fn raw(url: &str, schema: &str) -> Client {
    open(url, schema).await.close().await;
    let c = client(url).await;
    c.batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .unwrap();
    c
}

const RAW_INSERT: &str = "INSERT INTO events (position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id)
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::integer[], $7::bytea[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::uuid[], $14::uuid[])";

/// Inserts `rows` (every column, as the store writes them) in one statement,
/// numbered from `first`.
async fn insert_raw(c: &impl tokio_postgres::GenericClient, rows: &[super::Row], first: i64) {
    let n = rows.len();
    let pos: Vec<i64> = (0..n as i64).map(|i| first + i).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let streams: Vec<&str> = rows.iter().map(|r| r.stream.as_str()).collect();
    let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.event_type).collect();
    let svs: Vec<i32> = rows.iter().map(|r| r.schema_version as i32).collect();
    let payloads: Vec<&[u8]> = rows.iter().map(|r| r.payload.as_slice()).collect();
    let now = chrono::Utc::now().timestamp_micros();
    let times = vec![now; n];
    let actors = vec!["bench"; n];
    let roles = vec!["coordinator"; n];
    let sites = vec![Some("be-leuven"); n];
    let causes: Vec<Option<Uuid>> = vec![None; n];
    c.execute(
        RAW_INSERT,
        &[
            &pos, &ids, &streams, &versions, &types, &svs, &payloads, &times, &times, &actors,
            &roles, &sites, &ids, &causes,
        ],
    )
    .await
    .unwrap();
}

pub async fn pg_append_batched(url: &str, s: &PgScale) {
    eprintln!(
        "pg_append_batched: {} events in appends of {}",
        s.batched_events, s.batch
    );
    let events = sample_events(s.batched_events);
    let rows = encode_rows(&events, s.batch);
    let (mut best_raw, mut best_ours) = (0f64, 0f64);
    for round in 0..2 {
        let schema = format!("bench_raw_{}_{round}", std::process::id());
        let mut c = raw(url, &schema).await;
        let t = Instant::now();
        let mut next = 1i64;
        for chunk in rows.chunks(s.batch) {
            let tx = c.transaction().await.unwrap();
            insert_raw(&tx, chunk, next).await;
            tx.commit().await.unwrap();
            next += chunk.len() as i64;
        }
        best_raw = best_raw.max(s.batched_events as f64 / t.elapsed().as_secs_f64());
        drop_schema(url, &schema).await;

        let schema = format!("bench_ours_{}_{round}", std::process::id());
        let store = open(url, &schema).await;
        best_ours = best_ours.max(batched_rate(&store, &events, s.batch).await);
        store.close().await;
        drop_schema(url, &schema).await;
    }
    report(
        "pg_append_batched",
        best_ours,
        "events/s",
        Some(best_raw),
        "raw multi-row INSERT (unnest of arrays) of the same pre-encoded rows into the same table, one transaction per batch; best of 2 rounds each",
        None,
        ">= 0.7 x baseline",
    );
}

pub async fn pg_append_concurrent(url: &str, s: &PgScale) {
    eprintln!(
        "pg_append_concurrent: {} tasks x {} single-event appends",
        s.tasks, s.per_task
    );
    // Baseline: one durable transaction per event, back to back.
    let schema = format!("bench_raw_c_{}", std::process::id());
    let mut c = raw(url, &schema).await;
    let rows = encode_rows(&sample_events(100_000), 1);
    let t = Instant::now();
    let mut n = 0usize;
    while t.elapsed() < s.per_event_baseline && n < rows.len() {
        let tx = c.transaction().await.unwrap();
        insert_raw(&tx, &rows[n..n + 1], n as i64 + 1).await;
        tx.commit().await.unwrap();
        n += 1;
    }
    let per_event = n as f64 / t.elapsed().as_secs_f64();
    drop_schema(url, &schema).await;

    let schema = format!("bench_ours_c_{}", std::process::id());
    let store: Arc<dyn EventStore> = Arc::new(open(url, &schema).await);
    let (rate, p99) = super::concurrent_lifecycles(store.clone(), s.tasks, s.per_task).await;
    drop(store);
    drop_schema(url, &schema).await;
    report(
        "pg_append_concurrent",
        rate,
        "events/s",
        Some(per_event),
        "one durable PostgreSQL transaction (one WAL flush) per event, back to back, same table",
        Some(p99),
        "> 7500 events/s",
    );
}

pub async fn pg_replay(url: &str, s: &PgScale) {
    eprintln!("pg_replay: writing {} events", s.replay_events);
    let schema = format!("bench_replay_{}", std::process::id());
    let store = open(url, &schema).await;
    let events = sample_events(s.replay_events);
    for chunk in events.chunks(6_000) {
        let mut pending = Vec::new();
        for life in chunk.chunks(6) {
            pending.push(store.append(stream(), ExpectedVersion::NoStream, life.to_vec()));
        }
        for p in pending {
            p.await.unwrap();
        }
    }
    let head = store.head().await.unwrap();
    eprintln!("pg_replay: reading back");
    // Baseline: the same rows scanned raw (every column fetched, nothing decoded).
    let c = client(url).await;
    c.batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .unwrap();
    let t = Instant::now();
    let mut n = 0usize;
    let mut after = 0i64;
    loop {
        let rows = c
            .query(
                "SELECT position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                &[&after, &(PG_PAGE as i64)],
            )
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        n += rows.len();
    }
    let raw_rate = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut m = 0usize;
    let mut pos = Position::START;
    loop {
        let page = store.read_all(pos, PG_PAGE).await.unwrap();
        let Some(last) = page.last() else { break };
        pos = last.position;
        m += page.len();
    }
    let rate = m as f64 / t.elapsed().as_secs_f64();
    assert_eq!(m as u64, head.raw());
    store.close().await;
    drop_schema(url, &schema).await;
    report(
        "pg_replay",
        rate,
        "events/s",
        Some(raw_rate),
        &format!(
            "a raw scan of the same {n} rows in pages of {PG_PAGE}, every column fetched, nothing decoded"
        ),
        None,
        "report (no target set)",
    );
}
