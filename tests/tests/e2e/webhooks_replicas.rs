//! Webhook notifications with several servers on one PostgreSQL database: only
//! the server that leads the projection delivers; when it is killed mid-stream,
//! the next leader resumes from the checkpoint it left in the database, and the
//! receiver still gets every change once per idempotency id, in order.
//!
//! Needs `CARELEDGER_TEST_PG_URL` (see `replicas.rs`).

use crate::api::Server;
use crate::helpers::run_to_end;
use crate::live::{referred, service_of};
use crate::replicas::url;
use crate::webhooks::{ORG, PUBLIC, Receiver, answer, subscribe, verify};
use std::time::{Duration, Instant};

const JWT: &str = "0123456789abcdef0123456789abcdef-webhook-replicas";

fn token(dir: &std::path::Path, role: &str) -> String {
    let t = run_to_end(
        &["token", "--jwt-secret", JWT, "--role", role, "--sub", role],
        dir,
    );
    assert!(t.success, "{}", t.stderr);
    t.stdout.trim().to_string()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn delivered_by(s: &Server) -> bool {
    s.http("/metrics", &[], None)
        .body
        .lines()
        .any(|l| l.starts_with("careledger_webhook_deliveries_total{"))
}

#[test]
fn the_leader_delivers_and_the_next_leader_resumes_from_its_checkpoint() {
    let Some(url) = url() else { return };
    let schema = format!("e2e_{}", uuid::Uuid::now_v7().simple());
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = [
        "--store",
        url.as_str(),
        "--pg-schema",
        schema.as_str(),
        "--jwt-secret",
        JWT,
        "--disclosure-secret",
        JWT,
        "--webhook-retry-first-ms",
        "50",
        "--webhook-retry-max-ms",
        "400",
        "--public-url",
        PUBLIC,
        "--rate-limit",
        "0",
    ];
    let (coordinator, admin) = (
        token(dirs[0].path(), "coordinator"),
        token(dirs[0].path(), "admin"),
    );
    let mut a = Server::start_with_token(dirs[0].path(), &args, &coordinator);
    a.admin = admin.clone();
    wait_until("the first server leads", || {
        a.metric("careledger_projection_leader") == 1
    });
    let mut b = Server::start_with_token(dirs[1].path(), &args, &coordinator);
    b.admin = admin;
    b.wait_ready();

    let receiver = Receiver::start(0, Duration::from_millis(150));
    let service = service_of(&a, ORG);
    let sub = subscribe(&b, &receiver.url);
    let (n1, r1) = referred(&a, "be-liege", &service);
    // (One server writes the referral before the kill: a server's stream cache
    // may hold a version the other has since moved.)
    answer(&a, "acceptReferral", &n1, &r1);
    answer(&a, "startReferral", &n1, &r1);
    wait_until("a first delivery", || !receiver.got().is_empty());
    assert!(delivered_by(&a) && !delivered_by(&b), "the leader delivers");

    // Kill the leader mid-stream; the other takes the lead and goes on.
    let mut a = a;
    a.running.child.kill().unwrap();
    a.running.child.wait().unwrap();
    answer(&b, "completeReferral", &n1, &r1);
    let (n2, r2) = referred(&b, "be-liege", &service);
    answer(&b, "acceptReferral", &n2, &r2);
    receiver.wait_for_distinct(6);
    assert!(delivered_by(&b), "the new leader delivers");
    std::thread::sleep(Duration::from_millis(500));
    verify(&receiver.got(), &sub, &[&r1, &r1, &r1, &r1, &r2, &r2]);
}
