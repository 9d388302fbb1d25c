//! Personal data sealed at rest and erased by crypto-shredding (issue 7, DESIGN §6):
//! names and contact details reach only the site's coordinators and are nowhere in
//! clear on disk; `eraseCareRecipient` destroys the recipient's key, after which no
//! query returns them, the recipient shows as erased, the equity figures still count
//! them and the log stays whole — also after `careledger rebuild`.

use crate::api::{Server, mint, v7};
use crate::helpers::run_to_end;
use serde_json::{Value, json};
use std::path::Path;

const NAME: &str = "Wilhelmina";
const FAMILY: &str = "Vanderschueren-Oosterhout";
const EMAIL: &str = "w.vanderschueren@example.be";

const RECIPIENT: &str = "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { erased erasedAt birthYear
    personalData { givenName familyName phone email address }
    needCases { status recipient { erased } } } }";
const EQUITY: &str = "query($p: Position) { equity(by: SEX, outcome: REFERRAL_RATE, minPosition: $p) { summary { n numerator } } }";

/// Variables asking for an answer that includes everything written so far.
fn now(s: &Server, mut vars: Value) -> Value {
    vars["p"] = json!(s.head().to_string());
    vars
}

/// Every file under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn erased_view(s: &Server, id: &str) -> Value {
    let d = s.data(RECIPIENT, now(s, json!({ "id": id })))["careRecipient"].clone();
    assert_eq!(d["erased"], true, "{d}");
    assert!(d["erasedAt"].is_string(), "{d}");
    assert_eq!(d["personalData"], Value::Null, "{d}");
    assert_eq!(d["birthYear"], 1951, "the stratifiers stay: {d}");
    assert_eq!(
        d["needCases"],
        json!([{ "status": "REFERRED", "recipient": { "erased": true } }]),
        "{d}"
    );
    d
}

fn history(s: &Server, recipient: &str) -> Value {
    s.data(
        "query($s: String!) { history(stream: $s) { type data } }",
        json!({ "s": format!("recipient-{recipient}") }),
    )["history"]
        .clone()
}

#[test]
fn erasure_shreds_personal_data_keeps_statistics_and_survives_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--min-cell", "1"]);
    let qm = mint(dir.path(), "qm-l", "quality_manager", &["be-leuven"]);
    let admin = s.admin.clone();
    let coordinator = s.token.clone();

    // Bad personal data is refused field by field, and nothing is written.
    let head = s.head();
    for (bad, field, code) in [
        (json!({}), "personalData", "EMPTY_PERSONAL_DATA"),
        (
            json!({ "email": "no-at-sign" }),
            "personalData.email",
            "INVALID_EMAIL",
        ),
        (
            json!({ "phone": "call me" }),
            "personalData.phone",
            "INVALID_PHONE",
        ),
        (
            json!({ "givenName": "x".repeat(201) }),
            "personalData.givenName",
            "TOO_LONG",
        ),
    ] {
        let r = s.mutate(
            "registerCareRecipient",
            json!({ "site": "be-leuven", "birthYear": 1951, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl", "personalData": bad }),
            "careRecipient { id }",
        );
        assert_eq!(r["userErrors"][0]["field"], field, "{r}");
        assert_eq!(r["userErrors"][0]["code"], code, "{r}");
    }
    assert_eq!(s.head(), head, "refusals wrote nothing");

    let key = v7();
    let registration = |given: &str| {
        json!({ "idempotencyKey": key, "site": "be-leuven", "birthYear": 1951, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl",
                "personalData": { "givenName": given, "familyName": FAMILY, "phone": "+32 16 12 34 56", "email": EMAIL } })
    };
    const SEL: &str = "careRecipient { id recipientId personalData { givenName } }";
    let r = s.mutate(
        "registerCareRecipient",
        registration(&format!(" {NAME} ")),
        SEL,
    );
    assert_eq!(r["userErrors"], json!([]), "{r}");
    // A retry (same key, same data) is answered as the original and writes nothing;
    // the same key with other personal data is another command, refused.
    let head = s.head();
    let retry = s.mutate("registerCareRecipient", registration(NAME), SEL);
    assert_eq!(retry["userErrors"], json!([]), "{retry}");
    assert_eq!(retry["duplicate"], true, "{retry}");
    assert_eq!(retry["position"], r["position"], "{retry}");
    let other = s.mutate("registerCareRecipient", registration("Someone else"), SEL);
    assert_eq!(
        other["userErrors"][0]["code"], "IDEMPOTENCY_KEY_REUSED",
        "{other}"
    );
    assert_eq!(s.head(), head, "neither the retry nor the reuse wrote");
    assert_eq!(
        r["careRecipient"]["personalData"]["givenName"], NAME,
        "trimmed"
    );
    let id = r["careRecipient"]["id"].as_str().unwrap().to_string();
    let recipient = r["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let case = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "psy.anxiety" }),
        "needCase { needCaseId }",
    )["needCase"]["needCaseId"]
        .as_str()
        .unwrap()
        .to_string();
    let service = s.service();
    for (m, input) in [
        (
            "suggestServices",
            json!({ "needCaseId": case, "services": [{ "serviceId": service }] }),
        ),
        (
            "requestReferral",
            json!({ "needCaseId": case, "serviceId": service }),
        ),
    ] {
        let r = s.mutate(m, input, "needCase { status }");
        assert_eq!(r["userErrors"], json!([]), "{m}: {r}");
    }
    // Another recipient, without personal data, so the figures are not all one person.
    s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1980, "sex": "MALE", "country": "BE", "postalCode": "3001", "language": "fr" }),
        "careRecipient { id }",
    );

    // The site's coordinator reads the data back.
    let d = s.data(RECIPIENT, now(&s, json!({ "id": id })))["careRecipient"].clone();
    assert_eq!(
        d["personalData"],
        json!({ "givenName": NAME, "familyName": FAMILY, "phone": "+32 16 12 34 56", "email": EMAIL, "address": null }),
        "{d}"
    );
    assert_eq!(d["erased"], false);
    // Quality managers and administrators never get it.
    for token in [&qm, &admin] {
        let v = s.gql_as(token, RECIPIENT, now(&s, json!({ "id": id })));
        assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
        assert!(!v.to_string().contains(NAME));
    }
    // The log shows that data was sealed, never the ciphertext or the name.
    let h = history(&s, &recipient);
    assert_eq!(h[0]["data"]["personal_data"], "sealed", "{h}");
    assert!(!h.to_string().contains(NAME));
    // The quality manager's figures are perturbed (the cell-key method: one case
    // is released as 0 to 3), the same ones at every asking; the coordinator's are
    // exact.
    let before = s.data_as(&qm, EQUITY, now(&s, json!({})));
    assert!(
        before["equity"]["summary"]["n"].as_u64().unwrap_or(0) <= 3,
        "{before}"
    );
    assert_eq!(
        s.data(EQUITY, now(&s, json!({})))["equity"]["summary"],
        json!({ "n": 1, "numerator": 1 }),
    );

    // Erasure: administrators only; the coordinator is refused and nothing changes.
    const ERASE: &str = "mutation($i: EraseCareRecipientInput!) { eraseCareRecipient(input: $i) { recipientId erasedAt unchanged duplicate position userErrors { field code } } }";
    let head = s.head();
    let v = s.gql_as(&coordinator, ERASE, json!({ "i": { "recipientId": id } }));
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v}");
    for (bad, code) in [("nope", "INVALID_ID"), (&v7()[..], "RECIPIENT_NOT_FOUND")] {
        let v = s.data_as(&admin, ERASE, json!({ "i": { "recipientId": bad } }));
        assert_eq!(
            v["eraseCareRecipient"]["userErrors"][0]["code"], code,
            "{v}"
        );
    }
    assert_eq!(s.head(), head, "refused erasures wrote nothing");
    assert_eq!(
        s.data(RECIPIENT, now(&s, json!({ "id": id })))["careRecipient"]["personalData"]["givenName"],
        NAME,
        "a refused erasure destroyed nothing"
    );
    let e = s.data_as(&admin, ERASE, json!({ "i": { "recipientId": id } }))["eraseCareRecipient"]
        .clone();
    assert_eq!(e["userErrors"], json!([]), "{e}");
    assert_eq!(e["unchanged"], false);
    assert!(e["erasedAt"].is_string(), "{e}");
    let head = s.head();
    let again =
        s.data_as(&admin, ERASE, json!({ "i": { "recipientId": id } }))["eraseCareRecipient"]
            .clone();
    assert_eq!(again["unchanged"], true, "{again}");
    assert_eq!(s.head(), head, "erasing again writes nothing");

    // Afterwards: no query returns the data; the recipient shows as erased; the
    // figures still count them; the log is intact and readable.
    erased_view(&s, &id);
    let h = history(&s, &recipient);
    let types: Vec<_> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(
        types,
        vec!["CareRecipientRegistered", "CareRecipientErased"]
    );
    assert_eq!(
        s.data_as(&qm, EQUITY, now(&s, json!({}))),
        before,
        "statistics still count them"
    );
    assert_eq!(
        s.data(EQUITY, now(&s, json!({})))["equity"]["summary"],
        json!({ "n": 1, "numerator": 1 }),
        "statistics still count them (exact, for the coordinator)"
    );
    // Their personal data cannot be recorded again.
    let r = s.mutate(
        "registerCareRecipient",
        json!({ "recipientId": recipient, "site": "be-leuven", "birthYear": 1951, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl", "personalData": { "givenName": NAME } }),
        "careRecipient { id }",
    );
    assert_eq!(r["userErrors"][0]["code"], "RECIPIENT_ERASED", "{r}");
    assert_eq!(s.head(), head);

    // Nothing in the data directory holds the name in clear: not the log, not the
    // read-model checkpoint, not the key vault.
    assert!(s.running.stop_with("TERM").success());
    // The recipient's key itself is gone from the vault (crypto-shredding), while
    // the other recipients' keys are not touched.
    let vault = rusqlite::Connection::open(dir.path().join("keys.db")).unwrap();
    let (gone, destroyed): (bool, bool) = vault
        .query_row(
            "SELECT key IS NULL, destroyed_at IS NOT NULL FROM recipient_keys WHERE recipient = ?1",
            [&recipient],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(gone && destroyed, "the key was destroyed");
    drop(vault);
    for needle in [NAME, FAMILY, EMAIL] {
        assert_eq!(
            files_holding(dir.path(), needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }

    // Rebuilt from the log, the read models still show the recipient as erased.
    let out = run_to_end(&["rebuild"], dir.path());
    assert!(out.success, "{}", out.stderr);
    let s = Server::start_with_token(dir.path(), &["--min-cell", "1"], &coordinator);
    s.wait_ready();
    erased_view(&s, &id);
    assert_eq!(history(&s, &recipient).as_array().unwrap().len(), 2);
    assert_eq!(s.data_as(&qm, EQUITY, now(&s, json!({}))), before);
}

/// Issue 16: a note on a referral is sealed under the recipient's key, so
/// erasing the recipient makes it unreadable (`text: null, erased: true`) for
/// coordinators — also once the read models are rebuilt from the log — and its
/// text is nowhere in clear on disk.
#[test]
fn erasure_makes_notes_unreadable_also_after_a_rebuild() {
    const NOTE: &str = "Notemarker-e9a1: Wilhelmina prefers mornings";
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let (admin, coordinator) = (s.admin.clone(), s.token.clone());
    let r = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-leuven", "birthYear": 1951, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl",
                "personalData": { "givenName": NAME } }),
        "careRecipient { id recipientId }",
    );
    let recipient = r["careRecipient"]["id"].as_str().unwrap().to_string();
    let uuid = r["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let case = s.mutate(
        "identifyNeed",
        json!({ "recipientId": uuid, "needCode": "psy.anxiety" }),
        "needCase { needCaseId }",
    )["needCase"]["needCaseId"]
        .as_str()
        .unwrap()
        .to_string();
    let service = s.service();
    s.mutate(
        "suggestServices",
        json!({ "needCaseId": case, "services": [{ "serviceId": service }] }),
        "userErrors { code }",
    );
    let referral = s.mutate(
        "requestReferral",
        json!({ "needCaseId": case, "serviceId": service }),
        "referral { referralId }",
    )["referral"]["referralId"]
        .as_str()
        .unwrap()
        .to_string();
    let n = s.mutate(
        "addReferralNote",
        json!({ "needCaseId": case, "referralId": referral, "text": NOTE }),
        "note { text } userErrors { code }",
    );
    assert_eq!(n["note"]["text"], NOTE, "{n}");
    const NOTES: &str = "query($id: ID!, $p: Position) { needCase(id: $id, minPosition: $p) { referrals { notes { side text erased } } } }";
    let notes = |s: &Server| {
        s.data(NOTES, now(s, json!({ "id": case })))["needCase"]["referrals"][0]["notes"].clone()
    };
    assert_eq!(
        notes(&s),
        json!([{ "side": "REQUESTER", "text": NOTE, "erased": false }])
    );

    let e = s.data_as(
        &admin,
        "mutation($i: EraseCareRecipientInput!) { eraseCareRecipient(input: $i) { userErrors { code } } }",
        json!({ "i": { "recipientId": recipient } }),
    );
    assert_eq!(e["eraseCareRecipient"]["userErrors"], json!([]), "{e}");
    let erased = json!([{ "side": "REQUESTER", "text": null, "erased": true }]);
    assert_eq!(notes(&s), erased);
    let late = s.mutate(
        "addReferralNote",
        json!({ "needCaseId": case, "referralId": referral, "text": "too late" }),
        "userErrors { code }",
    );
    assert_eq!(late["userErrors"][0]["code"], "RECIPIENT_ERASED", "{late}");

    assert!(s.running.stop_with("TERM").success());
    assert_eq!(
        files_holding(dir.path(), "Notemarker-e9a1"),
        Vec::<String>::new()
    );
    let out = run_to_end(&["rebuild"], dir.path());
    assert!(out.success, "{}", out.stderr);
    let s = Server::start_with_token(dir.path(), &[], &coordinator);
    s.wait_ready();
    assert_eq!(notes(&s), erased, "after a rebuild");
}
