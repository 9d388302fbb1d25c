//! The fast path answers byte for byte as the strict schema does: for valid
//! variables, for variables the strict rule refuses (which must not take it),
//! and for limits that depend on variables (complexity).

use super::*;
use crate::graphql::snapshots::app;
use crate::graphql::{build_schemas, schema_env};
use async_graphql::Request;
use careledger_app::{Access, SiteScope};
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::{Lang, SiteId};
use serde_json::json;

fn coordinator() -> Access {
    Access::new(
        Actor {
            subject: "validated".into(),
            role: Role::Coordinator,
        },
        SiteScope::Only(vec![SiteId::parse("be-liege").unwrap()]),
    )
}

const DOC: &str = "query Q($id: ID!, $first: Int, $f: NeedCaseFilterInput) { \
    needCase(id: $id) { id status } \
    needCases(first: $first, filter: $f) { edges { cursor node { id } } } }";

fn request(variables: serde_json::Value) -> Request {
    Request::new(DOC)
        .operation_name("Q")
        .variables(Variables::from_json(variables))
        .data(coordinator())
        .data(Lang::En)
}

#[tokio::test]
async fn a_valid_document_skips_the_rules_only_when_its_variables_pass_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (strict, fast) = build_schemas(app(dir.path()), Default::default());
    let v = ValidatedDocuments::new(schema_env().await);
    let id = "018f0000-0000-7000-8000-000000000001";
    let good = json!({ "id": id, "first": 2, "f": { "status": ["IDENTIFIED"], "overdue": false } });

    // Not known yet: every rule runs.
    let first = request(good.clone());
    assert!(!v.may_skip(&first.query, Some("Q"), &first.variables));
    let doc = async_graphql::parser::parse_query(DOC).unwrap();
    let checks = v
        .checks_for(&doc, Some("Q"))
        .expect("a document it follows");
    assert_eq!(
        checks.args.len(),
        3,
        "id, first and the filter use variables"
    );
    let answer = strict.execute(first).await;
    assert!(answer.errors.is_empty(), "{:?}", answer.errors);
    v.remember(DOC, Some("Q"), checks);
    // Another operation name is another entry.
    assert!(!v.may_skip(DOC, Some("Other"), &Variables::from_json(good.clone())));

    // (variables, whether they may skip the rules)
    let cases = [
        (good.clone(), true),
        (json!({ "id": 17, "first": 1 }), true),
        (json!({ "id": id, "first": null, "f": null }), true),
        // Complexity depends on `first`: refused on both schemas alike.
        (json!({ "id": id, "first": 100000 }), true),
        // A variable not given is left to execution, on both alike.
        (json!({ "first": 1 }), true),
        // What the rule of argument types refuses never takes the fast path.
        (json!({ "id": { "a": 1 } }), false),
        (json!({ "id": null }), false),
        (json!({ "id": id, "first": "two" }), false),
        (json!({ "id": id, "first": 1.5 }), false),
        (
            json!({ "id": id, "f": { "status": ["NOT_A_STATUS"] } }),
            false,
        ),
        (json!({ "id": id, "f": { "status": [null] } }), false),
        (json!({ "id": id, "f": { "unknown": 1 } }), false),
        (json!({ "id": id, "f": { "overdue": "yes" } }), false),
        (json!({ "id": id, "f": 3 }), true),
    ];
    for (variables, skips) in cases {
        let r = request(variables.clone());
        assert_eq!(
            v.may_skip(&r.query, Some("Q"), &r.variables),
            skips,
            "{variables}"
        );
        let expected =
            serde_json::to_string(&strict.execute(request(variables.clone())).await).unwrap();
        let schema = if skips { &fast } else { &strict };
        let got = serde_json::to_string(&schema.execute(r).await).unwrap();
        assert_eq!(got, expected, "{variables}");
        // And what the fast schema would have said differs where the rule refuses,
        // which is why those never take it.
        if !skips {
            let fast_said =
                serde_json::to_string(&fast.execute(request(variables.clone())).await).unwrap();
            assert_ne!(fast_said, expected, "{variables}");
        }
    }
}

#[tokio::test]
async fn documents_with_fragments_or_directives_are_not_followed_and_the_cache_is_bounded() {
    let v = ValidatedDocuments::new(schema_env().await);
    for text in [
        "query { ...F } fragment F on Query { needCase(id: \"x\") { id } }",
        "query Q($s: Boolean!) { needCase(id: \"x\") @skip(if: $s) { id } }",
        "query A { __typename } query B { __typename }",
    ] {
        let doc = async_graphql::parser::parse_query(text).unwrap();
        assert!(v.checks_for(&doc, None).is_none(), "{text}");
    }
    let doc = async_graphql::parser::parse_query("{ __typename }").unwrap();
    for i in 0..(MAX_DOCUMENTS + 5) {
        let text = format!("{{ __typename }} # {i}");
        v.remember(&text, None, v.checks_for(&doc, None).unwrap());
    }
    let kept: usize = v.map.read().unwrap().values().map(Vec::len).sum();
    assert_eq!(kept, MAX_DOCUMENTS);
}
