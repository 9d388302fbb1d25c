//! Abuse limits at the HTTP edge: a per-credential rate limit (429 with
//! `Retry-After` and `RATE_LIMITED`, nothing written) and a request time limit
//! (503 `REQUEST_TIMEOUT`).

use crate::api::{Server, v7};
use crate::helpers::run_to_end;
use serde_json::json;
use std::time::{Duration, Instant};

fn post(s: &Server, token: &str, query: &str, variables: serde_json::Value) -> crate::api::Answer {
    let body = json!({ "query": query, "variables": variables }).to_string();
    let auth = format!("Bearer {token}");
    s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        Some(body.as_bytes()),
    )
}

#[test]
fn a_credential_over_its_rate_is_refused_with_429_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "1", "--rate-limit-burst", "3"],
    );
    let other = run_to_end(
        &["token", "--sub", "nurse-2", "--role", "coordinator"],
        dir.path(),
    );
    assert!(other.success, "{}", other.stderr);
    let other = other.stdout.trim().to_string();
    let q = "{ projections { head } }";
    for _ in 0..3 {
        assert_eq!(post(&s, &s.token, q, json!({})).status, 200);
    }
    let head = || {
        let a = post(&s, &other, q, json!({}));
        assert_eq!(
            a.status, 200,
            "another credential is not limited: {}",
            a.body
        );
        a.json()["data"]["projections"]["head"].clone()
    };
    let before = head();
    // The admin's bucket is empty: a mutation is refused before it runs.
    let m = "mutation($i: RegisterCareRecipientInput!) { registerCareRecipient(input: $i) { position } }";
    let input = json!({ "i": { "idempotencyKey": v7(), "site": "be-leuven", "birthYear": 1950, "sex": "FEMALE",
        "country": "BE", "postalCode": "3000", "language": "nl" } });
    let a = post(&s, &s.token, m, input);
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "RATE_LIMITED",
        "{}",
        a.body
    );
    let retry: u64 = a
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(head(), before, "the refused mutation wrote nothing");
    // After the wait, the credential may go on.
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(post(&s, &s.token, q, json!({})).status, 200);
}

#[test]
fn a_request_running_past_the_time_limit_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--request-timeout-ms",
            "300",
            "--consistency-timeout-ms",
            "5000",
        ],
    );
    // Waiting for a position the log never reaches runs into the request limit first.
    let started = Instant::now();
    let a = post(
        &s,
        &s.token,
        "query($p: Position) { needCases(minPosition: $p, first: 1) { totalCount } }",
        json!({ "p": "999999" }),
    );
    let took = started.elapsed();
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "REQUEST_TIMEOUT",
        "{}",
        a.body
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The server goes on answering.
    assert_eq!(
        post(&s, &s.token, "{ projections { head } }", json!({})).status,
        200
    );
}
