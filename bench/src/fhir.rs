//! The FHIR scenarios (issue 17).
//!
//! * `fhir_read`: `GET /fhir/Task/{id}` over 64 connections against the real
//!   server, beside `graphql_query`'s need-case lookups on the same server in
//!   the same run (target ≥ 0.8 × them).
//! * `fhir_export`: `careledger export-fhir` over a store of realistic need
//!   cases (1,000,000 in a full run), resources/s, beside the replay (decode)
//!   rate of the same store in the same run.

use super::events::{lifecycle, open_store};
use super::graphql::{Conn, Req, drive, needcase_lookups, seeded, start_server};
use super::report;
use careledger_domain::ids::EventId;
use careledger_domain::store::{
    Actor, EventMetadata, EventStore, ExpectedVersion, NewEvent, Position, Role, StreamName,
};
use careledger_domain::values::SiteId;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The most Task ids the read load cycles through.
const MAX_TASKS: usize = 20_000;

pub async fn fhir_read(dir: &Path, duration: Duration, seed_for: Duration) {
    let server = start_server(dir);
    eprintln!(
        "fhir_read: creating referrals ({} s of mutations)",
        seed_for.as_secs()
    );
    let ids = Arc::new(seeded(&server, seed_for).await);
    // The Tasks to read, found by the FHIR search itself (following next links).
    let mut conn = Conn::open(&server.addr, &server.token).await;
    let mut tasks = Vec::new();
    let mut path = "/fhir/Task?_count=100".to_string();
    loop {
        let (status, body) = conn.get(&path).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let b: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for e in b["entry"].as_array().into_iter().flatten() {
            tasks.push(e["resource"]["id"].as_str().unwrap().to_string());
        }
        let next = b["link"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(|u| u[u.find("/fhir/").unwrap()..].to_string());
        match next {
            Some(n) if tasks.len() < MAX_TASKS => path = n,
            _ => break,
        }
    }
    assert!(!tasks.is_empty(), "the lifecycle load made no referral");
    eprintln!(
        "fhir_read: {} s of need-case lookups (GraphQL), then {} s of Task reads (FHIR) over {} Tasks",
        duration.as_secs(),
        duration.as_secs(),
        tasks.len()
    );
    let graphql = needcase_lookups(&server.addr, &server.token, ids, duration).await;
    let tasks = Arc::new(tasks);
    let fhir = drive(&server.addr, &server.token, duration, move |i| {
        let tasks = tasks.clone();
        let mut k = i * 7919;
        Box::new(move || {
            k = (k + 104_729) % tasks.len();
            Req::Get(format!("/fhir/Task/{}", tasks[k]))
        })
    })
    .await;
    drop(server);
    report(
        "fhir_read",
        fhir.per_sec,
        "reads/s",
        Some(graphql.per_sec),
        &format!(
            "graphql_query's needCase lookups on the same server, same run, same 64 connections (p99 {:.2} ms, {} errors); ratio {:.2}; {} FHIR error answers",
            graphql.p99_ms,
            graphql.errors,
            fhir.per_sec / graphql.per_sec.max(1e-9),
            fhir.errors
        ),
        Some(fhir.p99_ms),
        ">= 0.8 x graphql_query of the same run, no errors",
    );
}

/// `cases` need cases (six events each, their own ids) written with 8 writers.
async fn fill(store: &careledger_infra::sqlite::SqliteEventStore, cases: usize) {
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let mine = cases / 8 + usize::from(w < cases % 8);
        tasks.push(tokio::spawn(async move {
            let metadata = EventMetadata {
                occurred_at: chrono::Utc::now(),
                actor: Actor {
                    subject: "bench-coordinator".into(),
                    role: Role::Coordinator,
                },
                site: Some(SiteId::parse("be-leuven").unwrap()),
                correlation_id: Uuid::now_v7(),
                causation_id: None,
            };
            let mut done = 0;
            while done < mine {
                let round = (mine - done).min(100);
                let mut pending = Vec::with_capacity(round);
                for _ in 0..round {
                    let life: Vec<NewEvent> = lifecycle()
                        .into_iter()
                        .map(|event| NewEvent {
                            id: EventId::from_uuid(Uuid::now_v7()),
                            event,
                            metadata: metadata.clone(),
                        })
                        .collect();
                    let id = match &life[0].event {
                        careledger_domain::DomainEvent::NeedCase(
                            careledger_domain::need_case::NeedCaseEvent::NeedIdentified(n),
                        ) => n.need_case,
                        _ => unreachable!("a life starts with its identification"),
                    };
                    pending.push(store.append(
                        StreamName::need_case(id),
                        ExpectedVersion::NoStream,
                        life,
                    ));
                }
                for p in pending {
                    p.await.unwrap();
                }
                done += round;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

pub async fn fhir_export(dir: &Path, cases: usize) {
    let path = dir.join("careledger.sqlite");
    let store = open_store(&path);
    eprintln!("fhir_export: writing {cases} need cases");
    fill(&store, cases).await;
    // The comparison point: replaying (reading and decoding) the same log.
    let t = Instant::now();
    let mut after = Position::START;
    let mut events = 0u64;
    loop {
        let page = store.read_all(after, 16_384).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        events += page.len() as u64;
    }
    let replay = events as f64 / t.elapsed().as_secs_f64();
    store.close().await;
    drop(store);
    eprintln!("fhir_export: exporting");
    let out = dir.join("fhir");
    let t = Instant::now();
    let stdout = super::server::export_fhir(dir, &out);
    let end_to_end = t.elapsed().as_secs_f64();
    // "wrote N FHIR resources to … in S s (R resources/s)"
    let total: f64 = stdout
        .split("wrote ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("export-fhir's summary line");
    let rate: f64 = stdout
        .split(" s (")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("export-fhir's rate");
    report(
        "fhir_export",
        rate,
        "resources/s",
        Some(replay),
        &format!(
            "replay (read and decode) of the same {events}-event log, events/s, same run; {total} resources from {cases} need cases; end to end (folding the log into read models first): {:.0} resources/s, {end_to_end:.1} s",
            total / end_to_end
        ),
        None,
        "reported beside replay (no target)",
    );
}
