//! GraphQL over HTTP: media types, status codes, limits, authentication; health,
//! readiness, metrics; read models that survive a restart and can be rebuilt.

use crate::api::{Server, v7};
use crate::helpers::run_to_end;
use serde_json::json;

const GQL_RESPONSE: &str = "application/graphql-response+json";

#[test]
fn graphql_over_http_follows_the_spec_and_refuses_bad_requests_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let auth = format!("Bearer {}", s.token);
    let post = |body: &str, accept: &str| {
        s.http(
            "/graphql",
            &[
                ("content-type", "application/json"),
                ("accept", accept),
                ("authorization", &auth),
            ],
            Some(body.as_bytes()),
        )
    };
    let head = s.head();

    // A query by POST and by GET, in both media types.
    let a = post(r#"{"query":"{ catalogue { version } }"}"#, GQL_RESPONSE);
    assert_eq!((a.status, a.content_type.as_str()), (200, GQL_RESPONSE));
    assert_eq!(a.json()["data"]["catalogue"]["version"], "2026.1");
    let a = s.http(
        "/graphql?query=%7Bcatalogue%7Bversion%7D%7D",
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(
        (a.status, a.content_type.as_str()),
        (200, "application/json")
    );
    // A mutation over GET is not allowed.
    let a = s.http(
        "/graphql?query=mutation%7BcloseNeed(input%3A%7BneedCaseId%3A%22x%22%2Creason%3AMOVED%7D)%7Bduplicate%7D%7D",
        &[("authorization", &auth)],
        None,
    );
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("POST"));
    // A document that does not validate: 400 in the new media type, 200 in the legacy one.
    let a = post(r#"{"query":"{ noSuchField }"}"#, GQL_RESPONSE);
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(
        a.json().get("data").is_none(),
        "a request error has no data entry: {}",
        a.body
    );
    let a = post(r#"{"query":"{ noSuchField }"}"#, "application/json");
    assert_eq!(a.status, 200);
    // Not JSON, wrong content type, unacceptable Accept.
    assert_eq!(post("{not json", GQL_RESPONSE).status, 400);
    let a = s.http(
        "/graphql",
        &[("content-type", "text/plain"), ("authorization", &auth)],
        Some(b"{}"),
    );
    assert_eq!(a.status, 415);
    assert_eq!(
        post(r#"{"query":"{ catalogue { version } }"}"#, "text/html").status,
        406
    );
    // No token, a forged token.
    let a = s.http(
        "/graphql",
        &[("content-type", "application/json")],
        Some(br#"{"query":"{ catalogue { version } }"}"#),
    );
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let forged = format!("{}x", &s.token[..s.token.len() - 1]);
    let a = s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {forged}")),
        ],
        Some(br#"{"query":"{ catalogue { version } }"}"#),
    );
    assert_eq!(a.status, 401);

    // Too deep, too big, pages too large.
    // Deep but cheap (introspection types nest without list weights): depth 15.
    let deep = format!(
        "{{ __schema {{ queryType {{ fields {{ type {} {{ name }} {} }} }} }} }}",
        "{ ofType ".repeat(11),
        "}".repeat(11)
    );
    let a = post(&json!({ "query": deep }).to_string(), GQL_RESPONSE);
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "QUERY_TOO_DEEP"
    );
    let big = json!({ "query": format!("{{ catalogue {{ version }} }} #{}", "x".repeat(70_000)) })
        .to_string();
    assert_eq!(post(&big, GQL_RESPONSE).status, 413);
    let a = post(
        r#"{"query":"{ needCases(first: 101) { totalCount } }"}"#,
        GQL_RESPONSE,
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    // A mutation inside a refused request did not run.
    let m = json!({ "query": format!("mutation {{ registerCareRecipient(input: {{ site: \"be-leuven\", birthYear: 1970, sex: FEMALE, country: \"BE\", postalCode: \"3000\", language: \"nl\" }}) {{ position }} }} #{}", "x".repeat(70_000)) });
    assert_eq!(post(&m.to_string(), GQL_RESPONSE).status, 413);
    assert_eq!(s.head(), head, "refused requests wrote nothing");
}

#[test]
fn health_readiness_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    assert_eq!(s.http("/healthz", &[], None).status, 200);
    let ready = s.http("/readyz", &[], None);
    assert_eq!(ready.status, 200, "{}", ready.body);
    let page = s.http("/", &[], None);
    assert!(page.body.contains("GraphiQL"), "{}", page.body);
    let auth = format!("Bearer {}", s.token);
    s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        Some(
            br#"{"query":"query Catalogue { catalogue { version } }","operationName":"Catalogue"}"#,
        ),
    );
    let m = s.http("/metrics", &[], None);
    assert_eq!(m.status, 200);
    for needle in [
        "careledger_graphql_requests_total{operation=\"Catalogue\",outcome=\"ok\"} 1",
        "careledger_graphql_request_duration_seconds_count{operation=\"Catalogue\"} 1",
        "careledger_events_appended_total 0",
        "careledger_projection_lag{projection=\"casework\"} 0",
    ] {
        assert!(m.body.contains(needle), "missing {needle}:\n{}", m.body);
    }
}

/// The read models' checkpoint is saved at shutdown and loaded at start (the data is
/// there at once, with no replay needed); `careledger rebuild` rebuilds it from the
/// log with the same result.
#[test]
fn read_models_resume_after_a_restart_and_can_be_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let token = s.token.clone();
    let rec = s.mutate(
        "registerCareRecipient",
        json!({ "idempotencyKey": v7(), "site": "de-koeln", "birthYear": 1949, "sex": "MALE", "country": "DE", "postalCode": "50667", "language": "de" }),
        "careRecipient { recipientId }",
    );
    let recipient = rec["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "psy.anxiety" }),
        "needCase { needCaseId }",
    );
    let id = p["needCase"]["needCaseId"].as_str().unwrap().to_string();
    assert!(s.running.stop_with("TERM").success());
    let checkpoint = dir.path().join("projections").join("casework.snapshot");
    assert!(checkpoint.exists(), "a checkpoint is saved at shutdown");

    let s = Server::restart(dir.path(), &token);
    let q = "query($id: ID!) { needCase(id: $id) { status recipient { region } } projections { position head } }";
    let d = s.data(q, json!({ "id": id }));
    assert_eq!(d["needCase"]["status"], "IDENTIFIED");
    assert_eq!(d["needCase"]["recipient"]["region"], "DE-PLZ-5");
    assert_eq!(d["projections"]["position"], d["projections"]["head"]);
    assert!(s.running.stop_with("INT").success());

    let out = run_to_end(&["rebuild"], dir.path());
    assert!(out.success, "{}", out.stderr);
    assert!(
        out.stdout.contains("rebuilt from 2 events")
            && out.stdout.contains("1 need cases, 1 care recipients"),
        "{}",
        out.stdout
    );
    let s = Server::restart(dir.path(), &token);
    assert_eq!(
        s.data(q, json!({ "id": id }))["needCase"]["status"],
        "IDENTIFIED"
    );
}

/// `serve --demo` loads a reproducible data set through the command path: every
/// need-case status occurs, and the same seed gives the same data.
#[test]
fn demo_data_is_varied_and_reproducible() {
    let ids = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let s = Server::start(
            dir.path(),
            &["--demo", "--demo-recipients", "150", "--demo-seed", seed],
        );
        // Every root field resolves at once: wait until the read models hold the
        // whole data set (ready) before counting.
        s.wait_ready();
        let d = s.data(
            "{ identified: needCases(filter: { status: [IDENTIFIED] }) { totalCount }
               suggested: needCases(filter: { status: [SUGGESTED] }) { totalCount }
               referred: needCases(filter: { status: [REFERRED] }) { totalCount }
               completed: needCases(filter: { status: [COMPLETED] }) { totalCount }
               closed: needCases(filter: { status: [CLOSED] }) { totalCount }
               all: needCases(first: 100) { totalCount edges { node { needCaseId site } } } }",
            json!({}),
        );
        for status in ["identified", "suggested", "referred", "completed", "closed"] {
            assert!(
                d[status]["totalCount"].as_u64().unwrap() > 0,
                "no {status} need case: {d}"
            );
        }
        let sites: std::collections::BTreeSet<_> = d["all"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["site"].as_str().unwrap().to_string())
            .collect();
        assert!(sites.len() >= 5, "{sites:?}");
        d["all"].clone()
    };
    let a = ids("7");
    assert_eq!(a, ids("7"), "the same seed gives the same data");
    assert_ne!(a, ids("8"));
}

/// Lists weighted by their page size make a wide query too complex to run.
#[test]
fn a_too_complex_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let auth = format!("Bearer {}", s.token);
    let q = "{ needCases(first: 100) { edges { node { needCaseId status version site referrals { status serviceId referralId } recipient { region language sex needCases { status version site } } } } } }";
    let a = s.http(
        "/graphql",
        &[
            ("content-type", "application/json"),
            ("accept", GQL_RESPONSE),
            ("authorization", &auth),
        ],
        Some(json!({ "query": q }).to_string().as_bytes()),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(
        a.json()["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );
    // The same shape with a small page runs.
    let small = q.replace("first: 100", "first: 5");
    assert!(s.gql(&small, json!({})).get("errors").is_none());
}

/// On SIGTERM the server stops accepting but lets a request in flight finish.
#[test]
fn a_request_in_flight_finishes_during_a_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--consistency-timeout-ms", "1500"]);
    let (base, token) = (s.base.clone(), s.token.clone());
    // A query that waits (for a position the log never reaches) until its time-out.
    let waiting = std::thread::spawn(move || {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let mut r = agent
            .post(&format!("{base}/graphql"))
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .send(r#"{"query":"{ needCases(minPosition: \"999999\") { totalCount } }"}"#)
            .expect("an answer, not a dropped connection");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    });
    // Signal only once the server has the request.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !s
        .http("/metrics", &[], None)
        .body
        .contains("careledger_graphql_requests_in_flight 1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the request never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = s.running.stop_with("TERM");
    let (code, body) = waiting.join().unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("PROJECTION_NOT_CAUGHT_UP"), "{body}");
    assert!(status.success(), "{status}");
}

/// A token limited to one site cannot read or change another site's records.
#[test]
fn a_site_bound_token_is_kept_to_its_site() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let rec = s.mutate(
        "registerCareRecipient",
        json!({ "site": "de-koeln", "birthYear": 1966, "sex": "FEMALE", "country": "DE", "postalCode": "50667", "language": "de" }),
        "careRecipient { recipientId }",
    );
    let recipient = rec["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run_to_end(
        &[
            "token",
            "--sub",
            "nurse-1",
            "--role",
            "coordinator",
            "--sites",
            "be-leuven",
        ],
        dir.path(),
    );
    assert!(out.success, "{}", out.stderr);
    let nurse = out.stdout.trim().to_string();
    let q = "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { site } }";
    let v = s.gql_as(&nurse, q, json!({ "id": recipient, "p": rec["position"] }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    let head = s.head();
    let m = "mutation($i: IdentifyNeedInput!) { identifyNeed(input: $i) { position } }";
    let v = s.gql_as(
        &nurse,
        m,
        json!({ "i": { "recipientId": recipient, "needCode": "med.pain" } }),
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    assert_eq!(s.head(), head);
    // The admin (all sites) opens a need case there; the nurse's listing omits it.
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "med.pain" }),
        "needCase { needCaseId }",
    );
    let list = "query($p: Position) { needCases(minPosition: $p) { totalCount } }";
    let v = s.gql(list, json!({ "p": p["position"] }));
    assert_eq!(v["data"]["needCases"]["totalCount"], 1, "{v}");
    let v = s.gql_as(&nurse, list, json!({ "p": p["position"] }));
    assert_eq!(
        v["data"]["needCases"]["totalCount"], 0,
        "listings hold only the token's sites: {v}"
    );
    let v = s.gql_as(
        &nurse,
        "{ worklist(site: \"de-koeln\") { totalCount } }",
        json!({}),
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    // Without a secret, `token` refuses rather than inventing one.
    let empty = tempfile::tempdir().unwrap();
    let out = run_to_end(&["token", "--sub", "x"], empty.path());
    assert!(
        !out.success && out.stderr.contains("start the server once"),
        "{}",
        out.stderr
    );
}

/// After `kill -9` (no checkpoint saved at shutdown) a restart folds the log again
/// and every acknowledged mutation is there.
#[test]
fn after_a_crash_the_read_models_are_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(dir.path(), &[]);
    let token = s.token.clone();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let p = s.mutate(
            "registerCareRecipient",
            json!({ "site": "nl-maastricht", "birthYear": 1990, "sex": "MALE", "country": "NL", "postalCode": "6211AB", "language": "nl" }),
            "careRecipient { recipientId }",
        );
        ids.push(
            p["careRecipient"]["recipientId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    s.running.child.kill().unwrap();
    s.running.child.wait().unwrap();
    let s = Server::restart(dir.path(), &token);
    let head = s.head();
    for id in ids {
        let d = s.data(
            "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { region } }",
            json!({ "id": id, "p": head.to_string() }),
        );
        assert_eq!(d["careRecipient"]["region"], "NL-LI");
    }
}
