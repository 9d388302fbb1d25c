//! The FHIR R4 read interface (issue 17): a referral's whole life read back as
//! Task versions; searches with paging and `_include`; the same authorisation
//! as GraphQL (a provider its organisation's Tasks, a coordinator their sites',
//! an external application only the shared data); an `OperationOutcome` with
//! the right status for every bad request; and every resource produced
//! validated by two independent tools — FHIR.js (npm `fhir`, R4 structures and
//! value sets) and `fhir.resources` (PyPI, R4B models) — with zero errors.

use crate::api::{Answer, Server, mint, mint_provider, v7};
use crate::live::{referred, service_of};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub(crate) const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5f01";

/// The Task id of a referral (need case then referral, 32 hex digits each).
pub(crate) fn task_id(need_case: &str, referral: &str) -> String {
    format!(
        "{}{}",
        need_case.replace('-', ""),
        referral.replace('-', "")
    )
}

fn get(s: &Server, token: &str, path: &str) -> Answer {
    let bearer = format!("Bearer {token}");
    s.http(path, &[("authorization", &bearer)], None)
}

/// A successful FHIR answer's body (asserting 200 and the media type).
pub(crate) fn ok(s: &Server, token: &str, path: &str) -> Value {
    let a = get(s, token, path);
    assert_eq!(a.status, 200, "{path}: {}", a.body);
    assert!(
        a.content_type.starts_with("application/fhir+json"),
        "{}",
        a.content_type
    );
    a.json()
}

/// A refusal: its status, and its body is an OperationOutcome with `code`.
fn refused(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let v = a.json();
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    assert_eq!(v["issue"][0]["code"], code, "{v}");
    assert_eq!(v["issue"][0]["severity"], "error", "{v}");
}

pub(crate) fn answer(
    s: &Server,
    token: &str,
    name: &str,
    need_case: &str,
    referral: &str,
    extra: Value,
) {
    let mut input =
        json!({ "needCaseId": need_case, "referralId": referral, "idempotencyKey": v7() });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let v = s.mutate_as(token, name, input, "userErrors { code message }");
    assert_eq!(v["userErrors"], json!([]), "{name}: {v}");
}

/// The validators' folder, or why they cannot run (under CI: a failure).
fn validators() -> Option<&'static Path> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fhir-validate"));
    let why = if !dir.join("node_modules/fhir").exists() {
        "run `npm ci` in tests/fhir-validate"
    } else if !Command::new("python3")
        .args(["-c", "import fhir.resources.R4B"])
        .status()
        .is_ok_and(|s| s.success())
    {
        "install the PyPI package fhir.resources (pip install fhir.resources==8.0.0)"
    } else {
        return Some(dir);
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the FHIR validators must run in CI: {why}"
    );
    eprintln!("skipping FHIR validation: {why}");
    None
}

/// Runs both validators over `resources`; asserts zero errors.
pub(crate) fn validate(resources: &[Value]) {
    let Some(dir) = validators() else { return };
    let input: String = resources.iter().map(|r| format!("{r}\n")).collect();
    for (program, script) in [("node", "validate.js"), ("python3", "validate.py")] {
        let mut child = Command::new(program)
            .arg(dir.join(script))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<Value> = report
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), resources.len(), "{script}: {report}");
        let bad: Vec<&Value> = lines.iter().filter(|l| l["valid"] != true).collect();
        assert!(
            bad.is_empty() && out.status.success(),
            "{script} found errors: {bad:#?}"
        );
    }
}

#[test]
fn a_referrals_whole_life_reads_back_as_task_versions_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let nurse = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let (need_case, referral) = referred(&s, "be-liege", &service);
    let id = task_id(&need_case, &referral);

    // The provider accepts, waitlists (12 days), starts, completes.
    answer(
        &s,
        &provider,
        "acceptReferral",
        &need_case,
        &referral,
        json!({}),
    );
    answer(
        &s,
        &provider,
        "waitlistReferral",
        &need_case,
        &referral,
        json!({ "estimatedWaitDays": 12 }),
    );
    let waiting = ok(&s, &provider, &format!("/fhir/Task/{id}"));
    // Waitlisted before it started: accepted, with the business status and the wait.
    assert_eq!(waiting["status"], "accepted", "{waiting}");
    assert_eq!(waiting["businessStatus"]["coding"][0]["code"], "waitlisted");
    // A search by status finds it by the status it shows, and only by that.
    let found = |token: &str, status: &str| -> usize {
        ok(
            &s,
            token,
            &format!("/fhir/Task?status={status}&owner=Organization/{ORG}"),
        )["entry"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(
        (found(&provider, "accepted"), found(&provider, "on-hold")),
        (1, 0)
    );
    let wait = waiting["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("estimated-wait"))
        .unwrap()
        .clone();
    assert_eq!(wait["valueDuration"]["value"], 12, "{waiting}");
    answer(
        &s,
        &provider,
        "startReferral",
        &need_case,
        &referral,
        json!({}),
    );
    answer(
        &s,
        &provider,
        "waitlistReferral",
        &need_case,
        &referral,
        json!({}),
    );
    let paused = ok(&s, &nurse, &format!("/fhir/Task/{id}"));
    assert_eq!(
        paused["status"], "on-hold",
        "waitlisted after starting: {paused}"
    );
    assert_eq!(
        (found(&provider, "accepted"), found(&provider, "on-hold")),
        (0, 1)
    );
    answer(
        &s,
        &provider,
        "startReferral",
        &need_case,
        &referral,
        json!({}),
    );
    answer(
        &s,
        &provider,
        "completeReferral",
        &need_case,
        &referral,
        json!({ "outcome": "NEED_PARTLY_MET" }),
    );

    // The Task now: the IG's shape, the outcome in its output.
    let task = get(&s, &nurse, &format!("/fhir/Task/{id}"));
    assert_eq!(task.status, 200, "{}", task.body);
    let t = task.json();
    assert_eq!(t["status"], "completed");
    assert_eq!(t["intent"], "order");
    assert_eq!(t["focus"]["reference"], format!("ServiceRequest/{id}"));
    assert_eq!(t["owner"]["reference"], format!("Organization/{ORG}"));
    assert_eq!(t["requester"]["identifier"]["value"], "be-liege");
    assert_eq!(
        t["output"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "need-partly-met"
    );
    let version = t["meta"]["versionId"].as_str().unwrap().to_string();
    assert_eq!(
        task.header("etag"),
        Some(format!("W/\"{version}\"").as_str())
    );
    assert!(task.header("last-modified").is_some());

    // Its history: every version, newest first, one per move, versions rising.
    let h = ok(&s, &nurse, &format!("/fhir/Task/{id}/_history"));
    assert_eq!(h["type"], "history");
    let entries = h["entry"].as_array().unwrap();
    let oldest = entries.last().unwrap();
    assert_eq!(
        (
            oldest["request"]["method"].as_str(),
            oldest["response"]["status"].as_str()
        ),
        (Some("POST"), Some("201"))
    );
    assert_eq!(entries[0]["request"]["url"], format!("Task/{id}"));
    let statuses: Vec<&str> = h["entry"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["resource"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "requested",
            "accepted",
            "accepted",
            "in-progress",
            "on-hold",
            "in-progress",
            "completed"
        ],
        "{h}"
    );
    let versions: Vec<u64> = h["entry"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            e["resource"]["meta"]["versionId"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert_eq!(versions.last().unwrap().to_string(), version);
    // vread: one version as it was.
    let first = ok(
        &s,
        &nurse,
        &format!("/fhir/Task/{id}/_history/{}", versions[0]),
    );
    assert_eq!(first["status"], "requested");
    refused(
        &get(&s, &nurse, &format!("/fhir/Task/{id}/_history/999")),
        404,
        "not-found",
    );

    // The other resources of the referral, for the coordinator.
    let sr = ok(&s, &nurse, &format!("/fhir/ServiceRequest/{id}"));
    assert_eq!(
        (sr["status"].as_str(), sr["intent"].as_str()),
        (Some("completed"), Some("order"))
    );
    assert_eq!(sr["code"]["coding"][0]["code"], "psy.anxiety");
    let condition = ok(&s, &nurse, &format!("/fhir/Condition/{need_case}"));
    assert_eq!(
        condition["clinicalStatus"]["coding"][0]["code"], "resolved",
        "{condition}"
    );
    let recipient = sr["subject"]["reference"].as_str().unwrap().to_string();
    let patient = ok(&s, &nurse, &format!("/fhir/{recipient}"));
    assert_eq!(patient["birthDate"], "1960");
    assert_eq!(patient["address"][0]["postalCode"], "4000");
    assert!(
        patient.get("name").is_none(),
        "no name was recorded: {patient}"
    );
    let consent = ok(&s, &nurse, &format!("/fhir/Consent/{id}"));
    assert_eq!(
        consent["status"], "inactive",
        "the referral ended: {consent}"
    );
    assert_eq!(
        consent["provision"]["code"][0]["coding"][0]["code"],
        "referral-only"
    );
    let org = ok(&s, &nurse, &format!("/fhir/Organization/{ORG}"));
    assert_eq!(org["name"], "Hôpital Exemple");
    let hs = ok(&s, &nurse, &format!("/fhir/HealthcareService/{service}"));
    assert_eq!(hs["providedBy"]["reference"], format!("Organization/{ORG}"));
    let cs = ok(&s, &nurse, "/fhir/CodeSystem/needs");
    let anxiety = cs["concept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "psy.anxiety")
        .unwrap()
        .clone();
    assert_eq!(
        anxiety["designation"].as_array().unwrap().len(),
        3,
        "{anxiety}"
    );
    let metadata = s.http("/fhir/metadata", &[], None);
    assert_eq!(metadata.status, 200);

    // A rejected referral carries its coded reason.
    let (n2, r2) = referred(&s, "be-liege", &service);
    answer(
        &s,
        &provider,
        "rejectReferral",
        &n2,
        &r2,
        json!({ "reason": "OUT_OF_AREA" }),
    );
    let rejected = ok(&s, &provider, &format!("/fhir/Task/{}", task_id(&n2, &r2)));
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["statusReason"]["coding"][0]["code"], "rejected.out-of-area",
        "{rejected}"
    );

    // Every resource and bundle seen here passes both validators.
    let mut all = vec![
        t.clone(),
        h.clone(),
        first,
        waiting,
        paused,
        sr,
        condition,
        patient,
        consent,
        org,
        hs,
        cs,
        metadata.json(),
        rejected,
    ];
    all.push(ok(
        &s,
        &provider,
        &format!("/fhir/Task?owner=Organization/{ORG}&_include=Task:focus"),
    ));
    all.push(get(&s, &nurse, "/fhir/Task?status=waitlisted").json());
    validate(&all);

    // The IG's rules, asserted here too, on every Task of the history.
    for e in h["entry"].as_array().unwrap() {
        let t = &e["resource"];
        assert_eq!(t["intent"], "order");
        assert!(
            t["focus"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("ServiceRequest/")
        );
        assert!(
            t["for"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Patient/")
        );
    }
}

#[test]
fn searches_page_include_and_keep_to_what_the_caller_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let nurse = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let other = mint(dir.path(), "nurse-aachen", "coordinator", &["de-aachen"]);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let stranger = mint_provider(
        dir.path(),
        "staff-9",
        &["0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5f99"],
    );
    let mut ids: Vec<String> = (0..3)
        .map(|_| {
            let (n, r) = referred(&s, "be-liege", &service);
            task_id(&n, &r)
        })
        .collect();
    ids.sort();
    let (n, r) = referred(&s, "de-aachen", &service);
    let aachen = task_id(&n, &r);
    answer(&s, &provider, "acceptReferral", &n, &r, json!({}));

    // Paged two at a time, following the next link: all three, once each.
    let mut seen = Vec::new();
    let mut url = "/fhir/Task?requester=be-liege&_count=2&_include=Task:focus".to_string();
    loop {
        let b = ok(&s, &nurse, &url);
        assert_eq!(b["type"], "searchset");
        for e in b["entry"].as_array().unwrap() {
            match e["search"]["mode"].as_str().unwrap() {
                "match" => seen.push(e["resource"]["id"].as_str().unwrap().to_string()),
                _ => assert_eq!(e["resource"]["resourceType"], "ServiceRequest"),
            }
            assert!(e["fullUrl"].as_str().unwrap().starts_with("http://"), "{e}");
        }
        let next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next");
        match next {
            Some(l) => {
                let u = l["url"].as_str().unwrap();
                url = u[u.find("/fhir/").unwrap()..].to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);

    // Filters: status, _lastUpdated, owner, patient.
    let count = |token: &str, q: &str| -> usize {
        ok(&s, token, &format!("/fhir/Task?{q}"))["entry"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&nurse, "status=requested"), 3);
    assert_eq!(
        count(&nurse, "status=accepted"),
        0,
        "Aachen's is not the Liège nurse's"
    );
    assert_eq!(count(&other, "status=accepted"), 1);
    assert_eq!(count(&nurse, "_lastUpdated=gt2000-01-01"), 3);
    assert_eq!(count(&nurse, "_lastUpdated=gt2999-01-01"), 0);
    assert_eq!(count(&provider, &format!("owner=Organization/{ORG}")), 4);
    assert_eq!(count(&provider, "status=accepted"), 1);
    let t = ok(&s, &nurse, &format!("/fhir/Task/{}", ids[0]));
    let patient = t["for"]["reference"].as_str().unwrap();
    assert_eq!(count(&nurse, &format!("patient={patient}")), 1);

    // The other resource types' searches.
    let sr = |token: &str, q: &str| -> usize {
        ok(&s, token, &format!("/fhir/{q}"))["entry"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(sr(&nurse, &format!("ServiceRequest?patient={patient}")), 1);
    assert_eq!(sr(&nurse, "Consent?requester=be-liege"), 3);
    assert_eq!(
        sr(&provider, &format!("Consent?owner=Organization/{ORG}")),
        4
    );
    // R4's own names for the performing organisation on those types.
    assert_eq!(
        sr(&provider, &format!("Consent?actor=Organization/{ORG}")),
        4
    );
    assert_eq!(
        sr(
            &provider,
            &format!("ServiceRequest?performer=Organization/{ORG}")
        ),
        4
    );
    refused(
        &get(
            &s,
            &provider,
            &format!("/fhir/Task?actor=Organization/{ORG}"),
        ),
        400,
        "not-supported",
    );
    assert_eq!(
        sr(
            &nurse,
            &format!("Condition?{}", patient.replace("Patient/", "patient="))
        ),
        1
    );
    assert_eq!(
        sr(
            &nurse,
            &format!("Patient?_id={}", patient.trim_start_matches("Patient/"))
        ),
        1
    );
    assert_eq!(
        sr(
            &nurse,
            &format!("HealthcareService?organization=Organization/{ORG}")
        ),
        1
    );
    assert_eq!(sr(&nurse, "Organization"), 1);
    refused(
        &get(&s, &nurse, "/fhir/ServiceRequest?status=active"),
        400,
        "not-supported",
    );
    refused(&get(&s, &nurse, "/fhir/Condition"), 400, "not-supported");
    // A cursor past the end is an empty page, not an overflow.
    let far = ok(
        &s,
        &nurse,
        &format!("/fhir/Condition?patient={patient}&_cursor=18446744073709551615"),
    );
    assert!(
        far.get("entry")
            .is_none_or(|e| e.as_array().unwrap().is_empty()),
        "{far}"
    );
    refused(
        &get(&s, &provider, &format!("/fhir/Condition?patient={patient}")),
        403,
        "forbidden",
    );

    // Authorisation: another site's coordinator, another organisation's provider,
    // an external application: refused, and their searches find nothing of it.
    refused(
        &get(&s, &other, &format!("/fhir/Task/{}", ids[0])),
        403,
        "forbidden",
    );
    // Another organisation's referral looks like none to a provider.
    refused(
        &get(&s, &stranger, &format!("/fhir/Task/{}", ids[0])),
        404,
        "not-found",
    );
    refused(
        &get(&s, &stranger, &format!("/fhir/Task/{}/_history", ids[0])),
        404,
        "not-found",
    );
    assert_eq!(count(&stranger, "status=requested"), 0);
    refused(
        &get(
            &s,
            &stranger,
            &format!("/fhir/Task?owner=Organization/{ORG}"),
        ),
        403,
        "forbidden",
    );
    refused(
        &get(&s, &other, "/fhir/Task?requester=be-liege"),
        403,
        "forbidden",
    );
    refused(
        &get(&s, &provider, &format!("/fhir/{patient}")),
        403,
        "forbidden",
    );
    refused(
        &get(&s, &provider, &format!("/fhir/Condition/{n}")),
        403,
        "forbidden",
    );
    let app = s.admin_mutate("issueApiKey", json!({ "name": "portal" }), "secret");
    let key = app["secret"].as_str().unwrap().to_string();
    refused(
        &get(&s, &key, &format!("/fhir/Task/{aachen}")),
        403,
        "forbidden",
    );
    refused(
        &get(&s, &key, "/fhir/Task?status=requested"),
        403,
        "forbidden",
    );
    ok(&s, &key, &format!("/fhir/HealthcareService/{service}"));
    ok(&s, &key, "/fhir/CodeSystem/needs");
    // The provider reads the Task of their organisation's referral, without the
    // need case behind it.
    let pt = ok(&s, &provider, &format!("/fhir/ServiceRequest/{aachen}"));
    assert!(pt.get("reasonReference").is_none(), "{pt}");
}

#[test]
fn bad_requests_get_an_operation_outcome_with_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let nurse = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let unknown = task_id(&v7(), &v7());
    for (path, status, code) in [
        (format!("/fhir/Task/{unknown}"), 404, "not-found"),
        ("/fhir/Task/not-an-id".to_string(), 404, "not-found"),
        (format!("/fhir/Condition/{}", v7()), 404, "not-found"),
        ("/fhir/Practitioner/1".to_string(), 404, "not-supported"),
        ("/fhir/Task?code=x".to_string(), 400, "not-supported"),
        ("/fhir/Task?status=waitlisted".to_string(), 400, "invalid"),
        ("/fhir/Task?_count=1000".to_string(), 400, "invalid"),
        (
            "/fhir/Task?_lastUpdated=yesterday".to_string(),
            400,
            "invalid",
        ),
        ("/fhir/Task?_cursor=zz".to_string(), 400, "invalid"),
        ("/fhir/Patient?name=x".to_string(), 400, "not-supported"),
        (
            format!("/fhir/Condition/{}/_history", v7()),
            400,
            "not-supported",
        ),
        ("/fhir/Task/x/y/z".to_string(), 404, "not-found"),
    ] {
        refused(&get(&s, &nurse, &path), status, code);
    }
    refused(
        &s.http("/fhir/Task?status=requested", &[], None),
        401,
        "login",
    );
    refused(
        &s.http("/fhir/Task", &[("authorization", "Bearer nope")], None),
        401,
        "login",
    );
    let bearer = format!("Bearer {nurse}");
    refused(
        &s.http(
            "/fhir/Task",
            &[
                ("authorization", &bearer),
                ("accept", "application/fhir+xml"),
            ],
            None,
        ),
        406,
        "not-supported",
    );
    let head = s.head();
    let post = s.http(
        "/fhir/Task",
        &[
            ("authorization", &bearer),
            ("content-type", "application/fhir+json"),
        ],
        Some(b"{}"),
    );
    refused(&post, 405, "not-supported");
    assert_eq!(s.head(), head, "a refused write wrote");
    let outcomes: Vec<Value> = [format!("/fhir/Task/{unknown}"), "/fhir/Task?code=x".into()]
        .iter()
        .map(|p| get(&s, &nurse, p).json())
        .collect();
    validate(&outcomes);
}
