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
