//! Live updates (issue 16), through a real client: the `graphql-ws` package (the
//! graphql-transport-ws protocol's reference client) over `ws`, run with Node.js
//! from `tests/graphql-ws-client/` (`npm ci` there; `.ci/run` does it). A
//! coordinator's subscription receives each move of a referral the provider
//! answers, in order; a reconnect with `after` gets exactly what was missed;
//! another site's coordinator gets nothing and may not follow the site; the
//! protocol's refusals close with its codes.

use crate::api::{Server, mint, mint_provider, v7};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";

/// The client folder, or why it cannot run here. Outside CI a missing Node.js or
/// `npm ci` skips the test with the reason; under CI (`CI` set) it fails.
pub(crate) fn client_dir() -> Option<&'static Path> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/graphql-ws-client"));
    let why = if Command::new("node").arg("--version").output().is_err() {
        "Node.js is not installed"
    } else if !dir.join("node_modules/graphql-ws").exists() {
        "run `npm ci` in tests/graphql-ws-client"
    } else {
        return Some(dir);
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the graphql-ws client tests must run in CI: {why}"
    );
    eprintln!("skipping the graphql-ws client test: {why}");
    None
}

/// One client process and the JSON lines it prints.
pub(crate) struct Client {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Client {
    fn spawn(dir: &Path, args: &[&str]) -> Self {
        let mut child = Command::new("node")
            .arg(dir.join("client.mjs"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    pub(crate) fn subscribe(
        dir: &Path,
        s: &Server,
        token: &str,
        query: &str,
        vars: Value,
        n: usize,
    ) -> Self {
        let url = format!("{}/graphql", s.base.replace("http://", "ws://"));
        Self::spawn(
            dir,
            &[
                "subscribe",
                &url,
                token,
                query,
                &vars.to_string(),
                &n.to_string(),
            ],
        )
    }

    fn raw(dir: &Path, s: &Server, steps: Value) -> Self {
        let url = format!("{}/graphql", s.base.replace("http://", "ws://"));
        Self::spawn(dir, &["raw", &url, "-", &steps.to_string()])
    }

    /// The next line, within `secs` seconds.
    fn line(&self, secs: u64) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(secs))
            .unwrap_or_else(|_| panic!("the client printed nothing within {secs} s"))
    }

    /// The next `next` payload's data, skipping `connected`.
    pub(crate) fn next_data(&self) -> Value {
        loop {
            let l = self.line(20);
            if l.get("connected").is_some() {
                continue;
            }
            let Some(payload) = l.get("next") else {
                panic!("expected a result, got {l}");
            };
            return payload["data"].clone();
        }
    }

    /// Nothing but `connected` within `ms`.
    fn quiet_for(&self, ms: u64) {
        let until = std::time::Instant::now() + Duration::from_millis(ms);
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) if l.get("connected").is_some() => {}
                Ok(l) => panic!("expected nothing, got {l}"),
                Err(_) => return,
            }
        }
    }

    /// Lines until the server closes; the close line.
    fn closed(&self) -> Value {
        loop {
            let l = self.line(20);
            if l.get("closed").is_some() || l.get("status").is_some() {
                return l;
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn service_of(s: &Server, org: &str) -> String {
    let text = json!({ "en": "Psycho-oncology", "fr": "Psycho-oncologie", "nl": "Psycho-oncologie", "de": "Psychoonkologie" });
    let v = s.admin_mutate(
        "registerService",
        json!({ "profile": { "organisation": "Hôpital Exemple", "organisationId": org,
            "name": text, "description": text, "needs": ["psy.anxiety"], "languages": ["fr"],
            "area": { "countries": ["BE"] }, "cost": "FREE" } }),
        "service { serviceId }",
    );
    assert_eq!(v["userErrors"], json!([]), "{v}");
    v["service"]["serviceId"].as_str().unwrap().to_string()
}

/// A need case at `site` referred to `service`: its id and the referral's.
pub(crate) fn referred(s: &Server, site: &str, service: &str) -> (String, String) {
    let (id, q) = referred_with(s, site, service, json!({}), "referral { referralId }");
    (
        id,
        q["referral"]["referralId"].as_str().unwrap().to_string(),
    )
}

/// As [`referred`], the request's input extended with `extra`: the need case's
/// id and the request's payload (`selection` of it).
pub(crate) fn referred_with(
    s: &Server,
    site: &str,
    service: &str,
    extra: Value,
    selection: &str,
) -> (String, Value) {
    let r = s.mutate(
        "registerCareRecipient",
        json!({ "site": site, "birthYear": 1960, "sex": "MALE", "country": "BE",
                "postalCode": "4000", "language": "fr" }),
        "careRecipient { recipientId }",
    );
    let recipient = r["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let n = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "psy.anxiety" }),
        "needCase { needCaseId }",
    );
    let id = n["needCase"]["needCaseId"].as_str().unwrap().to_string();
    s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "services": [{ "serviceId": service }] }),
        "userErrors { code }",
    );
    let mut input = json!({ "needCaseId": id, "serviceId": service, "idempotencyKey": v7() });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let q = s.mutate("requestReferral", input, selection);
    assert_eq!(q["userErrors"], json!([]), "{q}");
    (id, q)
}

const REFERRALS: &str = "subscription($site: String, $org: ID, $after: Position) {
    referralUpdated(site: $site, organisation: $org, after: $after) {
        position needCaseId referralId serviceId status event occurredAt } }";

/// The closed loop, live: a coordinator at Liège refers, the provider answers
/// (accept, start, complete); the coordinator's and the provider's
/// subscriptions each receive the four moves in order; a reconnect after the
/// second gets exactly the last two; a Köln coordinator's subscription to Köln
/// receives none of it and one to Liège is refused.
#[test]
fn the_coordinator_and_the_provider_see_each_answer_live_in_order() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let liege = mint(data.path(), "coord-liege", "coordinator", &["be-liege"]);
    let koeln = mint(data.path(), "coord-koeln", "coordinator", &["de-koeln"]);
    let provider = mint_provider(data.path(), "staff-1", &[ORG]);
    let after = s.head().to_string();

    let coordinator = Client::subscribe(
        dir,
        &s,
        &liege,
        REFERRALS,
        json!({ "site": "be-liege", "after": after }),
        4,
    );
    let performer = Client::subscribe(
        dir,
        &s,
        &provider,
        REFERRALS,
        json!({ "org": ORG, "after": after }),
        4,
    );
    let elsewhere = Client::subscribe(dir, &s, &koeln, REFERRALS, json!({ "site": "de-koeln" }), 1);
    let refused = Client::subscribe(dir, &s, &koeln, REFERRALS, json!({ "site": "be-liege" }), 1);

    let (need_case, referral) = referred(&s, "be-liege", &service);
    for step in ["acceptReferral", "startReferral", "completeReferral"] {
        let mut input = json!({ "needCaseId": need_case, "referralId": referral });
        if step == "completeReferral" {
            input["outcome"] = json!("NEED_MET");
        }
        let v = s.mutate_as(&provider, step, input, "userErrors { code }");
        assert_eq!(v["userErrors"], json!([]), "{step}: {v}");
    }

    let expected = ["REQUESTED", "ACCEPTED", "IN_PROGRESS", "COMPLETED"];
    let mut positions = Vec::new();
    for client in [&coordinator, &performer] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let u = client.next_data()["referralUpdated"].clone();
            assert_eq!(u["needCaseId"], json!(need_case), "{u}");
            assert_eq!(u["referralId"], json!(referral), "{u}");
            assert_eq!(u["serviceId"], json!(service), "{u}");
            seen.push(u);
        }
        let statuses: Vec<_> = seen.iter().map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, expected);
        let p: Vec<u64> = seen
            .iter()
            .map(|u| u["position"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        positions.push(p);
    }
    assert_eq!(positions[0], positions[1]);

    // Resuming after the second change replays the third and fourth, then nothing.
    let again = Client::subscribe(
        dir,
        &s,
        &liege,
        REFERRALS,
        json!({ "site": "be-liege", "after": positions[0][1].to_string() }),
        3,
    );
    let got: Vec<_> = (0..2)
        .map(|_| again.next_data()["referralUpdated"]["status"].clone())
        .collect();
    assert_eq!(got, vec![json!("IN_PROGRESS"), json!("COMPLETED")]);
    again.quiet_for(700);

    // Köln's own subscription stays silent; following Liège is refused.
    elsewhere.quiet_for(300);
    let l = refused.line(20);
    let l = if l.get("connected").is_some() {
        refused.line(20)
    } else {
        l
    };
    let payload = l
        .get("next")
        .map(|n| n["errors"].clone())
        .unwrap_or_else(|| l["error"].clone());
    assert_eq!(payload[0]["extensions"]["code"], json!("FORBIDDEN"), "{l}");
}

/// The server answers a subscription of plain fields on its shared path (one
/// rendering per change for every subscriber of the same selection) and one
/// with a directive through the GraphQL executor: on one socket, both receive
/// each change with the same bytes (aliases, order, `__typename`); completing
/// the shared one is acknowledged with `complete`, after which only the other
/// receives changes.
#[test]
fn the_shared_path_and_the_executor_send_the_same_bytes() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let liege = mint(data.path(), "coord-liege", "coordinator", &["be-liege"]);
    let after = s.head().to_string();
    let query = |directive: &str| {
        format!(
            "subscription($after: Position) {{ u: referralUpdated(site: \"be-liege\", after: $after) {{ status p: position{directive} event __typename occurredAt }} }}"
        )
    };
    let subscribe = |id: &str, query: String| {
        json!({ "send": { "id": id, "type": "subscribe", "payload": {
            "query": query, "variables": { "after": after } } } })
    };
    let client = Client::raw(
        dir,
        &s,
        json!([
            { "send": { "type": "connection_init", "payload": { "authorization": format!("Bearer {}", s.token) } } },
            { "until": 1 },
            subscribe("shared", query("")),
            subscribe("executed", query(" @include(if: true)")),
            { "until": 5 },
            { "send": { "id": "shared", "type": "complete" } },
            { "wait": 3_000 },
        ]),
    );
    assert_eq!(client.line(20)["message"]["type"], json!("connection_ack"));
    let (need_case, referral) = referred(&s, "be-liege", &service);
    let ids = json!({ "needCaseId": need_case, "referralId": referral });
    let v = s.mutate_as(&liege, "acceptReferral", ids.clone(), "userErrors { code }");
    assert_eq!(v["userErrors"], json!([]), "{v}");

    let (mut shared, mut executed) = (Vec::new(), Vec::new());
    while shared.len() + executed.len() < 4 {
        let l = client.line(20);
        let text = l["text"].as_str().unwrap().to_string();
        match l["message"]["id"].as_str() {
            Some("shared") => shared.push(text),
            Some("executed") => executed.push(text),
            _ => panic!("unexpected {l}"),
        }
    }
    let as_executed: Vec<String> = shared
        .iter()
        .map(|t| t.replace("\"id\":\"shared\"", "\"id\":\"executed\""))
        .collect();
    assert_eq!(as_executed, executed);
    assert!(
        shared[0].contains("\"u\":{\"status\":\"REQUESTED\",\"p\":\""),
        "{}",
        shared[0]
    );
    assert!(
        shared[1].contains("\"__typename\":\"ReferralUpdate\""),
        "{}",
        shared[1]
    );

    assert_eq!(
        client.line(20)["text"],
        json!("{\"type\":\"complete\",\"id\":\"shared\"}")
    );
    let v = s.mutate_as(&liege, "startReferral", ids, "userErrors { code }");
    assert_eq!(v["userErrors"], json!([]), "{v}");
    let l = client.line(20);
    assert_eq!(l["message"]["id"], json!("executed"), "{l}");
    assert_eq!(
        l["message"]["payload"]["data"]["u"]["status"],
        json!("IN_PROGRESS")
    );
    client.quiet_for(500);
}

/// A client that stops reading while changes pile up — far more than the
/// server's ring of recent changes holds (8 here), so its subscription must read
/// the log for what fell out — still receives every one, once and in order, when
/// it reads again; worklistChanged carries every step.
#[test]
fn a_slow_consumer_misses_nothing() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(
        data.path(),
        &["--rate-limit", "0", "--live-ring-changes", "8"],
    );
    let service = service_of(&s, ORG);
    let after = s.head().to_string();
    let cases = 12;
    // Half the changes before anyone follows (so they are read from the log),
    // half while the client does not read.
    let mut made = Vec::new();
    for _ in 0..cases / 2 {
        made.push(referred(&s, "be-liege", &service).0);
    }
    let client = Client::raw(
        dir,
        &s,
        json!([
            { "send": { "type": "connection_init", "payload": { "authorization": format!("Bearer {}", s.token) } } },
            { "until": 1 },
            { "send": { "id": "w", "type": "subscribe", "payload": {
                "query": "subscription($after: Position) { worklistChanged(site: \"be-liege\", after: $after) { position needCaseId event } }",
                "variables": { "after": after } } } },
            { "pause": 3000 },
            { "until": 1 + cases * 3 },
        ]),
    );
    assert_eq!(client.line(20)["message"]["type"], json!("connection_ack"));
    for _ in 0..cases / 2 {
        made.push(referred(&s, "be-liege", &service).0);
    }
    let mut events = Vec::new();
    let mut positions = Vec::new();
    while events.len() < cases * 3 {
        let m = client.line(30)["message"].clone();
        assert_eq!(m["type"], json!("next"), "{m}");
        let w = &m["payload"]["data"]["worklistChanged"];
        events.push((
            w["needCaseId"].as_str().unwrap().to_string(),
            w["event"].as_str().unwrap().to_string(),
        ));
        positions.push(w["position"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let expected: Vec<_> = made
        .iter()
        .flat_map(|id| {
            ["NeedIdentified", "ServicesSuggested", "ReferralRequested"]
                .map(|e| (id.clone(), e.to_string()))
        })
        .collect();
    assert_eq!(events, expected);
}

/// The protocol's refusals: a bad credential 4403, a subscribe before the init
/// 4401, a second init 4429, a reused id 4409, no init in time 4408; a mutation
/// or an over-deep document is refused with an `error` for its id and the socket
/// stays open; an upgrade without the subprotocol is a 400; a subscription sent
/// over HTTP is refused with its own code.
#[test]
fn the_protocol_refusals_close_with_its_codes() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let init = |token: &str| json!({ "send": { "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } } });
    let sub = |id: &str| {
        json!({ "send": { "id": id, "type": "subscribe", "payload": {
        "query": "subscription { worklistChanged(site: \"be-liege\") { position } }" } } })
    };
    let code = |c: &Client| c.closed()["closed"].clone();

    let timeout = Client::raw(dir, &s, json!([{ "wait": 11_000 }]));
    assert_eq!(
        code(&Client::raw(dir, &s, json!([init("not-a-token")]))),
        json!(4403)
    );
    assert_eq!(code(&Client::raw(dir, &s, json!([sub("1")]))), json!(4401));
    let twice = Client::raw(
        dir,
        &s,
        json!([init(&s.token), { "until": 1 }, init(&s.token)]),
    );
    assert_eq!(twice.line(20)["message"]["type"], json!("connection_ack"));
    assert_eq!(code(&twice), json!(4429));
    let reused = Client::raw(
        dir,
        &s,
        json!([init(&s.token), { "until": 1 }, sub("1"), sub("1")]),
    );
    assert_eq!(code(&reused), json!(4409));
    assert_eq!(
        code(&Client::raw(dir, &s, json!([{ "text": "{not json" }]))),
        json!(4400)
    );

    let fine = "subscription { worklistChanged(site: \"be-liege\") { position } }";
    let refusals = Client::raw(
        dir,
        &s,
        json!([init(&s.token), { "until": 1 },
            { "send": { "id": "m", "type": "subscribe", "payload": { "query": "mutation { revokeApiKey(input: { keyId: \"x\" }) { userErrors { code } } }" } } },
            { "until": 2 },
            { "send": { "id": "d", "type": "subscribe", "payload": { "query": format!("{{ {}x{} }}", "a { ".repeat(100), " }".repeat(100)) } } },
            { "until": 3 },
            { "send": { "id": "ok", "type": "subscribe", "payload": { "query": fine } } },
            { "wait": 300 }]),
    );
    assert_eq!(
        refusals.line(20)["message"]["type"],
        json!("connection_ack")
    );
    let m = refusals.line(20)["message"].clone();
    assert_eq!(
        (m["type"].clone(), m["id"].clone()),
        (json!("error"), json!("m")),
        "{m}"
    );
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        json!("NOT_A_SUBSCRIPTION")
    );
    let d = refusals.line(20)["message"].clone();
    assert_eq!(
        (d["type"].clone(), d["id"].clone()),
        (json!("error"), json!("d")),
        "{d}"
    );
    assert_eq!(
        d["payload"][0]["extensions"]["code"],
        json!("NESTING_TOO_DEEP"),
        "{d}"
    );
    // Still open: the last subscription runs until the client closes (1000).
    assert_eq!(code(&refusals), json!(1000));

    assert_eq!(code(&timeout), json!(4408));

    let plain = s.http(
        "/graphql",
        &[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        None,
    );
    assert_eq!(plain.status, 400, "{}", plain.body);
    assert!(
        plain.body.contains("UNSUPPORTED_PROTOCOL"),
        "{}",
        plain.body
    );

    let a = s.post_as(
        &s.token,
        "subscription { worklistChanged(site: \"be-liege\") { position } }",
        json!({}),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        json!("SUBSCRIPTION_OVER_HTTP")
    );
}

/// Shutting the server down closes each subscription socket with 1001 ("going
/// away": reconnect, with `after`, to another replica or once it is back) before
/// the process ends.
#[test]
fn shutdown_closes_subscriptions_with_going_away() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let client = Client::raw(
        dir,
        &s,
        json!([
            { "send": { "type": "connection_init", "payload": { "authorization": format!("Bearer {}", s.token) } } },
            { "until": 1 },
            { "send": { "id": "w", "type": "subscribe", "payload": {
                "query": "subscription { worklistChanged(site: \"be-liege\") { position } }" } } },
            { "wait": 20_000 },
        ]),
    );
    assert_eq!(client.line(20)["message"]["type"], json!("connection_ack"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = s.running.stop_with("TERM");
    assert!(status.success(), "{status:?}");
    assert_eq!(client.closed()["closed"], json!(1001));
}

/// A socket runs at most 16 operations: the 17th gets an `error` for its id
/// (`TOO_MANY_OPERATIONS`) and the socket stays open; one address may hold
/// `--max-connections-per-peer` sockets: the next upgrade is a 503.
#[test]
fn operations_per_socket_and_sockets_per_address_are_bounded() {
    let Some(dir) = client_dir() else { return };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(
        data.path(),
        &["--rate-limit", "0", "--max-connections-per-peer", "2"],
    );
    let init = json!({ "send": { "type": "connection_init", "payload": { "authorization": format!("Bearer {}", s.token) } } });
    let mut steps = vec![init, json!({ "until": 1 })];
    for i in 0..17 {
        steps.push(
            json!({ "send": { "id": format!("s{i}"), "type": "subscribe", "payload": {
            "query": "subscription { worklistChanged(site: \"be-liege\") { position } }" } } }),
        );
    }
    steps.push(json!({ "wait": 15_000 }));
    let many = Client::raw(dir, &s, json!(steps));
    assert_eq!(many.line(20)["message"]["type"], json!("connection_ack"));
    let m = many.line(20)["message"].clone();
    assert_eq!(
        (m["type"].clone(), m["id"].clone()),
        (json!("error"), json!("s16")),
        "{m}"
    );
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        json!("TOO_MANY_OPERATIONS"),
        "{m}"
    );

    // A second socket from the same address is taken; a third is refused.
    let second = Client::raw(dir, &s, json!([{ "wait": 15_000 }]));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let third = Client::raw(dir, &s, json!([{ "wait": 1_000 }]));
    assert_eq!(third.closed()["status"], json!(503));
    drop((many, second));
}
