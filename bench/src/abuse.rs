//! `abuse`: can two hostile callers out-rank everyone else? (issue 13, DESIGN §6)
//!
//! The real server (default limits: rate limit, in-flight cap, request time limit,
//! complexity weights) holds the demo data set. Eight ordinary clients, each a
//! keep-alive connection of its own coordinator, look need cases up by id at 100
//! requests per second each (within the default per-credential rate limit). First
//! alone (the comparison point: their p99 with no attacker, same run), then while
//! two attackers — two quality managers, each on as many connections as its
//! in-flight cap allows — loop the most expensive document the server accepts:
//! nine `equityTwoWay` tables with every cell (a tenth would pass the complexity
//! limit). Target: the ordinary clients' p99 stays ≤ 50 ms under attack.

use super::graphql::{Conn, has_error, p99_ms};
use super::{report, server};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ORDINARY: usize = 8;
/// Requests per second each ordinary client makes.
const PER_CLIENT_PER_SEC: u64 = 100;
const ATTACKERS: usize = 2;
/// Connections per attacker: the server's default in-flight cap per credential.
const ATTACK_CONNECTIONS: usize = 8;

fn worst_document() -> String {
    let tables: Vec<String> = (0..9)
        .map(|i| {
            format!(
                "t{i}: equityTwoWay(rows: SEX, columns: LANGUAGE, outcome: REFERRAL_RATE) {{ cells {{ row column n rate }} }}"
            )
        })
        .collect();
    serde_json::json!({ "query": format!("{{ {} }}", tables.join(" ")) }).to_string()
}

/// A token of the server on `dir`, valid an hour (minted by `careledger token`).
fn token(dir: &Path, sub: &str, role: &str) -> String {
    server::token(dir, sub, role, 1)
}

/// The ordinary clients' latencies (µs) and error count over `duration`; client `c`
/// uses `tokens[c]`, its own coordinator credential.
async fn ordinary_load(
    addr: &str,
    tokens: &[String],
    ids: Arc<Vec<String>>,
    duration: Duration,
) -> (Vec<u32>, usize) {
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().enumerate() {
        let (addr, ids, token) = (addr.to_string(), ids.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr, &token).await;
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            let end = Instant::now() + duration;
            let mut i = c;
            // A person's pace, well inside the per-credential rate limit.
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / PER_CLIENT_PER_SEC));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < end {
                tick.tick().await;
                let id = &ids[i % ids.len()];
                i += ORDINARY;
                let body = serde_json::json!({
                    "query": "query($id: ID!) { needCase(id: $id) { id status need { label } referrals { status } } }",
                    "variables": { "id": id } })
                .to_string();
                let t = Instant::now();
                let (status, resp) = conn.post(&body).await;
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if status != 200 || has_error(&resp) {
                    errors += 1;
                    if errors == 1 {
                        eprintln!("  ordinary client error ({status}): {}", String::from_utf8_lossy(&resp));
                    }
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

pub async fn abuse(dir: &Path, duration: Duration, recipients: u32) {
    eprintln!("abuse: loading the demo data set ({recipients} recipients)");
    let data = dir.to_str().unwrap();
    let recipients = recipients.to_string();
    let server = server::serve(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--demo",
        "--demo-recipients",
        &recipients,
    ]);
    // Need cases to look up, once the projections hold the demo.
    let lookup = token(dir, "bench-lookup", "coordinator");
    let mut conn = Conn::open(&server.addr, &lookup).await;
    let ids: Vec<String> = loop {
        let (_, b) = conn
            .post(r#"{"query":"{ needCases(first: 100) { edges { node { id } } } }"}"#)
            .await;
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
        let ids: Vec<String> = v["data"]["needCases"]["edges"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|n| n["node"]["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() == 100 {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ids = Arc::new(ids);
    // Every credential minted before any load starts (each is a process run), so
    // all clients start together.
    let ordinary: Vec<String> = (0..ORDINARY)
        .map(|c| token(dir, &format!("bench-nurse-{c}"), "coordinator"))
        .collect();
    let attack_tokens: Vec<String> = (0..ATTACKERS)
        .map(|a| token(dir, &format!("bench-attacker-{a}"), "quality_manager"))
        .collect();

    eprintln!(
        "abuse: {ORDINARY} ordinary clients alone, {} s",
        duration.as_secs()
    );
    let (mut calm, calm_errors) =
        ordinary_load(&server.addr, &ordinary, ids.clone(), duration).await;

    eprintln!(
        "abuse: the same with {ATTACKERS} attackers × {ATTACK_CONNECTIONS} connections looping nine equityTwoWay tables"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let body = Arc::new(worst_document());
    let mut attackers = Vec::new();
    for token in &attack_tokens {
        for _ in 0..ATTACK_CONNECTIONS {
            let (addr, token, body, stop) = (
                server.addr.clone(),
                token.clone(),
                body.clone(),
                stop.clone(),
            );
            let (answered, refused) = (answered.clone(), refused.clone());
            attackers.push(tokio::spawn(async move {
                let mut conn = Conn::open(&addr, &token).await;
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = conn.post(&body).await;
                    if status == 200 {
                        answered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        // A refused attacker comes straight back, as one would.
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut attacked, attacked_errors) =
        ordinary_load(&server.addr, &ordinary, ids, duration).await;
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.await;
    }
    drop(server);
    let calm_p99 = p99_ms(&mut calm);
    let attacked_p99 = p99_ms(&mut attacked);
    report(
        "abuse",
        attacked.len() as f64 / duration.as_secs_f64(),
        "ordinary lookups/s under attack",
        Some(calm.len() as f64 / duration.as_secs_f64()),
        &format!(
            "the same {ORDINARY} clients with no attacker in the same run: p99 {calm_p99:.2} ms; under attack {} attack documents answered, {} refused (429/503); ordinary errors {} calm, {} under attack",
            answered.load(Ordering::Relaxed),
            refused.load(Ordering::Relaxed),
            calm_errors,
            attacked_errors
        ),
        Some(attacked_p99),
        "ordinary clients' p99 <= 50 ms under attack",
    );
}
