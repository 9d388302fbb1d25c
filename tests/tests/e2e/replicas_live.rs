//! Live updates on every replica (issue 16): two `careledger serve` processes on
//! one PostgreSQL database; a subscription held by one receives the change a
//! mutation made through the other (each replica folds the log itself).
//!
//! Needs `CARELEDGER_TEST_PG_URL` (as `replicas.rs`; in CI it must be set).

use crate::api::{Server, v7};
use crate::helpers::run_to_end;
use serde_json::json;

const SECRET: &str = "0123456789abcdef0123456789abcdef-replica-live-secret";

#[test]
fn a_subscription_on_one_replica_receives_what_another_wrote() {
    let Some(url) = crate::replicas::url() else {
        return;
    };
    let schema = format!("e2e_{}", uuid::Uuid::now_v7().simple());
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = [
        "--store",
        url.as_str(),
        "--pg-schema",
        schema.as_str(),
        "--jwt-secret",
        SECRET,
        "--disclosure-secret",
        SECRET,
    ];
    let token = run_to_end(
        &[
            "token",
            "--jwt-secret",
            SECRET,
            "--role",
            "coordinator",
            "--sub",
            "live-replica",
        ],
        dirs[0].path(),
    );
    assert!(token.success, "{}", token.stderr);
    let token = token.stdout.trim().to_string();
    let a = Server::start_with_token(dirs[0].path(), &args, &token);
    let b = Server::start_with_token(dirs[1].path(), &args, &token);
    b.wait_ready();
    let after = b.head();

    // B follows the site from the log's head; A writes.
    let query = format!(
        "subscription {{ worklistChanged(site: \"be-leuven\", after: \"{after}\") {{ position needCaseId event }} }}"
    );
    let base = b.base.clone();
    let follower = std::thread::scope(|scope| {
        let waiting = scope.spawn(|| crate::matrix_live::first_answer(&base, &token, &query));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let r = a.mutate(
            "registerCareRecipient",
            json!({ "idempotencyKey": v7(), "site": "be-leuven", "birthYear": 1961, "sex": "MALE",
                    "country": "BE", "postalCode": "3000", "language": "nl" }),
            "careRecipient { id }",
        );
        let recipient = r["careRecipient"]["id"].as_str().unwrap().to_string();
        let n = a.mutate(
            "identifyNeed",
            json!({ "idempotencyKey": v7(), "recipientId": recipient, "needCode": "psy.anxiety" }),
            "needCase { needCaseId }",
        );
        let id = n["needCase"]["needCaseId"].as_str().unwrap().to_string();
        (waiting.join().unwrap(), id, n["position"].clone())
    });
    let (message, need_case, position) = follower;
    assert_eq!(message["type"], json!("next"), "{message}");
    let change = &message["payload"]["data"]["worklistChanged"];
    assert_eq!(change["needCaseId"], json!(need_case), "{message}");
    assert_eq!(change["event"], json!("NeedIdentified"), "{message}");
    assert_eq!(change["position"], position, "{message}");
}
