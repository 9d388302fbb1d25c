//! The audit trail: who did what, when, at which site — for quality managers (their
//! sites) and administrators only.

use crate::api::{Server, mint};
use serde_json::{Value, json};

const Q: &str =
    "query($stream: String, $actor: String, $site: String, $first: Int, $after: String) {
  auditTrail(stream: $stream, actor: $actor, site: $site, first: $first, after: $after) {
    edges { cursor node { type stream site actor { subject role } } }
    pageInfo { hasNextPage endCursor } } }";

fn register(s: &Server, token: &str, site: &str, country: &str, postal: &str) -> Value {
    let v = s.gql_as(
        token,
        "mutation($i: RegisterCareRecipientInput!) { registerCareRecipient(input: $i) { careRecipient { recipientId } userErrors { code } } }",
        json!({ "i": { "site": site, "birthYear": 1960, "sex": "MALE", "country": country, "postalCode": postal, "language": "nl" } }),
    );
    assert_eq!(
        v["data"]["registerCareRecipient"]["userErrors"],
        json!([]),
        "{v}"
    );
    v
}

fn types(v: &Value) -> Vec<(String, String)> {
    v["data"]["auditTrail"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| {
            (
                e["node"]["site"].as_str().unwrap_or("-").to_string(),
                e["node"]["actor"]["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_audit_trail_answers_by_site_actor_and_stream_within_the_callers_sites() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let leuven = mint(dir.path(), "nurse-l", "coordinator", &["be-leuven"]);
    let koeln = mint(dir.path(), "nurse-k", "coordinator", &["de-koeln"]);
    let qm = mint(dir.path(), "qm-l", "quality_manager", &["be-leuven"]);
    register(&s, &leuven, "be-leuven", "BE", "3000");
    register(&s, &leuven, "be-leuven", "BE", "3001");
    let k = register(&s, &koeln, "de-koeln", "DE", "50667");
    let koeln_recipient = k["data"]["registerCareRecipient"]["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();

    // Administrators: by site, by actor, by stream; paged.
    let v = s.gql_as(&s.admin, Q, json!({ "site": "be-leuven" }));
    assert_eq!(
        types(&v),
        vec![("be-leuven".into(), "nurse-l".into()); 2],
        "{v}"
    );
    let v = s.gql_as(&s.admin, Q, json!({ "actor": "nurse-k" }));
    assert_eq!(
        types(&v),
        vec![("de-koeln".to_string(), "nurse-k".to_string())],
        "{v}"
    );
    let v = s.gql_as(
        &s.admin,
        Q,
        json!({ "stream": format!("recipient-{koeln_recipient}") }),
    );
    assert_eq!(
        v["data"]["auditTrail"]["edges"][0]["node"]["type"], "CareRecipientRegistered",
        "{v}"
    );
    let p1 = s.gql_as(&s.admin, Q, json!({ "site": "be-leuven", "first": 1 }));
    assert_eq!(
        p1["data"]["auditTrail"]["pageInfo"]["hasNextPage"],
        json!(true),
        "{p1}"
    );
    let cursor = p1["data"]["auditTrail"]["pageInfo"]["endCursor"].clone();
    let p2 = s.gql_as(
        &s.admin,
        Q,
        json!({ "site": "be-leuven", "first": 1, "after": cursor }),
    );
    assert_eq!(types(&p2).len(), 1);
    assert_eq!(
        p2["data"]["auditTrail"]["pageInfo"]["hasNextPage"],
        json!(false),
        "{p2}"
    );
    assert_ne!(
        p1["data"]["auditTrail"]["edges"][0]["cursor"],
        p2["data"]["auditTrail"]["edges"][0]["cursor"]
    );

    // A quality manager: their site only — another site is refused, and an actor's
    // trail is narrowed to their sites.
    let v = s.gql_as(&qm, Q, json!({ "site": "be-leuven" }));
    assert_eq!(types(&v).len(), 2, "{v}");
    let v = s.gql_as(&qm, Q, json!({ "site": "de-koeln" }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    let v = s.gql_as(&qm, Q, json!({ "actor": "nurse-k" }));
    assert_eq!(types(&v), vec![], "{v}");

    // Coordinators are refused; a query naming nothing, or bad paging, a bad site or
    // stream, is bad input.
    let v = s.gql_as(&leuven, Q, json!({ "site": "be-leuven" }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    for bad in [
        json!({}),
        json!({ "site": "be-leuven", "first": 0 }),
        json!({ "site": "be-leuven", "first": 101 }),
        json!({ "site": "be-leuven", "after": "not-a-cursor" }),
        json!({ "site": "Not A Site" }),
        json!({ "stream": "nonsense" }),
    ] {
        let v = s.gql_as(&s.admin, Q, bad.clone());
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}: {v}"
        );
    }
}

/// Every field of an audit-trail entry, `data` included.
const FULL: &str = "query($stream: String, $actor: String, $site: String) {
  auditTrail(stream: $stream, actor: $actor, site: $site, first: 100) {
    edges { cursor node { eventId stream version position type occurredAt recordedAt
      actor { subject role } site correlationId causationId data } }
    pageInfo { hasNextPage endCursor } } }";

/// The stems of the recipient's stratifier fields: no key of an audit-trail answer
/// may hold one (snake or camel case, compared without `_` and case).
const STRATIFIER_FIELDS: [&str; 12] = [
    "birthyear",
    "sex",
    "postal",
    "language",
    "cancersite",
    "deprivation",
    "preferential",
    "region",
    "country",
    "kind",
    "ageband",
    "patient",
];

/// Every key anywhere in `v`, and every scalar value (as text).
fn keys_and_values(v: &Value, keys: &mut Vec<String>, values: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                keys.push(k.clone());
                keys_and_values(x, keys, values);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys_and_values(x, keys, values)),
        Value::String(s) => values.push(s.clone()),
        Value::Number(n) => values.push(n.to_string()),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Panics naming the first stratifier field or value `answer` holds.
fn assert_no_stratifier(who: &str, answer: &Value) {
    let (mut keys, mut values) = (vec![], vec![]);
    keys_and_values(answer, &mut keys, &mut values);
    let norm = |s: &str| s.replace('_', "").to_lowercase();
    for k in &keys {
        assert!(
            !STRATIFIER_FIELDS.iter().any(|f| norm(k).contains(f)),
            "{who}: the audit trail holds the stratifier field '{k}': {answer}"
        );
    }
    // The values the test registered: birth year, postal code, region, country,
    // language, sex, cancer site group, preferential reimbursement, kind, age band
    // (the deprivation decile, a small number, cannot be told from a version by
    // value: its field name is what is checked).
    for bad in [
        "1947", "1348", "BE-WBR", "BE", "fr-BE", "female", "breast", "yes", "patient", "75+",
    ] {
        assert!(
            !values.iter().any(|v| v.eq_ignore_ascii_case(bad)),
            "{who}: the audit trail holds the stratifier value '{bad}': {answer}"
        );
    }
    // And, in the raw text, neither the distinctive values nor the matcher's reason
    // codes that state a stratifier (the recipient's reimbursement status, language,
    // address, age, kind).
    let raw = answer.to_string().to_lowercase();
    for bad in [
        "fr-be",
        "female",
        "breast",
        "preferential",
        "speaks_language",
        "language_not_spoken",
        "in_postal_area",
        "in_region",
        "in_country",
        "age_eligible",
        "maximum_age",
        "serves_patients",
        "score",
    ] {
        assert!(
            !raw.contains(bad),
            "{who}: the audit trail's text holds '{bad}': {answer}"
        );
    }
}

/// Issue 14, finding 2 — the minimum-necessary audit trail: a recipient registered
/// with every stratifier goes through a lifecycle (a ranked suggestion whose reasons
/// depend on those stratifiers, a rejected and a completed referral, a closed need
/// case). The audit trail, read by a quality manager of the site and by an
/// administrator — by site, by actor and by each stream — holds no stratifier field
/// or value anywhere, yet keeps who did what, when, where, on which stream, and the
/// lifecycle fields (need, services, ranks, states, reason codes, outcome). The
/// site's coordinator still reads the stratifiers in the streams' history.
#[test]
fn the_audit_trail_shows_lifecycle_fields_but_never_the_recipients_stratifiers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let nurse = mint(dir.path(), "nurse-l", "coordinator", &["be-leuven"]);
    let qm = mint(dir.path(), "qm-l", "quality_manager", &["be-leuven"]);
    let ok = |p: &Value| assert_eq!(p["userErrors"], json!([]), "refused: {p}");

    // Two services for the ranked suggestion: one chosen for the recipient's
    // reimbursement status, postal code and language, one left out for their age.
    let service = |languages: Value, area: Value, eligibility: Value| {
        let text = json!({ "en": "Audit", "fr": "Audit", "nl": "Audit", "de": "Audit" });
        let v = s.admin_mutate(
            "registerService",
            json!({ "profile": { "organisation": "Audit", "name": text, "description": text,
                "needs": ["psy.anxiety"], "languages": languages, "area": area,
                "eligibility": eligibility, "cost": "FREE" } }),
            "service { serviceId }",
        );
        ok(&v);
        v["service"]["serviceId"].as_str().unwrap().to_string()
    };
    let chosen = service(
        json!(["fr"]),
        json!({ "postalCodes": [{ "country": "BE", "code": "1348" }] }),
        json!({ "requiresPreferentialReimbursement": true }),
    );
    let too_old = service(
        json!(["nl"]),
        json!({ "countries": ["BE"] }),
        json!({ "maxAge": 64 }),
    );

    let p = s.mutate_as(
        &nurse,
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1947, "sex": "FEMALE", "country": "BE",
                "postalCode": "1348", "language": "fr-BE", "preferentialReimbursement": "YES",
                "deprivationDecile": 2, "cancerSiteGroup": "BREAST" }),
        "careRecipient { recipientId region }",
    );
    ok(&p);
    assert_eq!(p["careRecipient"]["region"], "BE-WBR", "{p}");
    let recipient = p["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();

    // Case a: ranked suggestion, rejected, referred again, waitlisted, started, completed.
    let identify = || {
        let p = s.mutate_as(
            &nurse,
            "identifyNeed",
            json!({ "recipientId": recipient, "needCode": "psy.anxiety" }),
            "needCase { needCaseId }",
        );
        ok(&p);
        p["needCase"]["needCaseId"].as_str().unwrap().to_string()
    };
    let a = identify();
    let p = s.mutate_as(
        &nurse,
        "suggestServices",
        json!({ "needCaseId": a }),
        "needCase { suggestions { serviceId rank score reasons } leftOutServices { serviceId reasons } }",
    );
    ok(&p);
    let suggested = p["needCase"]["suggestions"].to_string();
    assert!(
        suggested.contains("for_preferential_reimbursement") && suggested.contains(&chosen),
        "the ranking rests on the stratifiers: {p}"
    );
    let refer = |case: &str| {
        let p = s.mutate_as(
            &nurse,
            "requestReferral",
            json!({ "needCaseId": case, "serviceId": chosen }),
            "referral { referralId }",
        );
        ok(&p);
        p["referral"]["referralId"].as_str().unwrap().to_string()
    };
    let on = |name: &str, case: &str, referral: &str, extra: Value| {
        let mut input = json!({ "needCaseId": case, "referralId": referral });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ok(&s.mutate_as(&nurse, name, input, "needCase { status }"));
    };
    let r1 = refer(&a);
    on(
        "rejectReferral",
        &a,
        &r1,
        json!({ "reason": "NOT_ELIGIBLE" }),
    );
    let r2 = refer(&a);
    on("acceptReferral", &a, &r2, json!({}));
    on(
        "waitlistReferral",
        &a,
        &r2,
        json!({ "estimatedWaitDays": 12 }),
    );
    on("startReferral", &a, &r2, json!({}));
    on(
        "completeReferral",
        &a,
        &r2,
        json!({ "outcome": "NEED_PARTLY_MET" }),
    );
    // Case b: closed without referral.
    let b = identify();
    ok(&s.mutate_as(
        &nurse,
        "closeNeed",
        json!({ "needCaseId": b, "reason": "DECLINED_BY_RECIPIENT" }),
        "needCase { status }",
    ));

    let recipient_stream = format!("recipient-{recipient}");
    let (a_stream, b_stream) = (format!("need-{a}"), format!("need-{b}"));
    let asks = [
        json!({ "site": "be-leuven" }),
        json!({ "actor": "nurse-l" }),
        json!({ "stream": recipient_stream }),
        json!({ "stream": a_stream }),
        json!({ "stream": b_stream }),
    ];
    for (who, token) in [("quality manager", &qm), ("administrator", &s.admin)] {
        for ask in &asks {
            let v = s.gql_as(token, FULL, ask.clone());
            assert!(v.get("errors").is_none(), "{who} {ask}: {v}");
            assert_no_stratifier(&format!("{who} {ask}"), &v);
        }
        // Who did what, when, where, on which stream; the lifecycle fields.
        let v = s.gql_as(token, FULL, json!({ "site": "be-leuven" }));
        let nodes: Vec<&Value> = v["data"]["auditTrail"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|e| &e["node"])
            .collect();
        let types: Vec<&str> = nodes.iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "CareRecipientRegistered",
                "NeedIdentified",
                "ServicesSuggested",
                "ReferralRequested",
                "ReferralRejected",
                "ReferralRequested",
                "ReferralAccepted",
                "ReferralWaitlisted",
                "ReferralStarted",
                "ReferralCompleted",
                "NeedIdentified",
                "NeedClosed"
            ],
            "{who}: {v}"
        );
        for n in &nodes {
            assert_eq!(
                n["actor"],
                json!({ "subject": "nurse-l", "role": "coordinator" }),
                "{who}: {n}"
            );
            assert_eq!(n["site"], "be-leuven", "{who}: {n}");
            assert!(n["recordedAt"].is_string() && n["occurredAt"].is_string());
        }
        let data = |i: usize| &nodes[i]["data"];
        assert_eq!(nodes[0]["stream"], recipient_stream.as_str());
        assert_eq!(
            *data(0),
            json!({ "recipient": recipient, "site": "be-leuven" })
        );
        assert_eq!(nodes[1]["stream"], a_stream.as_str());
        assert_eq!(
            *data(1),
            json!({ "need_case": a, "need": "psy.anxiety", "domain": "psychosocial",
                    "recipient": recipient, "site": "be-leuven" }),
            "{who}"
        );
        assert_eq!(
            data(2)["suggestions"][0]["service"],
            chosen.as_str(),
            "{who}: {v}"
        );
        assert!(
            data(2)["suggestions"][0].get("rank").is_none(),
            "{who}: no rank (its order follows the recipient): {v}"
        );
        assert_eq!(
            data(2)["suggestions"][0]["reasons"],
            json!(["addresses_need", "has_capacity", "free"]),
            "{who}: the reasons that depend on the service alone stay"
        );
        assert_eq!(
            data(2)["left_out"],
            json!([]),
            "{who}: {too_old} was left out for the recipient's age only, which its presence would say"
        );
        assert_eq!(
            *data(3),
            json!({ "referral": r1, "service": chosen, "first": true, "consent": "referral_only" })
        );
        assert_eq!(
            *data(4),
            json!({ "referral": r1, "service": chosen, "reason": "not_eligible" })
        );
        assert_eq!(data(7)["estimated_wait_days"], 12);
        assert_eq!(
            *data(9),
            json!({ "referral": r2, "service": chosen, "outcome": "need_partly_met" })
        );
        assert_eq!(*data(11), json!({ "reason": "declined_by_recipient" }));
    }

    // The site's coordinator keeps the whole record in the streams' history.
    let h = s.data_as(
        &nurse,
        "query($a: String!, $r: String!) { r: history(stream: $r) { type data } a: history(stream: $a) { type data } }",
        json!({ "r": recipient_stream, "a": a_stream }),
    );
    let profile = &h["r"][0]["data"]["profile"];
    assert_eq!(profile["birth_year"], 1947, "{h}");
    assert_eq!(profile["postal_code"]["code"], "1348", "{h}");
    assert_eq!(profile["language"], "fr-BE", "{h}");
    assert_eq!(profile["cancer_site_group"], "breast", "{h}");
    assert_eq!(profile["deprivation_decile"], 2, "{h}");
    assert_eq!(profile["preferential_reimbursement"], "yes", "{h}");
    let identified = &h["a"][0]["data"];
    assert_eq!(identified["recipient"]["sex"], "female", "{h}");
    assert_eq!(identified["recipient"]["region"], "BE-WBR", "{h}");
    assert_eq!(identified["age_band"], "75+", "{h}");
    let reasons = h["a"][1]["data"]["suggestions"][0]["reasons"].to_string();
    assert!(reasons.contains("speaks_language"), "{h}");
}
