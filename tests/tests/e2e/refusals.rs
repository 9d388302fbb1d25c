//! Every refusal is explained, typed, and writes nothing (the log's head does not move).

use crate::api::{Server, v7};
use serde_json::{Value, json};

const SEL: &str = "needCase { status version }";

/// Asserts a payload was refused with `code` (on `field`, if given) and wrote nothing.
fn refused(s: &Server, head_before: u64, p: &Value, code: &str, field: Option<&str>) {
    let errors = p["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors: {p}"));
    assert_eq!(errors.len(), 1, "{p}");
    assert_eq!(errors[0]["code"], code, "{p}");
    if let Some(f) = field {
        assert_eq!(errors[0]["field"], f, "{p}");
    }
    assert!(!errors[0]["message"].as_str().unwrap().is_empty());
    assert_eq!(p["position"], Value::Null, "{p}");
    assert_eq!(s.head(), head_before, "a refusal wrote something: {p}");
}

#[test]
fn bad_ids_forbidden_transitions_stale_versions_and_bad_values_are_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let rec = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-liege", "birthYear": 1970, "sex": "MALE", "country": "BE", "postalCode": "4000", "language": "fr" }),
        "careRecipient { recipientId }",
    );
    let recipient = rec["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let nc = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "med.pain" }),
        "needCase { needCaseId }",
    );
    assert_eq!(nc["userErrors"], json!([]), "{nc}");
    let id = nc["needCase"]["needCaseId"].as_str().unwrap().to_string();
    let service = s.service();
    let head = s.head();

    // Malformed and unknown ids.
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": "not-an-id", "reason": "MOVED" }),
        SEL,
    );
    refused(&s, head, &p, "INVALID_ID", Some("needCaseId"));
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": v7(), "reason": "MOVED" }),
        SEL,
    );
    refused(&s, head, &p, "NEED_CASE_NOT_FOUND", Some("needCaseId"));
    let p = s.mutate(
        "acceptReferral",
        json!({ "needCaseId": id, "referralId": v7() }),
        SEL,
    );
    refused(&s, head, &p, "REFERRAL_NOT_FOUND", Some("referralId"));
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": v7(), "needCode": "med.pain" }),
        SEL,
    );
    refused(&s, head, &p, "RECIPIENT_NOT_FOUND", Some("recipientId"));
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "med.no-such-need" }),
        SEL,
    );
    refused(&s, head, &p, "UNKNOWN_NEED", Some("needCode"));
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "Pain!" }),
        SEL,
    );
    refused(&s, head, &p, "INVALID_NEED_CODE", Some("needCode"));

    // Bad values at registration.
    let base = json!({ "site": "be-liege", "birthYear": 1970, "sex": "MALE", "country": "BE", "postalCode": "4000", "language": "fr" });
    for (field, value, code) in [
        ("postalCode", json!("40000"), "INVALID_POSTAL_CODE"),
        ("country", json!("US"), "UNSUPPORTED_COUNTRY"),
        ("birthYear", json!(1800), "INVALID_BIRTH_YEAR"),
        ("site", json!("Be Liege"), "INVALID_SITE"),
        ("deprivationDecile", json!(11), "INVALID_DECILE"),
        ("language", json!("french"), "INVALID_LANGUAGE"),
        (
            "idempotencyKey",
            json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            "INVALID_IDEMPOTENCY_KEY",
        ),
    ] {
        let mut input = base.clone();
        input[field] = value;
        let p = s.mutate(
            "registerCareRecipient",
            input,
            "careRecipient { recipientId }",
        );
        refused(&s, head, &p, code, Some(field));
    }

    // Forbidden transitions: refer before suggesting; accept twice; close with an open referral.
    let p = s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": service }),
        SEL,
    );
    refused(&s, head, &p, "SERVICES_NOT_SUGGESTED", None);
    s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "services": [{ "serviceId": service }] }),
        SEL,
    );
    let r = v7();
    s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": service, "referralId": r }),
        SEL,
    );
    let accepted = s.mutate(
        "acceptReferral",
        json!({ "needCaseId": id, "referralId": r }),
        SEL,
    );
    assert_eq!(accepted["userErrors"], json!([]));
    let head = s.head();
    let p = s.mutate(
        "acceptReferral",
        json!({ "needCaseId": id, "referralId": r }),
        SEL,
    );
    refused(&s, head, &p, "TRANSITION_NOT_ALLOWED", None);
    let p = s.mutate(
        "rejectReferral",
        json!({ "needCaseId": id, "referralId": r, "reason": "OTHER" }),
        SEL,
    );
    refused(&s, head, &p, "TRANSITION_NOT_ALLOWED", None);
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": id, "reason": "MOVED" }),
        SEL,
    );
    refused(&s, head, &p, "OPEN_REFERRAL", None);
    let p = s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": service }),
        SEL,
    );
    refused(&s, head, &p, "REFERRAL_ALREADY_OPEN", None);
    let p = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "services": [{ "serviceId": service, "reasons": ["Free text with a name"] }] }),
        SEL,
    );
    refused(&s, head, &p, "INVALID_REASON_CODE", Some("services"));
    // In the future.
    let p = s.mutate(
        "startReferral",
        json!({ "needCaseId": id, "referralId": r, "occurredAt": "2999-01-01T00:00:00Z" }),
        SEL,
    );
    refused(&s, head, &p, "OCCURRED_IN_FUTURE", Some("occurredAt"));

    // A stale expected version: the case is at version 3 (identified, suggested, requested, accepted).
    let p = s.mutate(
        "startReferral",
        json!({ "needCaseId": id, "referralId": r, "expectedVersion": 2 }),
        SEL,
    );
    refused(&s, head, &p, "STALE_VERSION", Some("expectedVersion"));
    let p = s.mutate(
        "startReferral",
        json!({ "needCaseId": id, "referralId": r, "expectedVersion": 3 }),
        SEL,
    );
    assert_eq!(p["userErrors"], json!([]), "{p}");
    assert_eq!(p["needCase"]["version"], 4);
}

/// A replayed idempotency key gets the same answer and writes nothing; the same key
/// on another command is refused; ids default to the key, so a retried creation
/// names the same record.
#[test]
fn a_replayed_idempotency_key_answers_the_same_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let key = v7();
    let input = json!({ "idempotencyKey": key, "site": "nl-nijmegen", "birthYear": 1980, "sex": "OTHER", "country": "NL", "postalCode": "6511 aa", "language": "nl" });
    let first = s.mutate(
        "registerCareRecipient",
        input.clone(),
        "careRecipient { recipientId postalCode }",
    );
    assert_eq!(first["duplicate"], false);
    assert_eq!(
        first["careRecipient"]["recipientId"],
        key.as_str(),
        "the new id is the key"
    );
    assert_eq!(first["careRecipient"]["postalCode"], "6511AA");
    let head = s.head();
    let again = s.mutate(
        "registerCareRecipient",
        input,
        "careRecipient { recipientId postalCode }",
    );
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["position"], first["position"]);
    assert_eq!(again["careRecipient"], first["careRecipient"]);
    assert_eq!(s.head(), head);

    let nkey = v7();
    let identify =
        json!({ "idempotencyKey": nkey, "recipientId": key, "needCode": "spi.return-to-work" });
    let a = s.mutate("identifyNeed", identify.clone(), SEL);
    assert_eq!(a["userErrors"], json!([]), "{a}");
    let skey = v7();
    let suggest = json!({ "idempotencyKey": skey, "needCaseId": nkey, "services": [{ "serviceId": s.service() }] });
    let first = s.mutate("suggestServices", suggest.clone(), SEL);
    let head = s.head();
    // Retries of both, after the case moved on: same answers, nothing written.
    let b = s.mutate("identifyNeed", identify, SEL);
    assert_eq!(
        (b["duplicate"].clone(), b["position"].clone()),
        (json!(true), a["position"].clone())
    );
    let again = s.mutate("suggestServices", suggest, SEL);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["position"], first["position"]);
    assert_eq!(s.head(), head);
    // The same key for a different command.
    let p = s.mutate(
        "closeNeed",
        json!({ "idempotencyKey": skey, "needCaseId": nkey, "reason": "MOVED" }),
        SEL,
    );
    refused(
        &s,
        head,
        &p,
        "IDEMPOTENCY_KEY_REUSED",
        Some("idempotencyKey"),
    );
    // ... and for a command on another record.
    let p = s.mutate(
        "registerCareRecipient",
        json!({ "idempotencyKey": skey, "recipientId": v7(), "site": "nl-nijmegen", "birthYear": 1980, "sex": "OTHER", "country": "NL", "postalCode": "6511AA", "language": "nl" }),
        "careRecipient { recipientId }",
    );
    refused(
        &s,
        head,
        &p,
        "IDEMPOTENCY_KEY_REUSED",
        Some("idempotencyKey"),
    );
}
