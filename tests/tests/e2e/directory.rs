//! The service directory and ranked, explained suggestions over HTTP.

use crate::api::{Server, mint, v7};
use crate::helpers::run_to_end;
use serde_json::{Value, json};

const SEL: &str = "service { serviceId name capacity active version }";

fn text(s: &str) -> Value {
    json!({ "en": format!("{s}"), "fr": format!("{s} (fr)"), "nl": format!("{s} (nl)"), "de": format!("{s} (de)") })
}

fn profile(name: &str, need: &str, area: Value, languages: &[&str], cost: &str) -> Value {
    json!({
        "organisation": "Stichting Voorbeeld",
        "name": text(name),
        "description": text(&format!("{name}: what it offers")),
        "needs": [need],
        "languages": languages,
        "area": area,
        "cost": cost,
        "contact": { "email": "info@example.org", "url": "https://example.org" },
    })
}

fn register(s: &Server, p: Value, capacity: Value) -> String {
    let r = s.admin_mutate(
        "registerService",
        json!({ "idempotencyKey": v7(), "profile": p, "capacity": capacity }),
        SEL,
    );
    assert_eq!(r["userErrors"], json!([]), "{r}");
    r["service"]["serviceId"].as_str().unwrap().to_string()
}

#[test]
fn the_directory_ranks_and_explains_suggestions_and_tracks_service_load() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let need = "psy.fear-of-recurrence";
    let has = json!({ "status": "HAS_CAPACITY" });
    let a = register(
        &s,
        profile(
            "Leuven psycho-oncology",
            need,
            json!({ "regions": ["BE-VBR"] }),
            &["nl", "en"],
            "FREE",
        ),
        has.clone(),
    );
    let b = register(
        &s,
        profile(
            "Belgian helpline",
            need,
            json!({ "countries": ["BE"] }),
            &["fr"],
            "FEE",
        ),
        json!({ "status": "WAITLIST", "estimatedWaitDays": 30 }),
    );
    let c = register(
        &s,
        profile(
            "Maastricht centre",
            need,
            json!({ "countries": ["NL"] }),
            &["nl"],
            "FREE",
        ),
        has.clone(),
    );
    let other = register(
        &s,
        profile(
            "Housing advice",
            "soc.housing",
            json!({ "countries": ["BE"] }),
            &["nl"],
            "FREE",
        ),
        has.clone(),
    );
    let mut relatives = profile(
        "Relatives group",
        need,
        json!({ "regions": ["BE-VBR"] }),
        &["nl"],
        "FREE",
    );
    relatives["eligibility"] = json!({ "patients": false, "relatives": true });
    let e = register(&s, relatives, has.clone());

    // A recipient in Leuven (3000, BE-VBR), Dutch-speaking, and their need.
    let rec = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1960, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl" }),
        "careRecipient { recipientId }",
    );
    let nc = s.mutate(
        "identifyNeed",
        json!({ "recipientId": rec["careRecipient"]["recipientId"], "needCode": need }),
        "needCase { needCaseId }",
    );
    let id = nc["needCase"]["needCaseId"].as_str().unwrap().to_string();

    // Ranked: A (region 20 + capacity 25 + language 30 + free 15 = 90), then B
    // (country 10 + waitlist 25-7=18 + French only 0 + fee 0 = 28).
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id }),
        "needCase { status suggestions { serviceId rank score reasons service { name(lang: FR) } } leftOutServices { serviceId reasons } }",
    );
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let sug = &p["needCase"]["suggestions"];
    assert_eq!(sug[0]["serviceId"], a.as_str());
    assert_eq!(
        (sug[0]["rank"].clone(), sug[0]["score"].clone()),
        (json!(1), json!(90))
    );
    assert_eq!(
        sug[0]["reasons"],
        json!([
            "addresses_need",
            "serves_patients",
            "in_region",
            "has_capacity",
            "speaks_language",
            "free"
        ])
    );
    assert_eq!(sug[0]["service"]["name"], "Leuven psycho-oncology (fr)");
    assert_eq!(sug[1]["serviceId"], b.as_str());
    assert_eq!(sug[1]["score"], 28);
    assert!(
        sug[1]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("waitlist_30_days"))
    );
    assert!(
        sug[1]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("language_not_spoken"))
    );
    assert_eq!(sug.as_array().unwrap().len(), 2);
    let left: Vec<(String, Value)> = p["needCase"]["leftOutServices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["serviceId"].as_str().unwrap().to_string(),
                l["reasons"].clone(),
            )
        })
        .collect();
    assert!(
        left.contains(&(c.clone(), json!(["outside_service_area"]))),
        "{left:?}"
    );
    assert!(
        left.contains(&(e.clone(), json!(["relatives_only"]))),
        "{left:?}"
    );
    assert!(
        !left.iter().any(|(s, _)| *s == other),
        "a service for another need is not listed"
    );

    // The event records the ranking and what it was computed from; the
    // stream's history shows its left-out services, recomputed (issue 19).
    let history = || {
        s.data(
            "query($s: String!) { history(stream: $s) { type data } }",
            json!({ "s": format!("need-{id}") }),
        )
    };
    let h = history();
    let suggested = h["history"][1].clone();
    assert_eq!(suggested["type"], "ServicesSuggested");
    assert_eq!(suggested["data"]["suggestions"][0]["score"], 90);
    assert_eq!(suggested["data"]["left_out"].as_array().unwrap().len(), 2);
    assert_eq!(suggested["data"]["ranked"]["matcher_version"], 1, "{h}");

    // An unchanged update writes nothing; a capacity change is ranked in.
    let head = s.head();
    let same = s.admin_mutate(
        "updateService",
        json!({ "serviceId": a, "profile": profile("Leuven psycho-oncology", need, json!({ "regions": ["BE-VBR"] }), &["en", "nl", "nl"], "FREE") }),
        "unchanged service { version }",
    );
    assert_eq!(
        (same["unchanged"].clone(), same["userErrors"].clone()),
        (json!(true), json!([])),
        "{same}"
    );
    assert_eq!(s.head(), head);
    s.admin_mutate(
        "changeServiceCapacity",
        json!({ "serviceId": a, "capacity": { "status": "NO_CAPACITY" } }),
        SEL,
    );
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "limit": 5 }),
        "needCase { id suggestions { serviceId } leftOutServices { serviceId reasons } }",
    );
    assert_eq!(p["needCase"]["suggestions"], json!([{ "serviceId": b }]));
    assert!(
        p["needCase"]["leftOutServices"]
            .as_array()
            .unwrap()
            .contains(&json!({ "serviceId": a, "reasons": ["no_capacity"] }))
    );
    // The first ranking's left-out list is the directory's as it was then: the
    // capacity change since does not show in it.
    assert_eq!(history()["history"][1], suggested);
    let q = s.data(
        "query($id: ID!) { node(id: $id) { ... on NeedCase { leftOutBasis { recomputed directoryPosition matcherVersion unavailable } } } }",
        json!({ "id": p["needCase"]["id"] }),
    );
    let basis = &q["node"]["leftOutBasis"];
    assert_eq!(
        (
            basis["recomputed"].clone(),
            basis["matcherVersion"].clone(),
            basis["unavailable"].clone()
        ),
        (json!(true), json!(1), Value::Null),
        "{q}"
    );

    // Search: by need, language, place, cost, text; retired ones only on request.
    let count = |filter: Value| {
        let p = s.head().to_string();
        let d = s.data(
            "query($f: ServiceFilterInput, $p: Position) { services(filter: $f, minPosition: $p) { totalCount } }",
            json!({ "f": filter, "p": p }),
        );
        d["services"]["totalCount"].as_u64().unwrap()
    };
    assert_eq!(count(json!({})), 5);
    assert_eq!(count(json!({ "need": need })), 4);
    assert_eq!(count(json!({ "language": "fr" })), 1);
    assert_eq!(count(json!({ "postalCode": "3000", "country": "BE" })), 4);
    assert_eq!(count(json!({ "country": "NL" })), 1);
    assert_eq!(count(json!({ "cost": "FEE" })), 1);
    assert_eq!(count(json!({ "text": "HOUSING" })), 1);
    assert_eq!(count(json!({ "hasCapacity": false })), 1);
    s.admin_mutate("retireService", json!({ "serviceId": b }), SEL);
    assert_eq!(count(json!({})), 4);
    assert_eq!(count(json!({ "includeRetired": true })), 5);
    let again = s.admin_mutate("retireService", json!({ "serviceId": b }), SEL);
    assert_eq!(again["userErrors"][0]["code"], "SERVICE_RETIRED");

    // Load: refer to the service suggested, which accepts.
    s.admin_mutate(
        "changeServiceCapacity",
        json!({ "serviceId": a, "capacity": { "status": "HAS_CAPACITY" } }),
        SEL,
    );
    s.mutate(
        "suggestServices",
        json!({ "needCaseId": id }),
        "needCase { status }",
    );
    let r = v7();
    let req = s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": a, "referralId": r }),
        "needCase { status }",
    );
    assert_eq!(req["userErrors"], json!([]), "{req}");
    let acc = s.mutate(
        "acceptReferral",
        json!({ "needCaseId": id, "referralId": r }),
        "needCase { status }",
    );
    let d = s.data(
        "query($id: ID!, $p: Position) { service(id: $id, minPosition: $p) { load { requested accepted acceptanceRate medianDaysToAcceptance } } }",
        json!({ "id": a, "p": acc["position"] }),
    );
    assert_eq!(
        d["service"]["load"],
        json!({ "requested": 0, "accepted": 1, "acceptanceRate": 1.0, "medianDaysToAcceptance": 0.0 })
    );
}

#[test]
fn directory_changes_are_checked_and_kept_to_administrators() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let head = s.head();
    let mut bad = profile(
        "X",
        "psy.anxiety",
        json!({ "countries": ["BE"] }),
        &["nl"],
        "FREE",
    );
    bad["eligibility"] = json!({ "minAge": 70, "maxAge": 18 });
    let r = s.admin_mutate("registerService", json!({ "profile": bad }), SEL);
    assert_eq!(r["userErrors"][0]["code"], "INVALID_SERVICE", "{r}");
    assert_eq!(r["userErrors"][0]["field"], "profile.eligibility");
    let r = s.admin_mutate("registerService", json!({ "profile": profile("X", "psy.nothing-like-it", json!({ "countries": ["BE"] }), &["nl"], "FREE") }), SEL);
    assert_eq!(r["userErrors"][0]["code"], "UNKNOWN_NEED", "{r}");
    let r = s.admin_mutate("registerService", json!({ "profile": profile("X", "psy.anxiety", json!({ "regions": ["Flanders"] }), &["nl"], "FREE") }), SEL);
    assert_eq!(r["userErrors"][0]["code"], "INVALID_REGION", "{r}");
    let r = s.admin_mutate(
        "registerService",
        json!({ "profile": profile("X", "psy.anxiety", json!({ "countries": ["BE"] }), &["nl"], "FREE"), "capacity": { "status": "WAITLIST" } }),
        SEL,
    );
    assert_eq!(r["userErrors"][0]["code"], "INVALID_CAPACITY", "{r}");
    let r = s.admin_mutate(
        "changeServiceCapacity",
        json!({ "serviceId": v7(), "capacity": { "status": "NO_CAPACITY" } }),
        SEL,
    );
    assert_eq!(r["userErrors"][0]["code"], "SERVICE_NOT_FOUND", "{r}");
    assert_eq!(s.head(), head, "refusals wrote nothing");

    // A ranked suggestion with nothing eligible, or a bad limit, writes nothing.
    let rec = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1960, "sex": "MALE", "country": "BE", "postalCode": "3000", "language": "nl" }),
        "careRecipient { recipientId }",
    );
    let nc = s.mutate(
        "identifyNeed",
        json!({ "recipientId": rec["careRecipient"]["recipientId"], "needCode": "soc.pets" }),
        "needCase { needCaseId }",
    );
    let id = nc["needCase"]["needCaseId"].clone();
    let head = s.head();
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id }),
        "needCase { status }",
    );
    assert_eq!(p["userErrors"][0]["code"], "NO_ELIGIBLE_SERVICE", "{p}");
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "limit": 0 }),
        "needCase { status }",
    );
    assert_eq!(p["userErrors"][0]["code"], "INVALID_LIMIT", "{p}");
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": v7() }),
        "needCase { status }",
    );
    assert_eq!(p["userErrors"][0]["code"], "NEED_CASE_NOT_FOUND", "{p}");
    assert_eq!(s.head(), head, "refusals wrote nothing");

    let nurse = mint(dir.path(), "nurse-2", "coordinator", &["be-leuven"]);
    let v = s.gql_as(
        &nurse,
        "mutation($i: RegisterServiceInput!) { registerService(input: $i) { position } }",
        json!({ "i": { "profile": profile("X", "psy.anxiety", json!({ "countries": ["BE"] }), &["nl"], "FREE") } }),
    );
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    assert_eq!(s.head(), head);
}

pub(crate) fn example_package() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/data/hsds-example")
}

pub(crate) fn log_head(stdout: &str) -> u64 {
    let tail = stdout
        .split("log head now ")
        .nth(1)
        .unwrap_or_else(|| panic!("{stdout}"));
    tail.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// The shipped package imports whole; importing it again writes nothing; a broken
/// copy is refused naming each bad record, and nothing is written.
#[test]
fn import_hsds_imports_the_shipped_package_once_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pkg = example_package();
    let pkg = pkg.as_os_str();
    let first = run_to_end(&[std::ffi::OsStr::new("import-hsds"), pkg], &data);
    assert!(first.success, "{}", first.stderr);
    assert!(
        first.stdout.contains("imported 83 services")
            && first
                .stdout
                .contains("83 registered, 0 updated, 0 unchanged, 1 retired"),
        "{}",
        first.stdout
    );
    let head = log_head(&first.stdout);
    let again = run_to_end(&[std::ffi::OsStr::new("import-hsds"), pkg], &data);
    assert!(again.success, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("0 registered, 0 updated, 83 unchanged, 0 retired"),
        "{}",
        again.stdout
    );
    assert_eq!(
        log_head(&again.stdout),
        head,
        "an unchanged package writes nothing"
    );

    // A broken copy: a bad language code, a need not in the catalogue.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for entry in std::fs::read_dir(example_package()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), broken.join(entry.file_name())).unwrap();
    }
    let langs = std::fs::read_to_string(broken.join("languages.json")).unwrap();
    std::fs::write(
        broken.join("languages.json"),
        langs.replacen("\"code\": \"nl\"", "\"code\": \"Dutch\"", 1),
    )
    .unwrap();
    let needs = std::fs::read_to_string(broken.join("need_services.json")).unwrap();
    std::fs::write(
        broken.join("need_services.json"),
        needs.replacen("\"psy.", "\"psy.unknown-", 1),
    )
    .unwrap();
    let fresh = dir.path().join("fresh");
    let bad = run_to_end(
        &[std::ffi::OsStr::new("import-hsds"), broken.as_os_str()],
        &fresh,
    );
    assert!(!bad.success);
    assert!(
        bad.stderr.contains("languages.json")
            && bad.stderr.contains("'Dutch' is not a valid language tag"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("need_services.json")
            && bad.stderr.contains("unknown need code 'psy.unknown-"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("2 problem(s)") && bad.stderr.contains("nothing imported"),
        "{}",
        bad.stderr
    );
    assert!(!fresh.exists(), "nothing written, not even a store");

    // The server serves the imported directory.
    let s = Server::start(&data, &[]);
    s.wait_ready();
    let d = s.data("{ all: services { totalCount } retired: services(filter: { includeRetired: true }) { totalCount } nl: services(filter: { language: \"nl\", need: \"psy.anxiety\" }) { totalCount } }", json!({}));
    assert_eq!(d["all"]["totalCount"], 82);
    assert_eq!(d["retired"]["totalCount"], 83);
    assert!(d["nl"]["totalCount"].as_u64().unwrap() >= 3, "{d}");
}

/// Issue 16 (prerequisite of the provider side): a service records the id of its
/// organisation (HSDS `organization.id`) — given on registration, kept by the
/// import, `null` where none was recorded — and a malformed id is refused
/// with nothing written.
#[test]
fn a_service_records_its_organisation_id() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let org = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
    let sel = "service { serviceId organisation organisationId }";

    let mut p = profile(
        "Org",
        "psy.anxiety",
        json!({ "countries": ["BE"] }),
        &["nl"],
        "FREE",
    );
    p["organisationId"] = json!("not-a-uuid");
    let head = s.head();
    let r = s.admin_mutate("registerService", json!({ "profile": p.clone() }), sel);
    assert_eq!(r["userErrors"][0]["code"], "INVALID_ID", "{r}");
    assert_eq!(r["userErrors"][0]["field"], "organisationId", "{r}");
    assert_eq!(s.head(), head, "a refused registration wrote");

    p["organisationId"] = json!(org);
    let r = s.admin_mutate("registerService", json!({ "profile": p }), sel);
    assert_eq!(r["userErrors"], json!([]), "{r}");
    assert_eq!(r["service"]["organisationId"], org, "{r}");

    let without = profile(
        "NoOrg",
        "psy.anxiety",
        json!({ "countries": ["BE"] }),
        &["nl"],
        "FREE",
    );
    // The directory can be searched by organisation.
    let v = s.gql_as(
        &s.admin,
        "query($o: ID!, $p: Position) { services(first: 10, filter: { organisationId: $o }, minPosition: $p) { totalCount edges { node { organisationId } } } }",
        json!({ "o": org, "p": s.head().to_string() }),
    );
    assert_eq!(v["data"]["services"]["totalCount"], 1, "{v}");
    let v = s.gql_as(
        &s.admin,
        "{ services(first: 10, filter: { organisationId: \"nope\" }) { totalCount } }",
        json!({}),
    );
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
    let r = s.admin_mutate("registerService", json!({ "profile": without }), sel);
    assert_eq!(r["service"]["organisationId"], Value::Null, "{r}");

    // The shipped HSDS package's services keep their organisation's id.
    drop(s);
    let other = tempfile::tempdir().unwrap();
    let pkg = example_package();
    let out = run_to_end(
        &[std::ffi::OsStr::new("import-hsds"), pkg.as_os_str()],
        other.path(),
    );
    assert!(out.success, "{}", out.stderr);
    let s = Server::start(other.path(), &[]);
    // The read models catch up after the server answers: wait for the import.
    s.wait_ready();
    let v = s.gql_as(
        &s.admin,
        "{ services(first: 100) { edges { node { organisationId } } } }",
        json!({}),
    );
    let ids: Vec<&Value> = v["data"]["services"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| &e["node"]["organisationId"])
        .collect();
    assert!(!ids.is_empty(), "{v}");
    assert!(
        ids.iter()
            .all(|id| id.as_str().is_some_and(|i| i.len() == 36)),
        "{v}"
    );
}
