//! `subscription_fanout` (issue 16): live subscribers while the `graphql_mutation`
//! load runs. The server runs as a child process (see `graphql`); this process
//! drives the mutations and holds the subscribers, over loopback.
//!
//! 1,000 WebSocket clients (tokio-tungstenite, speaking graphql-transport-ws),
//! 100 at each of 10 sites, each subscribed to `referralUpdated(site)`; 64
//! connections run the need-case lifecycle, spread over the 10 sites. The load
//! runs twice in the same server: without subscribers, then with them. Reported:
//! the throughput with subscribers and, as the comparison point, without; the
//! delivery latency per change received, measured from when the mutation that
//! wrote it was *sent* (an upper bound of commit → client; the mutation's own
//! answer time is printed beside it). Every subscriber must receive every
//! referral change of its site, once: the scenario checks the counts.

use super::graphql::{CONNECTIONS, Conn, Lifecycle, has_error, p99_ms, start_server};
use super::report;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SITES: [&str; 10] = [
    "be-leuven",
    "be-liege",
    "be-gent",
    "be-brussel",
    "de-koeln",
    "de-aachen",
    "de-bonn",
    "nl-maastricht",
    "nl-heerlen",
    "nl-venlo",
];

/// Per referral change written: when its mutation was sent and answered, at which site.
type Written = HashMap<u64, (Instant, Instant, usize)>;

/// The figure after `"position":"` in a JSON text.
fn position_in(text: &str) -> Option<u64> {
    let rest = text.split("\"position\":\"").nth(1)?;
    rest.split('"').next()?.parse().ok()
}

struct Load {
    per_sec: f64,
    p99_ms: f64,
    errors: usize,
    written: Written,
}

/// The lifecycle load over `CONNECTIONS` connections spread over the sites.
async fn load(addr: &str, token: &str, duration: Duration) -> Load {
    let written = Arc::new(Mutex::new(Written::new()));
    let start = Instant::now() + Duration::from_millis(300);
    let end = start + duration;
    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let (addr, token, written) = (addr.to_string(), token.to_string(), written.clone());
        tasks.push(tokio::spawn(async move {
            let site = i % SITES.len();
            let mut conn = Conn::open(&addr, &token).await;
            let mut life = Lifecycle::at(SITES[site]);
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < end {
                let moves = life.next_moves_a_referral();
                let body = life.next_body();
                let sent = Instant::now();
                let (status, resp) = conn.post(&body).await;
                let answered = Instant::now();
                if status != 200 || has_error(&resp) {
                    errors += 1;
                }
                if moves && let Some(p) = position_in(std::str::from_utf8(&resp).unwrap_or("")) {
                    written.lock().unwrap().insert(p, (sent, answered, site));
                }
                if sent >= start {
                    lat.push((answered - sent).as_micros().min(u128::from(u32::MAX)) as u32);
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let written = std::mem::take(&mut *written.lock().unwrap());
    Load {
        per_sec: all.len() as f64 / duration.as_secs_f64(),
        p99_ms: p99_ms(&mut all),
        errors,
        written,
    }
}

/// One subscriber: connects, subscribes to its site after `after`, and records
/// each change's position and arrival until `stop`.
async fn subscriber(
    addr: String,
    token: String,
    site: &'static str,
    after: u64,
    ready: Arc<tokio::sync::Semaphore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(u64, Instant)> {
    use ws_client::*;
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    // A small read buffer: tungstenite zero-fills the whole buffer before each
    // read (128 KiB by default), which made the clients the bottleneck.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(16 * 1024);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .expect("a WebSocket");
    let init = serde_json::json!({ "type": "connection_init",
        "payload": { "authorization": format!("Bearer {token}") } });
    send(&mut ws, init.to_string()).await;
    let ack = next_text(&mut ws).await.expect("connection_ack");
    assert!(ack.contains("connection_ack"), "{ack}");
    let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($site: String, $after: Position) { referralUpdated(site: $site, after: $after) { position status } }",
        "variables": { "site": site, "after": after.to_string() } } });
    send(&mut ws, subscribe.to_string()).await;
    ready.add_permits(1);
    let mut got = Vec::new();
    loop {
        tokio::select! {
            m = next_text(&mut ws) => match m {
                Some(text) => {
                    let at = Instant::now();
                    assert!(text.contains("\"next\""), "{text}");
                    got.push((position_in(&text).expect("a position"), at));
                }
                None => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    let _ = ws.close(None).await;
    got
}

/// Small helpers over the client socket.
mod ws_client {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    pub type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    pub async fn send(ws: &mut Ws, text: String) {
        ws.send(Message::Text(text.into())).await.expect("send");
    }

    pub async fn next_text(ws: &mut Ws) -> Option<String> {
        loop {
            match ws.next().await? {
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

pub async fn subscription_fanout(dir: &Path, duration: Duration, subscribers: usize) {
    eprintln!(
        "subscription_fanout: {CONNECTIONS} connections of mutations, {} s without and {} s with {subscribers} subscribers over {} sites",
        duration.as_secs(),
        duration.as_secs(),
        SITES.len()
    );
    let server = start_server(dir);
    let without = load(&server.addr, &server.token, duration).await;

    let mut conn = Conn::open(&server.addr, &server.token).await;
    let (_, b) = conn.post(r#"{"query":"{ projections { head } }"}"#).await;
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    let after: u64 = v["data"]["projections"]["head"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("the head");
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut subs = Vec::new();
    // In batches: every client here has one address, and the server lets one
    // address hold only so many connections at once while they upgrade.
    for i in 0..subscribers {
        let site = i % SITES.len();
        subs.push((
            site,
            tokio::spawn(subscriber(
                server.addr.clone(),
                server.token.clone(),
                SITES[site],
                after,
                ready.clone(),
                stopped.clone(),
            )),
        ));
        if (i + 1) % 100 == 0 || i + 1 == subscribers {
            // A subscriber that cannot connect panics in its task: fail here
            // rather than wait for it for ever.
            let batch = tokio::time::timeout(
                Duration::from_secs(60),
                ready.acquire_many((i % 100 + 1) as u32),
            )
            .await
            .expect("every subscriber of the batch subscribed within 60 s")
            .expect("the semaphore is open");
            batch.forget();
        }
    }
    let with = load(&server.addr, &server.token, duration).await;
    // Let the last deliveries arrive, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send_replace(true);

    let mut per_site_written = [0usize; SITES.len()];
    for (_, _, site) in with.written.values() {
        per_site_written[*site] += 1;
    }
    let (mut from_sent, mut from_answered) = (Vec::new(), Vec::new());
    let (mut missing, mut extra) = (0usize, 0usize);
    for (site, task) in subs {
        let got = task.await.expect("a subscriber");
        let mut seen = std::collections::HashSet::new();
        for (p, at) in &got {
            if !seen.insert(*p) {
                extra += 1;
                continue;
            }
            match with.written.get(p) {
                Some((sent, answered, s)) if *s == site => {
                    from_sent.push((*at - *sent).as_micros().min(u128::from(u32::MAX)) as u32);
                    from_answered.push(
                        at.saturating_duration_since(*answered)
                            .as_micros()
                            .min(u128::from(u32::MAX)) as u32,
                    );
                }
                _ => extra += 1,
            }
        }
        missing += per_site_written[site].saturating_sub(seen.len());
    }
    drop(server);
    let deliveries = from_sent.len();
    let p99_sent = p99_ms(&mut from_sent);
    report(
        "subscription_fanout",
        with.per_sec,
        "mutations/s",
        Some(without.per_sec),
        &format!(
            "the same lifecycle load in the same server without subscribers (p99 {:.2} ms; with: {:.2} ms); {subscribers} subscribers over {} sites received {deliveries} changes, {missing} missing, {extra} unexpected or repeated; delivery p99 from the mutation's send {:.2} ms (from its answer {:.2} ms); {} error answers",
            without.p99_ms,
            with.p99_ms,
            SITES.len(),
            p99_sent,
            p99_ms(&mut from_answered),
            with.errors + without.errors
        ),
        Some(p99_sent),
        ">= 0.8 x without subscribers, delivery p99 <= 100 ms, none missing or repeated",
    );
}
