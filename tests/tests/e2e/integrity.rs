//! Integrity of what is written (issue 13): services a need case names must be in
//! the directory and active; a relative's patient must be a patient of the
//! caller's sites; every command's `occurredAt` follows one time rule; free text
//! holds no control characters; and an idempotency key never tells a caller about
//! another site's records (authorisation first). Each refusal is typed and writes
//! nothing: the log's head does not move.

use crate::api::{Server, mint, v7};
use crate::helpers::run_to_end;
use serde_json::{Value, json};

const NC: &str = "needCase { needCaseId status }";
const REC: &str = "careRecipient { recipientId }";
const SVC: &str = "service { serviceId }";

/// Asserts a mutation payload was refused with `code` on `field`.
#[track_caller]
fn refused(p: &Value, code: &str, field: &str) {
    let errors = p["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors: {p}"));
    assert_eq!(errors.len(), 1, "{p}");
    assert_eq!(errors[0]["code"], code, "{p}");
    assert_eq!(errors[0]["field"], field, "{p}");
    assert!(!errors[0]["message"].as_str().unwrap().is_empty(), "{p}");
    assert_eq!(p["position"], Value::Null, "{p}");
}

#[track_caller]
fn ok(p: &Value) -> &Value {
    assert_eq!(p["userErrors"], json!([]), "refused: {p}");
    p
}

/// Runs mutation `name` as `token`, returning the whole answer (data and errors).
fn raw(s: &Server, token: &str, name: &str, input: Value, selection: &str) -> Value {
    let mut input_type = name[..1].to_uppercase();
    input_type.push_str(&name[1..]);
    let q = format!(
        "mutation($input: {input_type}Input!) {{ {name}(input: $input) {{ {selection} position userErrors {{ field code message }} }} }}"
    );
    s.gql_as(token, &q, json!({ "input": input }))
}

/// The top-level error code of an answer (asserting there is one).
#[track_caller]
fn top_code(v: &Value) -> String {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no top-level error: {v}"))
        .to_string()
}

fn register(s: &Server, token: &str, site: &str, extra: Value) -> String {
    let mut input = json!({ "site": site, "birthYear": 1962, "sex": "FEMALE", "country": "BE",
        "postalCode": "3000", "language": "nl" });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let p = s.mutate_as(token, "registerCareRecipient", input, REC);
    ok(&p)["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn identify(s: &Server, token: &str, recipient: &str, extra: Value) -> String {
    let mut input = json!({ "recipientId": recipient, "needCode": "psy.anxiety" });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let p = s.mutate_as(token, "identifyNeed", input, NC);
    ok(&p)["needCase"]["needCaseId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn profile(name: &str) -> Value {
    let text = json!({ "en": name, "fr": name, "nl": name, "de": name });
    json!({ "organisation": "Stichting Voorbeeld", "name": text, "description": text,
        "needs": ["psy.anxiety"], "languages": ["nl"], "area": { "countries": ["BE"] }, "cost": "FREE" })
}

/// A hand-made suggestion list and a referral may name only services the
/// directory holds and has not retired (`SERVICE_NOT_FOUND`, `SERVICE_RETIRED`),
/// and nothing is written; a caller from another site is told `FORBIDDEN` before
/// anything about the services. Before the fix, any UUID was recorded.
#[test]
fn suggestions_and_referrals_naming_unknown_or_retired_services_are_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let leuven = mint(dir.path(), "nurse-leuven", "coordinator", &["be-leuven"]);
    let liege = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let active = s.service();
    let retired = s.new_service();
    let r = s.admin_mutate("retireService", json!({ "serviceId": retired }), SVC);
    // The retirement is in the read models too (whichever the check consults).
    let seen = s.data(
        "query($id: ID!, $p: Position) { service(id: $id, minPosition: $p) { active } }",
        json!({ "id": retired, "p": ok(&r)["position"] }),
    );
    assert_eq!(seen["service"]["active"], false, "{seen}");
    let recipient = register(&s, &leuven, "be-leuven", json!({}));
    let case = identify(&s, &leuven, &recipient, json!({}));
    let head = s.head();

    let suggest = |token: &str, service: &str| {
        s.mutate_as(
            token,
            "suggestServices",
            json!({ "needCaseId": case, "services": [{ "serviceId": active }, { "serviceId": service }] }),
            NC,
        )
    };
    refused(&suggest(&leuven, &v7()), "SERVICE_NOT_FOUND", "services");
    refused(&suggest(&leuven, &retired), "SERVICE_RETIRED", "services");
    assert_eq!(s.head(), head, "a refused suggestion wrote something");
    // Another site's coordinator learns nothing about the services: FORBIDDEN first.
    let v = raw(
        &s,
        &liege,
        "suggestServices",
        json!({ "needCaseId": case, "services": [{ "serviceId": v7() }] }),
        NC,
    );
    assert_eq!(top_code(&v), "FORBIDDEN", "{v}");
    assert_eq!(s.head(), head);

    ok(&s.mutate_as(
        &leuven,
        "suggestServices",
        json!({ "needCaseId": case, "services": [{ "serviceId": active }] }),
        NC,
    ));
    let head = s.head();
    let refer = |service: &str| {
        s.mutate_as(
            &leuven,
            "requestReferral",
            json!({ "needCaseId": case, "serviceId": service }),
            NC,
        )
    };
    refused(&refer(&v7()), "SERVICE_NOT_FOUND", "serviceId");
    refused(&refer(&retired), "SERVICE_RETIRED", "serviceId");
    let v = raw(
        &s,
        &liege,
        "requestReferral",
        json!({ "needCaseId": case, "serviceId": v7() }),
        NC,
    );
    assert_eq!(top_code(&v), "FORBIDDEN", "{v}");
    assert_eq!(s.head(), head, "a refused referral wrote something");
    let p = refer(&active);
    assert_eq!(ok(&p)["needCase"]["status"], "REFERRED");
}

/// A relative's `patientId` must name a patient registered at a site the caller
/// works for. A random id, another site's patient and a relative get the same
/// answer (`PATIENT_NOT_FOUND`, same message), so the refusal says nothing about
/// other sites; nothing is written. Before the fix, all three were recorded.
#[test]
fn a_relatives_patient_must_be_a_patient_at_a_site_the_caller_works_for() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let leuven = mint(dir.path(), "nurse-leuven", "coordinator", &["be-leuven"]);
    let liege = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let theirs = register(&s, &liege, "be-liege", json!({ "postalCode": "4000" }));
    let ours = register(&s, &leuven, "be-leuven", json!({}));
    let relative = register(
        &s,
        &leuven,
        "be-leuven",
        json!({ "kind": "RELATIVE", "patientId": ours }),
    );
    let head = s.head();
    let mut messages = Vec::new();
    for patient in [v7(), theirs, relative] {
        let p = s.mutate_as(
            &leuven,
            "registerCareRecipient",
            json!({ "site": "be-leuven", "kind": "RELATIVE", "patientId": patient, "birthYear": 1990,
                "sex": "MALE", "country": "BE", "postalCode": "3000", "language": "nl" }),
            REC,
        );
        refused(&p, "PATIENT_NOT_FOUND", "patientId");
        messages.push(p["userErrors"][0]["message"].clone());
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "the answers differ: {messages:?}"
    );
    assert_eq!(s.head(), head, "a refused registration wrote something");
}

/// One time rule for every command: `occurredAt` not after now (5 minutes'
/// skew), not before 2000-01-01 and, for a person, not before their birth year;
/// a typed `userError` on `occurredAt`, nothing written. The finding: year −1
/// accepted by `identifyNeed`, `9999-12-31` by directory and API-key commands.
/// An erasure dated in the future destroys no key (the data still opens).
#[test]
fn every_command_refuses_dates_in_the_future_before_2000_or_before_birth() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let recipient = register(&s, &s.token, "be-leuven", json!({}));
    let young = register(&s, &s.token, "be-leuven", json!({ "birthYear": 2010 }));
    let service = s.service();
    let key_id = s.admin_data(
        "mutation { issueApiKey(input: { name: \"portal\" }) { apiKey { id } } }",
        json!({}),
    )["issueApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let with_data = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1962, "sex": "FEMALE", "country": "BE", "postalCode": "3000",
            "language": "nl", "personalData": { "givenName": "Wilhelmina" } }),
        REC,
    );
    let with_data = ok(&with_data)["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let head = s.head();

    let year_minus_one = "-0001-01-01T00:00:00Z";
    let before_floor = "1999-12-31T23:59:59Z";
    let far = "9999-12-31T00:00:00Z";
    let cases: Vec<(bool, &str, Value, &str, &str)> = vec![
        (
            false,
            "identifyNeed",
            json!({ "recipientId": recipient, "needCode": "psy.anxiety", "occurredAt": year_minus_one }),
            NC,
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            false,
            "identifyNeed",
            json!({ "recipientId": recipient, "needCode": "psy.anxiety", "occurredAt": before_floor }),
            NC,
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            false,
            "identifyNeed",
            json!({ "recipientId": young, "needCode": "psy.anxiety", "occurredAt": "2009-06-01T00:00:00Z" }),
            NC,
            "OCCURRED_BEFORE_BIRTH",
        ),
        (
            false,
            "identifyNeed",
            json!({ "recipientId": recipient, "needCode": "psy.anxiety", "occurredAt": far }),
            NC,
            "OCCURRED_IN_FUTURE",
        ),
        (
            false,
            "registerCareRecipient",
            json!({ "site": "be-leuven", "birthYear": 1962, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl", "occurredAt": before_floor }),
            REC,
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            true,
            "registerService",
            json!({ "profile": profile("Later"), "occurredAt": far }),
            SVC,
            "OCCURRED_IN_FUTURE",
        ),
        (
            true,
            "registerService",
            json!({ "profile": profile("Earlier"), "occurredAt": year_minus_one }),
            SVC,
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            true,
            "updateService",
            json!({ "serviceId": service, "profile": profile("Renamed"), "occurredAt": far }),
            SVC,
            "OCCURRED_IN_FUTURE",
        ),
        (
            true,
            "changeServiceCapacity",
            json!({ "serviceId": service, "capacity": { "status": "NO_CAPACITY" }, "occurredAt": before_floor }),
            SVC,
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            true,
            "retireService",
            json!({ "serviceId": service, "occurredAt": far }),
            SVC,
            "OCCURRED_IN_FUTURE",
        ),
        (
            true,
            "issueApiKey",
            json!({ "name": "dashboard", "occurredAt": far }),
            "apiKey { id }",
            "OCCURRED_IN_FUTURE",
        ),
        (
            true,
            "revokeApiKey",
            json!({ "apiKeyId": key_id, "occurredAt": before_floor }),
            "apiKey { id }",
            "OCCURRED_BEFORE_FLOOR",
        ),
        (
            true,
            "eraseCareRecipient",
            json!({ "recipientId": with_data, "occurredAt": far }),
            "recipientId",
            "OCCURRED_IN_FUTURE",
        ),
    ];
    for (admin, name, input, selection, code) in cases {
        let token = if admin { &s.admin } else { &s.token };
        let p = s.mutate_as(token, name, input, selection);
        refused(&p, code, "occurredAt");
        assert_eq!(s.head(), head, "{name} wrote something: {p}");
    }
    // The refused erasure destroyed no key.
    let d = s.data(
        "query($id: ID!) { careRecipient(id: $id) { erased personalData { givenName } } }",
        json!({ "id": with_data }),
    );
    assert_eq!(
        d["careRecipient"]["personalData"]["givenName"], "Wilhelmina",
        "{d}"
    );
    // The floor itself is accepted.
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "psy.anxiety", "occurredAt": "2000-01-01T00:00:00Z" }),
        NC,
    );
    ok(&p);
}

/// Free text refuses control characters (NUL, ANSI escapes, CR/LF, bidi
/// overrides) with `CONTROL_CHARACTERS` on the field, through GraphQL and the
/// command line alike, and nothing is written; a description keeps its line
/// feeds and tabs. Before the fix, all were stored verbatim.
#[test]
fn control_characters_in_names_and_descriptions_are_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let head = s.head();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = profile("Dienst");
        f(&mut p);
        p
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|p| p["organisation"] = json!("Stichting\u{0}Voorbeeld")),
            "profile.organisation",
        ),
        (
            with(&|p| p["name"]["fr"] = json!("\u{1b}[31mService\u{1b}[0m")),
            "profile.name",
        ),
        (
            with(&|p| p["name"]["en"] = json!("Service\r\nX-Forged: 1")),
            "profile.name",
        ),
        (
            with(&|p| p["name"]["nl"] = json!("Dienst\u{202e}tsneid")),
            "profile.name",
        ),
        (
            with(&|p| p["description"]["de"] = json!("Zeile\r\nZeile")),
            "profile.description",
        ),
        (
            with(&|p| p["contact"] = json!({ "url": "https://example.org/\n" })),
            "profile.contact",
        ),
    ];
    for (profile, field) in cases {
        let p = s.admin_mutate("registerService", json!({ "profile": profile }), SVC);
        refused(&p, "CONTROL_CHARACTERS", field);
        assert!(
            !p.to_string().contains('\u{1b}'),
            "the refusal echoes the escape: {p}"
        );
    }
    let p = s.admin_mutate(
        "issueApiKey",
        json!({ "name": "portal\u{1b}[2J" }),
        "apiKey { id }",
    );
    refused(&p, "CONTROL_CHARACTERS", "name");
    assert_eq!(s.head(), head, "a refusal wrote something");
    // Line feeds and tabs in a description are kept.
    let p = s.admin_mutate(
        "registerService",
        json!({ "profile": with(&|p| p["description"]["en"] = json!("Individual sessions.\n\tMondays.")) }),
        "service { serviceId description(lang: EN) }",
    );
    assert_eq!(
        ok(&p)["service"]["description"],
        "Individual sessions.\n\tMondays."
    );
    drop(s);
    // The command line takes the same rule, and its message holds no live escape.
    let out = run_to_end(
        &["api-key", "issue", "--name", "dashboard\u{1b}[2J"],
        dir.path(),
    );
    assert!(!out.success, "{}", out.stdout);
    assert!(
        out.stderr.contains("control characters") && !out.stderr.contains('\u{1b}'),
        "{:?}",
        out.stderr
    );
    let listed = run_to_end(&["api-key", "list"], dir.path());
    assert!(!listed.stdout.contains("dashboard"), "{}", listed.stdout);
}

/// Authorisation first, always: a coordinator of site A whose idempotency key is
/// the id of a site-B record — a recipient or need case id is the key of its
/// creation, so the key names that record's stream and is its first event's id —
/// is told `FORBIDDEN`, exactly as when naming that record, never
/// `IDEMPOTENCY_KEY_REUSED` (which said "this record exists"); the same for a key
/// stored as an event of site B on a command about A's own record, and for an
/// `expectedVersion` on B's record (it said `STALE_VERSION`). Nothing is written.
/// At B's own site, the same reuse still answers `IDEMPOTENCY_KEY_REUSED`.
#[test]
fn an_idempotency_key_naming_another_sites_record_is_forbidden_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let a = mint(dir.path(), "nurse-leuven", "coordinator", &["be-leuven"]);
    let b = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let b_recipient = v7();
    assert_eq!(
        register(
            &s,
            &b,
            "be-liege",
            json!({ "idempotencyKey": b_recipient, "postalCode": "4000" })
        ),
        b_recipient,
        "the key is the record's id"
    );
    let b_case = v7();
    identify(&s, &b, &b_recipient, json!({ "idempotencyKey": b_case }));
    let a_recipient = register(&s, &a, "be-leuven", json!({}));
    let a_case = identify(&s, &a, &a_recipient, json!({}));
    let head = s.head();

    let attempts = [
        // The key names B's recipient's stream (the id defaults to the key).
        (
            "registerCareRecipient",
            json!({ "idempotencyKey": b_recipient, "site": "be-leuven", "birthYear": 1962, "sex": "FEMALE",
                "country": "BE", "postalCode": "3000", "language": "nl" }),
            REC,
        ),
        // The key names B's need case's stream.
        (
            "identifyNeed",
            json!({ "idempotencyKey": b_case, "recipientId": a_recipient, "needCode": "psy.anxiety" }),
            NC,
        ),
        // A's own new record, with a key stored as an event of B's need case.
        (
            "registerCareRecipient",
            json!({ "idempotencyKey": b_case, "recipientId": v7(), "site": "be-leuven", "birthYear": 1962,
                "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl" }),
            REC,
        ),
        // A command on A's own need case, with that key.
        (
            "closeNeed",
            json!({ "idempotencyKey": b_recipient, "needCaseId": a_case, "reason": "MOVED" }),
            NC,
        ),
        // A version guess on B's need case.
        (
            "closeNeed",
            json!({ "needCaseId": b_case, "reason": "MOVED", "expectedVersion": 7 }),
            NC,
        ),
    ];
    for (name, input, selection) in attempts {
        let v = raw(&s, &a, name, input.clone(), selection);
        assert_eq!(top_code(&v), "FORBIDDEN", "{name} {input}: {v}");
        assert_eq!(s.head(), head, "{name} wrote something: {v}");
    }
    // At B's site, reusing the key for another command is still named as such.
    let p = s.mutate_as(
        &b,
        "closeNeed",
        json!({ "idempotencyKey": b_recipient, "needCaseId": b_case, "reason": "MOVED" }),
        NC,
    );
    refused(&p, "IDEMPOTENCY_KEY_REUSED", "idempotencyKey");
    assert_eq!(s.head(), head);
}

/// The demo data set keeps the rules the API keeps: every relative names a patient
/// registered at the relative's own site (it named random ids before). Loading it
/// at all shows its dates meet the time rule (a refused command stops the load).
#[test]
fn the_demo_data_names_real_patients_for_its_relatives() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--demo", "--demo-recipients", "60"]);
    s.wait_ready();
    let d = s.data(
        "{ needCases(first: 100) { edges { node { recipient { recipientId kind patientId site } } } } }",
        json!({}),
    );
    let mut relatives = std::collections::BTreeMap::new();
    for e in d["needCases"]["edges"].as_array().unwrap() {
        let r = &e["node"]["recipient"];
        if r["kind"] == "RELATIVE" {
            relatives.insert(r["recipientId"].to_string(), r.clone());
        }
    }
    assert!(!relatives.is_empty(), "no relative in the demo data: {d}");
    for r in relatives.values() {
        let p = s.data(
            "query($id: ID!) { careRecipient(id: $id) { kind site } }",
            json!({ "id": r["patientId"] }),
        );
        assert_eq!(p["careRecipient"]["kind"], "PATIENT", "{r}: {p}");
        assert_eq!(p["careRecipient"]["site"], r["site"], "{r}: {p}");
    }
}
