//! `memory_1m` and `scale_10m` (issue 19): what a `careledger serve` holding
//! many need cases costs in memory and start-up time.
//!
//! A store is filled with generated need cases (those of `projection_fold`, one
//! registered care recipient each), written a chunk at a time so the benchmark
//! never holds the whole log. Then the real server starts on it twice:
//!
//! * **cold**: no checkpoint, it folds the whole log; the time until `/readyz`
//!   answers 200 and the process's resident set then (`VmRSS`) and at its peak
//!   (`VmHWM`);
//! * **from the checkpoint** it saved when it was stopped (SIGTERM): the same.
//!
//! `memory_1m` also folds the same kind of log in this process and drops the
//! read models part by part under a counting allocator, so each model's share
//! is reported (bytes requested from the allocator; its own overhead shows in
//! the difference with the resident set).
//!
//! `scale_10m` runs only with `CARELEDGER_BENCH_SCALE_10M=1` (10,000,000 need
//! cases: tens of minutes and several GB), and adds the fold rate and the p99
//! of an equity query over HTTP.

use super::equity::Generator;
use super::events::open_store;
use super::graphql::Conn;
use super::server::{ChildServer, serve};
use careledger_domain::DomainEvent;
use careledger_domain::ids::EventId;
use careledger_domain::need_case::NeedCaseEvent;
use careledger_domain::recipient::{CareRecipientRegistered, RecipientEvent};
use careledger_domain::store::{
    EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StreamName,
};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The benchmark's allocator: the server's (mimalloc), counting the bytes it
/// holds while [`COUNTING`] is set (only `memory_1m`'s in-process part sets it,
/// so the other scenarios pay one relaxed load per allocation).
pub struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to mimalloc unchanged; the counter only adds.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.realloc(p, l, new) }
    }
}

/// Need cases generated (and written) per chunk.
const CHUNK: usize = 50_000;

/// The recipient registration of each need case's recipient (read off its
/// identification) before it, and the chunk's events grouped by stream.
fn with_recipients(chunk: Vec<RecordedEvent>) -> Vec<(StreamName, Vec<DomainEvent>)> {
    let mut streams: Vec<(StreamName, Vec<DomainEvent>)> = Vec::new();
    for e in chunk {
        if let DomainEvent::NeedCase(NeedCaseEvent::NeedIdentified(n)) = &e.event {
            streams.push((
                StreamName::recipient(n.recipient.recipient),
                vec![DomainEvent::Recipient(
                    RecipientEvent::CareRecipientRegistered(CareRecipientRegistered {
                        profile: (*n.recipient).clone(),
                        personal: None,
                    }),
                )],
            ));
        }
        match streams.last_mut() {
            Some((s, events)) if *s == e.stream => events.push(e.event),
            _ => streams.push((e.stream, vec![e.event])),
        }
    }
    streams
}

/// The metadata of every generated event (one coordinator, now).
fn metadata() -> careledger_domain::store::EventMetadata {
    careledger_domain::store::EventMetadata {
        occurred_at: chrono::Utc::now(),
        actor: careledger_domain::store::Actor {
            subject: "bench-coordinator".into(),
            role: careledger_domain::store::Role::Coordinator,
        },
        site: None,
        correlation_id: Uuid::now_v7(),
        causation_id: None,
    }
}

/// Writes `cases` generated need cases and their recipients; returns the events written.
async fn fill(store: &careledger_infra::sqlite::SqliteEventStore, cases: usize) -> u64 {
    let mut generator = Generator::new();
    let metadata = metadata();
    let (mut done, mut written) = (0, 0u64);
    let t = Instant::now();
    while done < cases {
        let n = CHUNK.min(cases - done);
        let mut chunk = Vec::with_capacity(n * 5);
        generator.cases(n, &mut chunk);
        let streams = with_recipients(chunk);
        // Eight writers, each with up to 100 appends in flight (group commit).
        let per = streams.len().div_ceil(8);
        let mut tasks = Vec::new();
        let mut streams = streams.into_iter();
        for _ in 0..8 {
            let mine: Vec<_> = streams.by_ref().take(per).collect();
            let (store, metadata) = (store.clone(), metadata.clone());
            tasks.push(tokio::spawn(async move {
                let mut count = 0u64;
                let mut mine = mine.into_iter().peekable();
                while mine.peek().is_some() {
                    // Spawned, so that the hundred appends wait for the writer
                    // together (a future is enqueued only once polled).
                    let mut pending = tokio::task::JoinSet::new();
                    for (stream, events) in mine.by_ref().take(100) {
                        count += events.len() as u64;
                        let events = events
                            .into_iter()
                            .map(|event| NewEvent {
                                id: EventId::from_uuid(Uuid::now_v7()),
                                event,
                                metadata: metadata.clone(),
                            })
                            .collect();
                        let store = store.clone();
                        pending.spawn(async move {
                            store
                                .append(stream, ExpectedVersion::NoStream, events)
                                .await
                        });
                    }
                    while let Some(done) = pending.join_next().await {
                        done.unwrap().expect("append a generated stream");
                    }
                }
                count
            }));
        }
        for task in tasks {
            written += task.await.unwrap();
        }
        done += n;
        eprintln!(
            "  {done} need cases written ({written} events, {:.0} s)",
            t.elapsed().as_secs_f64()
        );
    }
    written
}

/// `VmRSS`, `VmHWM`, `RssAnon` and `RssFile` of process `pid`, in MB.
fn rss_of(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    Rss {
        rss: field("VmRSS:"),
        peak: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

/// A process's memory, MB: resident, its peak, and the resident pages that are
/// its own (anonymous: the heap) or the files it maps (the store, read through
/// memory-mapped connections; the kernel reclaims them).
#[derive(Clone, Copy)]
struct Rss {
    rss: f64,
    peak: f64,
    anon: f64,
    file: f64,
}

/// One start of the server on `dir`: seconds until ready, resident set then, its peak.
struct Start {
    ready_s: f64,
    mem: Rss,
}

async fn start(dir: &Path) -> (ChildServer, Start) {
    let t = Instant::now();
    let server = serve(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
        "--rate-limit",
        "0",
    ]);
    let mut probe = Conn::open(&server.addr, "none").await;
    while probe.get("/readyz").await.0 != 200 {
        assert!(
            t.elapsed() < Duration::from_secs(3_600),
            "the server was not ready within an hour"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready_s = t.elapsed().as_secs_f64();
    // The resident set settles once the fold's garbage is given back.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mem = rss_of(server.pid());
    (server, Start { ready_s, mem })
}

/// The p99 (ms) of by-stratifier `equity` tables over GraphQL on `server`.
async fn equity_p99(dir: &Path, server: &ChildServer, queries: usize) -> f64 {
    let qm = super::server::token(dir, "bench-qm", "quality_manager", 24);
    let mut conn = Conn::open(&server.addr, &qm).await;
    let by = ["LANGUAGE", "AGE_BAND", "REGION", "SEX", "SITE"];
    let mut took = Vec::with_capacity(queries);
    for i in 0..queries + 5 {
        let q = format!(
            r#"{{"query":"{{ equity(by: {}, outcome: REFERRAL_RATE) {{ groups {{ group rate rateLow rateHigh }} }} }}"}}"#,
            by[i % by.len()]
        );
        let t = Instant::now();
        let (status, body) = conn.post(&q).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        if i >= 5 {
            took.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    took.sort_by(f64::total_cmp);
    took[((took.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)]
}

/// Each read model's share, in bytes, from folding `cases` generated need cases here.
fn shares(cases: usize) -> (Vec<(&'static str, f64)>, f64) {
    let mut generator = Generator::new();
    let mut model = careledger_projections::Casework::default();
    let mut position = 0u64;
    let mut done = 0;
    let metadata = metadata();
    COUNTING.store(true, Ordering::SeqCst);
    let before = LIVE.load(Ordering::SeqCst);
    while done < cases {
        let n = CHUNK.min(cases - done);
        COUNTING.store(false, Ordering::SeqCst);
        let mut chunk = Vec::with_capacity(n * 5);
        generator.cases(n, &mut chunk);
        let streams = with_recipients(chunk);
        let mut events = Vec::new();
        for (stream, list) in streams {
            for (v, event) in list.into_iter().enumerate() {
                position += 1;
                events.push(RecordedEvent {
                    id: EventId::from_uuid(Uuid::nil()),
                    stream: stream.clone(),
                    version: v as u64,
                    position: Position::new(position),
                    recorded_at: chrono::Utc::now(),
                    event,
                    metadata: metadata.clone(),
                });
            }
        }
        COUNTING.store(true, Ordering::SeqCst);
        for e in &events {
            model.apply(e);
        }
        COUNTING.store(false, Ordering::SeqCst);
        drop(events);
        COUNTING.store(true, Ordering::SeqCst);
        done += n;
    }
    // As the server does once its start has caught up.
    model.compact_indexes();
    let total = (LIVE.load(Ordering::SeqCst) - before) as f64;
    let mut last = LIVE.load(Ordering::SeqCst);
    let mut parts = Vec::new();
    model.drop_in_parts(|part| {
        let now = LIVE.load(Ordering::SeqCst);
        parts.push((part, (last - now) as f64));
        last = now;
    });
    COUNTING.store(false, Ordering::SeqCst);
    (parts, total)
}

pub async fn memory(dir: &Path, cases: usize, scenario: &str) {
    let path = dir.join("careledger.sqlite");
    let events = match kept_events(&path, cases) {
        Some(events) => {
            eprintln!(
                "{scenario}: reusing the store of {cases} need cases ({events} events) in {}",
                dir.display()
            );
            events
        }
        None => {
            let store = open_store(&path);
            eprintln!("{scenario}: writing {cases} need cases and their recipients");
            let events = fill(&store, cases).await;
            store.close().await;
            drop(store);
            std::fs::write(dir.join("filled"), format!("{cases} {events}")).unwrap();
            events
        }
    };
    // The cold start has no checkpoint to start from (a kept store's is removed).
    remove_snapshots(dir);
    // An empty server's resident set, for scale.
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();
    let (empty, empty_start) = start(&empty_dir).await;
    drop(empty);
    eprintln!("{scenario}: cold start (folding {events} events)");
    let (server, cold) = start(dir).await;
    // SIGTERM: the server saves its checkpoint as it stops (a whole one: the
    // 20 s a dropped server is given is too short for a large model).
    assert!(
        server.stop_within(Duration::from_secs(600)),
        "the server did not stop (and save its checkpoint) within 10 minutes"
    );
    let checkpoint_bytes = snapshot_bytes(dir);
    eprintln!("{scenario}: start from the checkpoint");
    let (server, warm) = start(dir).await;
    let equity = if scenario == "scale_10m" {
        Some(equity_p99(dir, &server, 100).await)
    } else {
        None
    };
    drop(server);
    let mut extra = serde_json::json!({
        "events": events,
        "need_cases": cases,
        "recipients": cases,
        "empty_server_rss_mb": round(empty_start.mem.rss),
        "cold_rss_mb": round(cold.mem.rss),
        "cold_anon_mb": round(cold.mem.anon),
        "cold_file_mb": round(cold.mem.file),
        "cold_peak_mb": round(cold.mem.peak),
        "cold_ready_s": round(cold.ready_s),
        "checkpoint_rss_mb": round(warm.mem.rss),
        "checkpoint_anon_mb": round(warm.mem.anon),
        "checkpoint_file_mb": round(warm.mem.file),
        "checkpoint_peak_mb": round(warm.mem.peak),
        "checkpoint_ready_s": round(warm.ready_s),
        "checkpoint_mb": round(checkpoint_bytes as f64 / 1e6),
    });
    let mut what = format!(
        "an empty server's resident set, same run; {cases} need cases + {cases} recipients ({events} events): cold start ready in {:.1} s, resident {:.0} MB ({:.0} MB its own, {:.0} MB mapped store pages; peak {:.0} MB); from the checkpoint ({:.0} MB) ready in {:.1} s, resident {:.0} MB ({:.0} MB its own; peak {:.0} MB)",
        cold.ready_s,
        cold.mem.rss,
        cold.mem.anon,
        cold.mem.file,
        cold.mem.peak,
        checkpoint_bytes as f64 / 1e6,
        warm.ready_s,
        warm.mem.rss,
        warm.mem.anon,
        warm.mem.peak
    );
    if let Some(p99) = equity {
        // Folding rate of the cold start: reading, decoding and folding the log.
        extra["cold_fold_events_per_s"] = serde_json::json!(round(events as f64 / cold.ready_s));
        extra["equity_p99_ms"] = serde_json::json!(round(p99));
        what.push_str(&format!(
            "; cold start folded {:.0} events/s; equity table p99 {p99:.1} ms over GraphQL",
            events as f64 / cold.ready_s
        ));
    }
    if scenario == "memory_1m" {
        eprintln!("{scenario}: each read model's share (folding in process)");
        let (parts, total) = shares(cases);
        let mut by = serde_json::Map::new();
        what.push_str(&format!(
            "; heap of the read models folded in process {:.0} MB:",
            total / 1e6
        ));
        for (part, bytes) in &parts {
            by.insert((*part).into(), serde_json::json!(round(bytes / 1e6)));
            what.push_str(&format!(" {part} {:.0} MB,", bytes / 1e6));
        }
        what.pop();
        extra["shares_mb"] = serde_json::Value::Object(by);
        extra["heap_mb"] = serde_json::json!(round(total / 1e6));
    }
    super::report_with(
        scenario,
        cold.mem.rss.max(warm.mem.rss),
        "MB resident (the larger of cold and checkpoint start)",
        Some(empty_start.mem.rss),
        &what,
        None,
        "<= 300 MB resident at 1,000,000 need cases, cold and from the checkpoint; ready <= 5 s from the checkpoint",
        extra,
    );
}

/// The events of a store filled by an earlier run with `cases` need cases
/// (`CARELEDGER_BENCH_MEMORY_DIR`), if `path` is one.
fn kept_events(path: &Path, cases: usize) -> Option<u64> {
    let filled = std::fs::read_to_string(path.with_file_name("filled")).ok()?;
    let (c, e) = filled.trim().split_once(' ')?;
    (path.exists() && c.parse::<usize>().ok()? == cases)
        .then(|| e.parse().ok())
        .flatten()
}

/// Removes the `*.snapshot` files under `dir`.
fn remove_snapshots(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            remove_snapshots(&path);
        } else if path.extension().is_some_and(|x| x == "snapshot") {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// The bytes of the `*.snapshot` files under `dir` (the read-model checkpoint).
fn snapshot_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            total += snapshot_bytes(&path);
        } else if path.extension().is_some_and(|x| x == "snapshot") {
            total += e.metadata().map_or(0, |m| m.len());
        }
    }
    total
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
