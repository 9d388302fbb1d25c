//! Issue 16 (closed loop, first slices): the performing organisation answers the
//! referrals addressed to it. A provider's token names its organisations; the
//! existing referral mutations accept a provider's answer for a referral whose
//! service belongs to one of them (HL7 SDOH IG: the performer accepts, rejects,
//! waitlists, starts, completes, fails, and may cancel), and return the referral
//! without the need case behind it. Requester-side commands, other
//! organisations' referrals and unknown ones are refused alike, writing nothing.

use crate::api::{Server, mint_provider, v7};
use serde_json::{Value, json};

const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
const OTHER_ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6c";
const SEL: &str =
    "needCase { needCaseId status } referral { referralId status outcome } userErrors { code }";

fn service_of(s: &Server, org: &str) -> String {
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

/// A need case at `be-liege` with a referral requested to `service`.
fn referred(s: &Server, service: &str) -> (String, String) {
    let r = s.mutate(
        "registerCareRecipient",
        json!({ "site": "be-liege", "birthYear": 1960, "sex": "MALE", "country": "BE",
                "postalCode": "4000", "language": "fr" }),
        "careRecipient { recipientId } userErrors { code }",
    );
    let recipient = r["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string();
    let n = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "psy.anxiety" }),
        "needCase { needCaseId } userErrors { code }",
    );
    let id = n["needCase"]["needCaseId"].as_str().unwrap().to_string();
    let x = s.mutate(
        "suggestServices",
        json!({ "needCaseId": id, "services": [{ "serviceId": service }] }),
        "userErrors { code }",
    );
    assert_eq!(x["userErrors"], json!([]), "{x}");
    let q = s.mutate(
        "requestReferral",
        json!({ "needCaseId": id, "serviceId": service, "idempotencyKey": v7() }),
        "referral { referralId } userErrors { code }",
    );
    assert_eq!(q["userErrors"], json!([]), "{q}");
    (
        id,
        q["referral"]["referralId"].as_str().unwrap().to_string(),
    )
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
