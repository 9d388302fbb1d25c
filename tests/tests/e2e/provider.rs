//! Issue 16 (closed loop, first slices): the performing organisation answers the
//! referrals addressed to it. A provider's token names its organisations; the
//! existing referral mutations accept a provider's answer for a referral whose
//! service belongs to one of them (HL7 SDOH IG: the performer accepts, rejects,
//! waitlists, starts, completes, fails, and may cancel), and return the referral
//! without the need case behind it. Requester-side commands, other
//! organisations' referrals and unknown ones are refused alike, writing nothing.

use crate::api::{Server, mint_provider, v7};
use crate::live::service_of;
use serde_json::{Value, json};

const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
const OTHER_ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6c";
const SEL: &str =
    "needCase { needCaseId status } referral { referralId status outcome } userErrors { code }";

/// A need case at `be-liege` with a referral requested to `service`.
fn referred(s: &Server, service: &str) -> (String, String) {
    crate::live::referred(s, "be-liege", service)
}

fn forbidden(v: &Value) -> bool {
    v["errors"][0]["extensions"]["code"] == "FORBIDDEN"
}

#[test]
fn a_provider_answers_its_organisations_referrals_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let service = service_of(&s, ORG);
    let (need_case, referral) = referred(&s, &service);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let stranger = mint_provider(dir.path(), "staff-9", &[OTHER_ORG]);
    let run = |token: &str, name: &str, input: Value| -> Value {
        let ty = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
        let sel = if name == "closeNeed" {
            "needCase { needCaseId } userErrors { code }"
        } else {
            SEL
        };
        let q = format!("mutation($i: {ty}!) {{ {name}(input: $i) {{ {sel} }} }}");
        s.gql_as(token, &q, json!({ "i": input }))
    };
    let refer = json!({ "needCaseId": need_case, "referralId": referral });

    // Another organisation's provider, an unknown referral and an unknown need
    // case get the same refusal; a provider may not act for the requester side.
    let head = s.head();
    for (token, name, input) in [
        (&stranger, "acceptReferral", refer.clone()),
        (
            &provider,
            "acceptReferral",
            json!({ "needCaseId": need_case, "referralId": v7() }),
        ),
        (
            &provider,
            "acceptReferral",
            json!({ "needCaseId": v7(), "referralId": referral }),
        ),
        (
            &provider,
            "cancelReferral",
            json!({ "needCaseId": need_case, "referralId": referral, "by": "REQUESTER", "reason": "NO_LONGER_NEEDED" }),
        ),
        (
            &provider,
            "closeNeed",
            json!({ "needCaseId": need_case, "reason": "MOVED" }),
        ),
        (
            &provider,
            "requestReferral",
            json!({ "needCaseId": need_case, "serviceId": service }),
        ),
    ] {
        let v = run(token, name, input);
        assert!(forbidden(&v), "{name}: {v}");
        assert!(
            v.get("data")
                .is_none_or(|d| !d.to_string().contains("needCaseId")),
            "{v}"
        );
    }
    assert_eq!(s.head(), head, "a refused answer wrote");
    let v = s.gql_as(
        &provider,
        "query($id: ID!) { needCase(id: $id) { status } }",
        json!({ "id": need_case }),
    );
    assert!(forbidden(&v), "a provider reads the need case: {v}");

    // The inbox lists the referral, unanswered, with the minimum necessary; another
    // organisation's inbox and a coordinator are refused.
    let inbox = |token: &str, org: &str| {
        s.gql_as(
            token,
            "query($o: ID!) { referralInbox(organisation: $o) { totalCount edges { node {
                needCaseId daysWaiting unansweredOverdue preferredLanguage ageBand
                need { code } referral { referralId status unansweredOverdue } } } } }",
            json!({ "o": org }),
        )
    };
    let v = inbox(&provider, ORG);
    let box_ = &v["data"]["referralInbox"];
    assert_eq!(box_["totalCount"], 1, "{v}");
    let node = &box_["edges"][0]["node"];
    assert_eq!(node["needCaseId"], need_case.as_str(), "{v}");
    assert_eq!(node["referral"]["referralId"], referral.as_str(), "{v}");
    assert_eq!(node["referral"]["status"], "REQUESTED", "{v}");
    assert_eq!(node["need"]["code"], "psy.anxiety", "{v}");
    assert_eq!(node["preferredLanguage"], "fr", "{v}");
    assert_eq!(node["ageBand"], "65-74", "{v}");
    assert_eq!(node["daysWaiting"], 0, "{v}");
    assert_eq!(node["unansweredOverdue"], false, "{v}");
    assert!(
        forbidden(&inbox(&stranger, ORG)),
        "another organisation's inbox"
    );
    assert!(forbidden(&inbox(&s.token, ORG)), "a coordinator's inbox");
    assert_eq!(
        inbox(&stranger, OTHER_ORG)["data"]["referralInbox"]["totalCount"],
        0
    );
    let v = inbox(&provider, "not-a-uuid");
    assert_eq!(
        v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );

    // The provider accepts, starts and completes: each answer comes back with the
    // referral and without the need case.
    for (name, extra, status) in [
        ("acceptReferral", json!({}), "ACCEPTED"),
        ("startReferral", json!({}), "IN_PROGRESS"),
        (
            "completeReferral",
            json!({ "outcome": "NEED_MET" }),
            "COMPLETED",
        ),
    ] {
        let mut input = refer.clone();
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let v = run(&provider, name, input);
        let p = &v["data"][name];
        assert_eq!(p["userErrors"], json!([]), "{name}: {v}");
        assert_eq!(p["referral"]["status"], status, "{name}: {v}");
        assert_eq!(
            p["needCase"],
            Value::Null,
            "{name}: the provider saw the need case: {v}"
        );
    }

    // The coordinator sees the answers, recorded by the provider.
    let h = s.data(
        "query($s: String!) { history(stream: $s) { type actor { role subject } } }",
        json!({ "s": format!("need-{need_case}") }),
    );
    let events = h["history"].as_array().unwrap();
    let answered: Vec<&Value> = events
        .iter()
        .filter(|e| e["actor"]["role"] == "provider")
        .map(|e| &e["type"])
        .collect();
    assert_eq!(
        answered,
        [
            &json!("ReferralAccepted"),
            &json!("ReferralStarted"),
            &json!("ReferralCompleted")
        ],
        "{h}"
    );
    let v = s.data(
        "query($id: ID!) { needCase(id: $id) { status } }",
        json!({ "id": need_case }),
    );
    assert_eq!(v["needCase"]["status"], "COMPLETED", "{v}");
    // A completed referral has left the inbox.
    assert_eq!(
        inbox(&provider, ORG)["data"]["referralInbox"]["totalCount"],
        0
    );
}

/// A need case at `be-liege` for a recipient with names and contact details,
/// referred to `service` with `consent`: (need case, referral).
fn referred_with(s: &Server, service: &str, need: &str, consent: &str) -> (String, String) {
    let r = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-liege", "birthYear": 1958, "sex": "FEMALE", "country": "BE",
                "postalCode": "4000", "language": "fr",
                "personalData": { "givenName": "Zélie", "familyName": "Wauters",
                                  "phone": "+32 4 555 66 77", "email": "zelie@example.be",
                                  "address": "Rue Haute 9, 4000 Liège" } }),
        "careRecipient { recipientId } userErrors { code }",
    );
    let recipient = r["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let id = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": need }),
        "needCase { needCaseId }",
    )["needCase"]["needCaseId"]
        .as_str()
        .unwrap()
        .to_string();
    s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "services": [{ "serviceId": service }] }),
        "userErrors { code }",
    );
    let q = s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": service, "consent": consent }),
        "referral { referralId consent } userErrors { code }",
    );
    assert_eq!(q["userErrors"], json!([]), "{q}");
    assert_eq!(q["referral"]["consent"], consent, "{q}");
    (
        id,
        q["referral"]["referralId"].as_str().unwrap().to_string(),
    )
}

const INBOX: &str =
    "query($o: ID!, $p: Position) { referralInbox(organisation: $o, minPosition: $p) {
    edges { node { needCaseId referral { referralId consent } contact { name phone email } } } } }";

/// The contact each inbox entry shows, by referral id.
fn contacts(s: &Server, token: &str, at: &Value) -> std::collections::BTreeMap<String, Value> {
    let v = s.gql_as(token, INBOX, json!({ "o": ORG, "p": at }));
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["referralInbox"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["referral"]["referralId"].as_str().unwrap().to_string(),
                n["contact"].clone(),
            )
        })
        .collect()
}

/// Issue 16: the provider sees the recipient's name, phone and e-mail address
/// (never the address) only for a referral requested with consent to share
/// them; not once the consent is withdrawn (read your write), nor once the
/// referral closes; the coordinators see the consent; a provider never reaches
/// the recipient's personal data; only coordinators withdraw.
#[test]
fn contact_details_follow_the_recipients_consent() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let service = service_of(&s, ORG);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let (with, a) = referred_with(&s, &service, "psy.anxiety", "REFERRAL_AND_CONTACT");
    let (without, b) = referred_with(&s, &service, "psy.anger", "REFERRAL_ONLY");
    let (closing, c) = referred_with(&s, &service, "psy.coping", "REFERRAL_AND_CONTACT");
    let head = json!(s.head().to_string());
    let seen = contacts(&s, &provider, &head);
    assert_eq!(
        seen[&a],
        json!({ "name": "Zélie Wauters", "phone": "+32 4 555 66 77", "email": "zelie@example.be" })
    );
    assert_eq!(seen[&b], Value::Null);
    assert!(!seen[&c].is_null());
    let v = s.gql_as(
        &provider,
        "query($id: ID!) { needCase(id: $id) { recipient { personalData { givenName } } } }",
        json!({ "id": with }),
    );
    assert!(forbidden(&v), "{v}");
    assert!(!v.to_string().contains("Zélie"), "{v}");

    // Withdrawal: the provider may not; the coordinator does, once.
    let input = json!({ "needCaseId": with, "referralId": a });
    let sel = "referral { consent } position userErrors { code }";
    let before = s.head();
    let v = s.gql_as(
        &provider,
        &format!("mutation($i: WithdrawReferralConsentInput!) {{ withdrawReferralConsent(input: $i) {{ {sel} }} }}"),
        json!({ "i": input }),
    );
    assert!(forbidden(&v), "{v}");
    let none = s.mutate(
        "withdrawReferralConsent",
        json!({ "needCaseId": without, "referralId": b }),
        sel,
    );
    assert_eq!(
        none["userErrors"][0]["code"], "NO_CONSENT_TO_WITHDRAW",
        "{none}"
    );
    assert_eq!(s.head(), before, "refusals wrote nothing");
    let done = s.mutate("withdrawReferralConsent", input, sel);
    assert_eq!(done["userErrors"], json!([]), "{done}");
    assert_eq!(done["referral"]["consent"], "REFERRAL_ONLY");
    let seen = contacts(&s, &provider, &done["position"]);
    assert_eq!(seen[&a], Value::Null, "withdrawn: no contact details");

    // A closed referral leaves the inbox, and no contact details are read for it.
    let rejected = s.mutate_as(
        &provider,
        "rejectReferral",
        json!({ "needCaseId": closing, "referralId": c, "reason": "NO_CAPACITY" }),
        "position userErrors { code }",
    );
    assert_eq!(rejected["userErrors"], json!([]), "{rejected}");
    assert!(!contacts(&s, &provider, &rejected["position"]).contains_key(&c));
}

/// Issue 16: coordinators of the site and the provider of the organisation
/// write and read notes on a referral; the text is validated without being
/// echoed; others are refused and nothing is written; the audit trail and the
/// need case's history show the note as sealed, never its text.
#[test]
fn notes_on_a_referral_between_coordinator_and_provider() {
    const MARKER: &str = "Note-marker-51d2 rappeler Zélie mardi";
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let service = service_of(&s, ORG);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let stranger = mint_provider(dir.path(), "staff-9", &[OTHER_ORG]);
    let leuven = crate::api::mint(dir.path(), "nurse-lv", "coordinator", &["be-leuven"]);
    let qm = crate::api::mint(dir.path(), "qm", "quality_manager", &["*"]);
    let (id, referral) = referred_with(&s, &service, "psy.anxiety", "REFERRAL_ONLY");
    let note = |text: &str| json!({ "needCaseId": id, "referralId": referral, "text": text });
    const SEL: &str =
        "note { noteId side text erased } position duplicate userErrors { field code message }";

    let before = s.head();
    for token in [&stranger, &leuven, &qm] {
        let v = s.gql_as(
            token,
            &format!(
                "mutation($i: AddReferralNoteInput!) {{ addReferralNote(input: $i) {{ {SEL} }} }}"
            ),
            json!({ "i": note(MARKER) }),
        );
        assert!(forbidden(&v), "{v}");
    }
    for (bad, code) in [
        ("  ", "EMPTY_NOTE"),
        ("Marker\u{1b}[2J", "CONTROL_CHARACTERS"),
    ] {
        let v = s.mutate("addReferralNote", note(bad), SEL);
        assert_eq!(v["userErrors"][0]["code"], code, "{v}");
        assert!(
            !v.to_string().contains("Marker"),
            "the text is not echoed: {v}"
        );
    }
    let long = "é".repeat(2001);
    let v = s.mutate("addReferralNote", note(&long), SEL);
    assert_eq!(v["userErrors"][0]["code"], "NOTE_TOO_LONG", "{v}");
    assert_eq!(s.head(), before, "refusals wrote nothing");

    let key = v7();
    let mut first_input = note(MARKER);
    first_input["idempotencyKey"] = json!(key);
    let first = s.mutate("addReferralNote", first_input.clone(), SEL);
    assert_eq!(first["userErrors"], json!([]), "{first}");
    assert_eq!(first["note"]["side"], "REQUESTER");
    assert_eq!(first["note"]["noteId"], key.as_str());
    let retry = s.mutate("addReferralNote", first_input, SEL);
    assert_eq!(
        (retry["duplicate"].clone(), retry["position"].clone()),
        (json!(true), first["position"].clone())
    );
    let answer = s.mutate_as(
        &provider,
        "addReferralNote",
        note("Vu, nous l'appelons."),
        SEL,
    );
    assert_eq!(answer["userErrors"], json!([]), "{answer}");
    assert_eq!(answer["note"]["side"], "PERFORMER");

    let p = &answer["position"];
    let coordinator = s.data(
        "query($id: ID!, $p: Position) { needCase(id: $id, minPosition: $p) { referrals { notes { side text erased } } } }",
        json!({ "id": id, "p": p }),
    );
    let expected = json!([
        { "side": "REQUESTER", "text": MARKER, "erased": false },
        { "side": "PERFORMER", "text": "Vu, nous l'appelons.", "erased": false },
    ]);
    assert_eq!(
        coordinator["needCase"]["referrals"][0]["notes"], expected,
        "{coordinator}"
    );
    let inbox = s.data_as(
        &provider,
        "query($o: ID!, $p: Position) { referralInbox(organisation: $o, minPosition: $p) { edges { node { notes { side text erased } } } } }",
        json!({ "o": ORG, "p": p }),
    );
    assert_eq!(
        inbox["referralInbox"]["edges"][0]["node"]["notes"], expected,
        "{inbox}"
    );

    // Never in clear in the audit trail or the history.
    let admin = s.admin.clone();
    let audit = s.gql_as(
        &admin,
        "query($s: String!) { auditTrail(stream: $s, first: 50) { edges { node { type data } } } }",
        json!({ "s": format!("need-{id}") }),
    );
    assert!(audit["errors"].is_null(), "{audit}");
    let trail = audit.to_string();
    assert!(
        trail.contains("ReferralNoteAdded") && trail.contains("sealed"),
        "{trail}"
    );
    let history = s.gql(
        "query($s: String!) { history(stream: $s) { type data } }",
        json!({ "s": format!("need-{id}") }),
    );
    let h = history.to_string();
    assert!(h.contains("ReferralNoteAdded"), "{h}");
    for text in [&audit.to_string(), &h] {
        assert!(
            !text.contains("Note-marker-51d2") && !text.contains("appelons"),
            "{text}"
        );
    }
}
