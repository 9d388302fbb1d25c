//! Which documents the shared path takes: exactly the simple ones, with their
//! arguments resolved; everything else is left to the executor.

use super::*;
use careledger_domain::values::SiteId;
use serde_json::json;

fn recognised(
    query: &str,
    operation: Option<&str>,
    variables: serde_json::Value,
) -> Option<Shared> {
    let doc = async_graphql::parser::parse_query(query).unwrap();
    recognise(&doc, operation, &Variables::from_json(variables))
}

const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";

#[test]
fn simple_documents_take_the_shared_path_with_their_arguments() {
    let p = recognised(
        "subscription($site: String, $after: Position) { referralUpdated(site: $site, after: $after) { position status } }",
        None,
        json!({ "site": " be-liege ", "after": "42" }),
    )
    .unwrap();
    assert_eq!(p.topic, Topic::Site(SiteId::parse("be-liege").unwrap()));
    assert_eq!(p.after, Some(LogPosition::new(42)));

    let p = recognised(
        "subscription Named { u: referralUpdated(organisation: \"0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b\", site: null, after: 7) { a: __typename b: position } }",
        Some("Named"),
        json!({}),
    )
    .unwrap();
    assert_eq!(
        p.topic,
        Topic::Organisation(careledger_domain::ids::OrganisationId::parse(ORG).unwrap())
    );
    assert_eq!(p.after, Some(LogPosition::new(7)));
    assert_eq!(&*p.shape.key, "ReferralUpdated|u|a:__typename,b:position,");

    let p = recognised(
        "subscription($s: String!) { worklistChanged(site: $s) { referralStatus } }",
        None,
        json!({ "s": "de-koeln", "extra": 1 }),
    )
    .unwrap();
    assert_eq!(p.after, None);
    // The same selection gives the same key, whatever the arguments.
    let q = recognised(
        "subscription { worklistChanged(site: \"be-gent\", after: \"3\") { referralStatus } }",
        None,
        json!({}),
    )
    .unwrap();
    assert_eq!(p.shape.key, q.shape.key);
}

#[test]
fn anything_else_is_left_to_the_executor() {
    let bench = "subscription($site: String, $after: Position) { referralUpdated(site: $site, after: $after) { position status } }";
    let fine = json!({ "site": "be-liege" });
    for (query, operation, vars) in [
        // Not a plain selection.
        (
            "subscription { referralUpdated(site: \"be-liege\") { ...F } } fragment F on ReferralUpdate { position }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { ... on ReferralUpdate { position } } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { position @include(if: true) } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") @skip(if: false) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription @x { referralUpdated(site: \"be-liege\") { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { position position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { a: position a: status } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { nope } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { referralStatus } }",
            None,
            json!({}),
        ),
        (
            "subscription { worklistChanged(site: \"be-liege\") { status } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { __schema { types { name } } } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { position(x: 1) } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { position } worklistChanged(site: \"be-liege\") { position } }",
            None,
            json!({}),
        ),
        ("subscription { __typename }", None, json!({})),
        (
            "subscription { other(site: \"be-liege\") { position } }",
            None,
            json!({}),
        ),
        (
            "query { referralUpdated(site: \"be-liege\") { position } }",
            None,
            json!({}),
        ),
        // Operations.
        (
            "subscription A { referralUpdated(site: \"be-liege\") { position } } subscription B { referralUpdated(site: \"be-liege\") { position } }",
            Some("A"),
            json!({}),
        ),
        (
            "subscription A { referralUpdated(site: \"be-liege\") { position } }",
            Some("B"),
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\") { position } }",
            Some("A"),
            json!({}),
        ),
        // Arguments and variables.
        (bench, None, json!({ "site": 5 })),
        (bench, None, json!({ "site": "be-liege", "after": "x" })),
        (bench, None, json!({ "site": "not a site" })),
        (bench, None, json!({})),
        (bench, Some("X"), fine.clone()),
        (
            "subscription($site: String, $after: Position) { referralUpdated(site: $site) { position } }",
            None,
            fine.clone(),
        ),
        (
            "subscription($site: String = \"be-liege\") { referralUpdated(site: $site) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription($site: String!) { referralUpdated(site: $site) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription($site: Int) { referralUpdated(site: $site) { position } }",
            None,
            json!({ "site": 1 }),
        ),
        (
            "subscription($site: [String]) { referralUpdated(site: $site) { position } }",
            None,
            json!({ "site": ["be-liege"] }),
        ),
        (
            "subscription($site: String) { worklistChanged(site: $site) { position } }",
            None,
            fine.clone(),
        ),
        (
            "subscription($site: String, $site: String) { referralUpdated(site: $site) { position } }",
            None,
            fine.clone(),
        ),
        (
            "subscription { referralUpdated(site: $site) { position } }",
            None,
            fine.clone(),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\", site: \"be-gent\") { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\", unknown: 1) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: [\"be-liege\"]) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: BE) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(site: \"be-liege\", organisation: \"0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b\") { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(organisation: \"not-a-uuid\") { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { referralUpdated(organisation: 5) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { worklistChanged { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { worklistChanged(site: null) { position } }",
            None,
            json!({}),
        ),
        (
            "subscription { worklistChanged(site: \"be-liege\", after: true) { position } }",
            None,
            json!({}),
        ),
    ] {
        assert!(recognised(query, operation, vars).is_none(), "{query}");
    }
}
