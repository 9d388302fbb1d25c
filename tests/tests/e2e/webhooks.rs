//! Webhook notifications (issue 17), end to end: a receiver on 127.0.0.1 gets
//! every change of referrals' lives — across a `kill -9` of the server in the
//! middle of the stream — exactly once per idempotency id (a repeat carries the
//! same id and the same bytes), in log order, each signed with the
//! subscription's secret; a receiver that fails is retried and the failures show
//! in `/metrics`; refused subscriptions write nothing.

use crate::api::{Server, v7};
use crate::live::{referred, service_of};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a70";
pub(crate) const SECRET: &str = "e2e-webhook-secret-0123456789abcdef-xyz";
pub(crate) const PUBLIC: &str = "http://careledger.test";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    idempotency: String,
    signature: String,
    body: Vec<u8>,
}

/// An HTTP receiver on 127.0.0.1: answers 500 to the first `fail` requests,
/// then 200, each after `delay`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Got>>>,
    fail: Arc<AtomicU32>,
}

impl Receiver {
    pub(crate) fn start(fail: u32, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicU32::new(fail));
        let (g, f) = (got.clone(), fail.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = BTreeMap::new();
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
                }
                let len: usize = headers["content-length"].parse().unwrap();
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                std::thread::sleep(delay);
                let failing = f
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                g.lock().unwrap().push(Got {
                    idempotency: headers["idempotency-key"].clone(),
                    signature: headers["x-careledger-signature"].clone(),
                    body,
                });
                let status = if failing { "500 Busy" } else { "200 OK" };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        Receiver { url, got, fail }
    }

    pub(crate) fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` distinct idempotency ids were taken (answered 200).
    pub(crate) fn wait_for_distinct(&self, n: usize) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.got();
            let mut ids: Vec<&str> = got.iter().map(|g| g.idempotency.as_str()).collect();
            ids.sort();
            ids.dedup();
            if ids.len() >= n && self.fail.load(Ordering::SeqCst) == 0 {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n}: {got:?}", ids.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// HMAC-SHA256, written out from RFC 2104 (independent of the server's).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn subscribe(s: &Server, endpoint: &str) -> String {
    let v = s.admin_mutate(
        "createWebhookSubscription",
        json!({ "name": "Regional portal", "endpoint": endpoint, "secret": SECRET,
                "ownerOrganisationIds": [ORG], "requesterSites": ["be-liege"] }),
        "webhookSubscription { id channelType payload active }",
    );
    assert_eq!(v["userErrors"], json!([]), "{v}");
    assert_eq!(v["webhookSubscription"]["channelType"], "rest-hook");
    assert_eq!(v["webhookSubscription"]["payload"], "id-only");
    v["webhookSubscription"]["id"].as_str().unwrap().to_string()
}

pub(crate) fn answer(s: &Server, step: &str, need_case: &str, referral: &str) {
    let mut input = json!({ "needCaseId": need_case, "referralId": referral });
    if step == "completeReferral" {
        input["outcome"] = json!("NEED_MET");
    }
    let v = s.mutate(step, input, "userErrors { code }");
    assert_eq!(v["userErrors"], json!([]), "{step}: {v}");
}

pub(crate) fn metric_line(s: &Server, name: &str, sub: &str) -> f64 {
    let text = s.http("/metrics", &[], None).body;
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(sub))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} for {sub} in\n{text}"))
}

const ARGS: [&str; 8] = [
    "--webhook-retry-first-ms",
    "50",
    "--webhook-retry-max-ms",
    "400",
    "--public-url",
    PUBLIC,
    "--rate-limit",
    "0",
];

#[test]
fn a_receiver_gets_every_change_once_per_idempotency_id_across_a_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(2, Duration::from_millis(150));
    let s = Server::start(data.path(), &ARGS);
    let service = service_of(&s, ORG);
    let sub = subscribe(&s, &receiver.url);

    // Before the crash: a referral requested, accepted and started; another
    // site's referral (not for this subscription).
    let (n1, r1) = referred(&s, "be-liege", &service);
    referred(&s, "be-leuven", &service);
    answer(&s, "acceptReferral", &n1, &r1);
    answer(&s, "startReferral", &n1, &r1);
    // The first two attempts failed and were retried: the failures show.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.fail.load(Ordering::SeqCst) > 0 {
        assert!(Instant::now() < deadline, "the receiver was not retried");
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric_line(&s, "careledger_webhook_deliveries_total", &sub) < 1.0 {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        metric_line(&s, "careledger_webhook_delivery_failures_total", &sub),
        2.0
    );
    // The receiver is slow: some notifications still wait when the server dies.
    let mut s = s;
    let (admin, token) = (s.admin.clone(), s.token.clone());
    s.running.child.kill().unwrap();
    s.running.child.wait().unwrap();
    let taken_before = receiver.got().len();
    let mut before: Vec<String> = receiver.got().into_iter().map(|g| g.idempotency).collect();
    before.dedup();
    assert!(before.len() < 3, "the kill came mid-stream: {before:?}");

    let mut s = Server::restart_with(data.path(), &token, &ARGS);
    s.admin = admin;
    answer(&s, "completeReferral", &n1, &r1);
    let (n2, r2) = referred(&s, "be-liege", &service);
    answer(&s, "acceptReferral", &n2, &r2);

    // Requested, accepted, started, completed; requested, accepted.
    let got = receiver.wait_for_distinct(6);
    assert!(got.len() > taken_before);
    std::thread::sleep(Duration::from_millis(500));
    verify(&receiver.got(), &sub, &[&r1, &r1, &r1, &r1, &r2, &r2]);
    // Caught up on the restarted server: nothing waits, nothing fails.
    assert_eq!(metric_line(&s, "careledger_webhook_lag_seconds", &sub), 0.0);
    assert_eq!(
        metric_line(&s, "careledger_webhook_consecutive_failures", &sub),
        0.0
    );
    let list = s.data_as(
        &s.admin,
        "{ webhookSubscriptions { id active endpoint } }",
        json!({}),
    );
    assert_eq!(list["webhookSubscriptions"][0]["id"], json!(sub));
    assert!(
        !s.http("/metrics", &[], None).body.contains(SECRET),
        "the secret never shows"
    );
}

/// What `got` holds is, in order of first arrival, one notification per change
/// of `referrals` (one entry per change, naming its referral), numbered 1, 2, …
/// in log order, each signed over its body; a repeat has the same id and bytes.
pub(crate) fn verify(got: &[Got], sub: &str, referrals: &[&String]) {
    let mut first_seen: Vec<String> = Vec::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for g in got {
        assert_eq!(
            g.signature,
            format!("sha256={}", hmac_sha256(SECRET.as_bytes(), &g.body)),
            "every notification is signed over its body"
        );
        let earlier = bodies
            .entry(g.idempotency.clone())
            .or_insert(g.body.clone());
        assert_eq!(*earlier, g.body, "a repeat is the same notification");
        if !first_seen.contains(&g.idempotency) {
            first_seen.push(g.idempotency.clone());
        }
    }
    assert_eq!(
        first_seen.len(),
        referrals.len(),
        "exactly one notification per change: {first_seen:?}"
    );
    for (i, (id, referral)) in first_seen.iter().zip(referrals).enumerate() {
        let b: Value = serde_json::from_slice(&bodies[id]).unwrap();
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "history");
        let params = &b["entry"][0]["resource"]["parameter"];
        assert_eq!(
            params[0]["valueReference"]["reference"],
            format!("Subscription/{sub}")
        );
        assert_eq!(
            params[4]["valueString"],
            (i + 1).to_string(),
            "event numbers count on, in order, across restarts"
        );
        let url = b["entry"][1]["fullUrl"].as_str().unwrap();
        assert!(url.starts_with(&format!("{PUBLIC}/fhir/Task/")), "{url}");
        assert!(url.ends_with(&referral.replace('-', "")), "{i}: {url}");
        assert!(b["entry"][1].get("resource").is_none(), "id-only");
    }
    let positions: Vec<u64> = first_seen
        .iter()
        .map(|id| id.split_once('.').unwrap().1.parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "log order");
}

/// Refused subscriptions are user errors that write nothing and never quote the
/// secret (who may manage them at all is the matrix's: administrators only).
#[test]
fn bad_subscriptions_are_refused_and_write_nothing() {
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let head = s.head();
    for (input, code) in [
        (
            json!({ "endpoint": "https://example.org/hook" }),
            "UNSUPPORTED_WEBHOOK_SCHEME",
        ),
        (
            json!({ "endpoint": "file:///etc/passwd" }),
            "INVALID_WEBHOOK_ENDPOINT",
        ),
        (
            json!({ "endpoint": "http://u:p@127.0.0.1/" }),
            "INVALID_WEBHOOK_ENDPOINT",
        ),
        (json!({ "secret": "short" }), "INVALID_WEBHOOK_SECRET"),
        (json!({ "requesterSites": ["NOT A SITE"] }), "INVALID_SITE"),
        (json!({ "ownerOrganisationIds": ["x"] }), "INVALID_ID"),
    ] {
        let mut full = json!({ "name": "portal", "endpoint": "http://127.0.0.1:9/",
                               "secret": SECRET, "idempotencyKey": v7() });
        full.as_object_mut()
            .unwrap()
            .extend(input.as_object().unwrap().clone());
        let v = s.admin_mutate(
            "createWebhookSubscription",
            full,
            "webhookSubscription { id }",
        );
        assert_eq!(v["userErrors"][0]["code"], code, "{v}");
        assert!(
            !v.to_string().contains(SECRET),
            "a refusal never quotes the secret"
        );
    }
    assert_eq!(s.head(), head, "nothing written");
}
