//! Several `careledger serve` processes on one PostgreSQL database: stateless API
//! replicas, one projection leader at a time, failover when the leader is killed.
//!
//! Needs `CARELEDGER_TEST_PG_URL`; without it the test says why it did not run,
//! except in CI (`CI` set), where it fails.

use crate::api::{Server, v7};
use crate::helpers::run_to_end;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const URL_VAR: &str = "CARELEDGER_TEST_PG_URL";
const SECRET: &str = "0123456789abcdef0123456789abcdef-replica-test-secret";

pub(crate) fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set: CI must run the PostgreSQL tests")
        }
        _ => {
            eprintln!("PostgreSQL replica test not run: set {URL_VAR}");
            None
        }
    }
}

fn wait_until(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ok(p: &Value) -> &Value {
    assert_eq!(p["userErrors"], json!([]), "{p}");
    p
}

fn register(s: &Server) -> String {
    let p = s.mutate(
        "registerCareRecipient",
        json!({ "idempotencyKey": v7(), "site": "be-leuven", "birthYear": 1961, "sex": "MALE",
                "country": "BE", "postalCode": "3000", "language": "nl",
                "preferentialReimbursement": "NO", "deprivationDecile": 4, "cancerSiteGroup": "LUNG" }),
        "careRecipient { id }",
    );
    ok(&p)["careRecipient"]["id"].as_str().unwrap().to_string()
}

fn identify(s: &Server, recipient: &str, need: &str) -> u64 {
    let p = s.mutate(
        "identifyNeed",
        json!({ "idempotencyKey": v7(), "recipientId": recipient, "needCode": need }),
        "needCase { needCaseId }",
    );
    ok(&p)["position"].as_str().unwrap().parse().unwrap()
}

/// The recipient's need cases as one server's read model shows them, once it has
/// folded up to `position`.
fn need_cases(s: &Server, recipient: &str, position: u64) -> Vec<String> {
    let d = s.data(
        "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { needCases { needCaseId version } } }",
        json!({ "id": recipient, "p": position.to_string() }),
    );
    let mut ids: Vec<String> = d["careRecipient"]["needCases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["version"], json!(0), "one event per need case: {n}");
            n["needCaseId"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn replicas_share_one_database_and_a_killed_leader_is_replaced_within_seconds() {
    let Some(url) = url() else { return };
    let schema = format!("e2e_{}", uuid::Uuid::now_v7().simple());
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = [
        "--store",
        url.as_str(),
        "--pg-schema",
        schema.as_str(),
        "--jwt-secret",
        SECRET,
        "--disclosure-secret",
        SECRET,
        "--checkpoint-secs",
        "1",
    ];
    let token = run_to_end(
        &[
            "token",
            "--jwt-secret",
            SECRET,
            "--role",
            "coordinator",
            "--sub",
            "replica-test",
        ],
        dirs[0].path(),
    );
    assert!(token.success, "{}", token.stderr);
    let token = token.stdout.trim().to_string();

    let a = Server::start_with_token(dirs[0].path(), &args, &token);
    wait_until("the first server leads", Duration::from_secs(10), || {
        a.metric("careledger_projection_leader") == 1
    });
    let b = Server::start_with_token(dirs[1].path(), &args, &token);
    b.wait_ready();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        b.metric("careledger_projection_leader"),
        0,
        "one leader at a time"
    );

    // Writes through either replica; each reads the other's writes.
    let recipient = register(&a);
    let mut cases = Vec::new();
    let mut last = 0;
    for (i, need) in [
        "psy.fear-of-recurrence",
        "soc.financial-hardship",
        "psy.anxiety",
    ]
    .iter()
    .enumerate()
    {
        last = identify(if i % 2 == 0 { &a } else { &b }, &recipient, need);
        cases.push(last);
    }
    assert_eq!(
        need_cases(&a, &recipient, last),
        need_cases(&b, &recipient, last)
    );
    // Personal data sealed through one replica opens on the other (one shared key
    // vault); erased through that one, it is gone from both.
    let admin = run_to_end(
        &[
            "token",
            "--jwt-secret",
            SECRET,
            "--role",
            "admin",
            "--sub",
            "replica-admin",
        ],
        dirs[0].path(),
    );
    assert!(admin.success, "{}", admin.stderr);
    let admin = admin.stdout.trim().to_string();
    let p = a.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1944, "sex": "FEMALE", "country": "BE", "postalCode": "3000",
                "language": "nl", "personalData": { "givenName": "Godelieve", "email": "g@example.be" } }),
        "careRecipient { id }",
    );
    let named = ok(&p)["careRecipient"]["id"].as_str().unwrap().to_string();
    let at: u64 = p["position"].as_str().unwrap().parse().unwrap();
    let personal = |s: &Server, at: u64| {
        s.data(
            "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { erased personalData { givenName } } }",
            json!({ "id": named, "p": at.to_string() }),
        )["careRecipient"]
            .clone()
    };
    assert_eq!(
        personal(&b, at),
        json!({ "erased": false, "personalData": { "givenName": "Godelieve" } })
    );
    let e = b.data_as(
        &admin,
        "mutation($i: EraseCareRecipientInput!) { eraseCareRecipient(input: $i) { position userErrors { code } } }",
        json!({ "i": { "recipientId": named } }),
    )["eraseCareRecipient"]
        .clone();
    let erased_at: u64 = ok(&e)["position"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        personal(&a, erased_at),
        json!({ "erased": true, "personalData": null })
    );
    last = erased_at;

    wait_until("the leader checkpoints", Duration::from_secs(10), || {
        a.metric("careledger_projection_checkpoint_position") >= last
    });

    // Kill the leader outright: no shutdown, its session (and lock) just ends.
    let mut a = a;
    a.running.child.kill().unwrap();
    a.running.child.wait().unwrap();
    let killed = Instant::now();
    wait_until(
        "the other server takes the lead",
        Duration::from_secs(10),
        || b.metric("careledger_projection_leader") == 1,
    );
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(5), "failover took {took:?}");

    // The projection keeps advancing under the new leader, and checkpoints follow.
    for need in ["med.pain", "soc.transport"] {
        last = identify(&b, &recipient, need);
    }
    wait_until(
        "the new leader checkpoints the new events",
        Duration::from_secs(10),
        || b.metric("careledger_projection_checkpoint_position") >= last,
    );
    let seen_by_b = need_cases(&b, &recipient, last);
    assert_eq!(seen_by_b.len(), 5, "each need case once: {seen_by_b:?}");

    // A new replica starts from the new leader's checkpoint in the database and
    // holds exactly the same: nothing applied twice, nothing missed.
    let c = Server::start_with_token(dirs[2].path(), &args, &token);
    c.wait_ready();
    assert_eq!(need_cases(&c, &recipient, last), seen_by_b);
    assert_eq!(b.head(), last);
    assert_eq!(c.head(), last);
    drop(b);
    drop(c);
    let _ = std::process::Command::new("psql")
        .args([
            url.as_str(),
            "-qc",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        ])
        .output();
}
