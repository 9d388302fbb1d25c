//! `dashboard_page` (issue 18): the server's time to render the whole equity
//! dashboard (four released tables — rates, times, the monthly trend, the
//! two-way table — and five SVG charts) over a log of generated need cases
//! (1,000,000 in a full run), measured as the page's latency over one
//! keep-alive connection on the same machine, stratifier and outcome varying.
//! The comparison point, in the same run on the same server: the GraphQL
//! `equity` table of the same stratifier and outcome (one of the page's four
//! tables).

use super::events::open_store;
use super::graphql::{Conn, p99_ms};
use super::{report, server};
use careledger_domain::store::{EventStore, ExpectedVersion, NewEvent};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

const STRATIFIERS: [&str; 11] = [
    "age_band",
    "sex",
    "region",
    "country",
    "language",
    "preferential_reimbursement",
    "deprivation_quintile",
    "recipient_kind",
    "site",
    "cancer_site_group",
    "domain",
];
const OUTCOMES: [&str; 4] = [
    "referral_rate",
    "completion_rate",
    "unmet_need_rate",
    "rejection_rate",
];

/// Writes the generated need cases, one append per need case, 100 at a time.
async fn fill(dir: &Path, cases: usize) {
    eprintln!("dashboard_page: generating and writing {cases} need cases");
    let events = super::equity::generate(cases);
    let store = open_store(&dir.join("careledger.sqlite"));
    let mut streams: Vec<(careledger_domain::store::StreamName, Vec<NewEvent>)> = Vec::new();
    for e in events {
        // The generator's ids are not unique (the fold never needed them to be).
        let new = NewEvent {
            id: careledger_domain::ids::EventId::from_uuid(uuid::Uuid::now_v7()),
            event: e.event,
            metadata: e.metadata,
        };
        match streams.last_mut() {
            Some((s, v)) if *s == e.stream => v.push(new),
            _ => streams.push((e.stream, vec![new])),
        }
    }
    let mut it = streams.into_iter().peekable();
    while it.peek().is_some() {
        let round: Vec<_> = it.by_ref().take(100).collect();
        let pending: Vec<_> = round
            .into_iter()
            .map(|(s, v)| store.append(s, ExpectedVersion::NoStream, v))
            .collect();
        for p in pending {
            p.await.unwrap();
        }
    }
    store.close().await;
}

/// One blocking HTTP/1.1 exchange on `conn`: status, `Set-Cookie`, body.
fn exchange(conn: &mut std::net::TcpStream, req: &str) -> (u16, Option<String>, Vec<u8>) {
    conn.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = conn.read(&mut chunk).unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let cookie = head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
                .map(|(_, v)| v.trim().split(';').next().unwrap().to_string())
        });
        return (status, cookie, buf[end + 4..end + 4 + len].to_vec());
    }
}

pub async fn dashboard_page(dir: &Path, cases: usize, renders: usize) {
    fill(dir, cases).await;
    let data = dir.to_str().unwrap();
    let s = server::serve(&[
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--rate-limit",
        "0",
    ]);
    eprintln!("dashboard_page: waiting for the server to fold the log");
    let mut probe = Conn::open(&s.addr, "none").await;
    let started = Instant::now();
    while probe.get("/readyz").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the server never got ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let qm = server::token(dir, "bench-qm", "quality_manager", 24);
    let mut conn = std::net::TcpStream::connect(&s.addr).unwrap();
    conn.set_nodelay(true).unwrap();
    let body = format!("token={qm}");
    let (status, cookie, _) = exchange(
        &mut conn,
        &format!(
            "POST /dashboard/session HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len(),
            a = s.addr
        ),
    );
    assert_eq!(status, 303, "sign-in refused");
    let cookie = cookie.expect("a session cookie");
    // The page, stratifier and outcome varying (the second stratifier too).
    let mut page = Vec::with_capacity(renders);
    let mut bytes = 0;
    for i in 0..renders + 5 {
        let (by, by2) = (STRATIFIERS[i % 11], STRATIFIERS[(i + 3) % 11]);
        let path = format!("/dashboard?by={by}&by2={by2}&outcome={}", OUTCOMES[i % 4]);
        let t = Instant::now();
        let (status, _, b) = exchange(
            &mut conn,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
                s.addr
            ),
        );
        let took = t.elapsed();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
        if i >= 5 {
            page.push(took.as_micros() as u32);
            bytes += b.len();
        }
    }
    // The comparison point: the page's first table alone, through GraphQL.
    let mut gql = Conn::open(&s.addr, &qm).await;
    let mut table = Vec::with_capacity(renders);
    for i in 0..renders + 5 {
        let q = format!(
            r#"{{"query":"{{ equity(by: {}, outcome: {}) {{ groups {{ group rate rateLow rateHigh }} summary {{ overallRate }} }} }}"}}"#,
            STRATIFIERS[i % 11].to_uppercase(),
            OUTCOMES[i % 4].to_uppercase()
        );
        let t = Instant::now();
        let (status, _) = gql.post(&q).await;
        let took = t.elapsed();
        assert_eq!(status, 200);
        if i >= 5 {
            table.push(took.as_micros() as u32);
        }
    }
    drop(s);
    let mean = page.iter().map(|&x| f64::from(x)).sum::<f64>() / page.len() as f64 / 1000.0;
    let p99 = p99_ms(&mut page);
    let table_p99 = p99_ms(&mut table);
    report(
        "dashboard_page",
        p99,
        "ms (p99)",
        Some(table_p99),
        &format!(
            "the page's first table alone as a GraphQL equity query, p99 ms, same server, same run; {renders} pages over {cases} need cases (mean {mean:.1} ms, {:.0} KB each)",
            bytes as f64 / renders as f64 / 1024.0
        ),
        Some(p99),
        "p99 <= 50 ms",
    );
}
