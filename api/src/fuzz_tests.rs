//! Fuzzing the GraphQL request parser path (issue 13).
//!
//! `cargo fuzz` needs a nightly toolchain, so these are `proptest` properties that
//! the ordinary `cargo test` runs. Every request body goes the way `http.rs` takes
//! it: the nesting guard on the raw JSON ([`crate::http::guard::check_json`]),
//! `serde_json` into an `async_graphql::Request`, the nesting guard on the document
//! ([`crate::http::guard::check_document`]), async-graphql's parser, and the mutation
//! count ([`crate::http::guard::check_mutations`]). The rule: whatever the body (random
//! bytes, random JSON, GraphQL-looking token soup, every nesting shape up to 10,000
//! levels), each step answers or refuses with a typed error, and nothing recursive
//! ever sees input nested past the bound. The properties run on the test thread,
//! whose stack (2 MiB) is a Tokio worker's: a stack overflow aborts the test binary,
//! as it would abort the server.
//!
//! Cases: `CARELEDGER_FUZZ_CASES` (small default; `.ci/run` sets more). A longer
//! campaign: `CARELEDGER_FUZZ_CASES=200000 cargo test --release -p careledger-api --lib fuzz_tests`.

use crate::http::guard::{self, MAX_NESTING, Refusal};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("CARELEDGER_FUZZ_CASES")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// How far a body got.
#[derive(Debug)]
enum Outcome {
    Refused(Refusal),
    NotJson,
    NotGraphQL,
    /// Parsed; the number of mutation fields of the operation.
    Parsed(usize),
}

/// A POST body the way `http.rs` reads it.
fn post(body: &[u8]) -> Outcome {
    if let Err(r) = guard::check_json("the JSON body", body) {
        return Outcome::Refused(r);
    }
    let request: async_graphql::Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return Outcome::NotJson,
    };
    document(&request.query, request.operation_name.as_deref())
}

/// A document the way `http.rs` reads it (after the body, or from a GET).
fn document(query: &str, operation_name: Option<&str>) -> Outcome {
    if let Err(r) = guard::check_document(query) {
        return Outcome::Refused(r);
    }
    match async_graphql::parser::parse_query(query) {
        Ok(doc) => match guard::check_expansion(&doc)
            .and_then(|()| guard::check_mutations(&doc, operation_name))
        {
            Ok(n) => Outcome::Parsed(n),
            Err(r) => Outcome::Refused(r),
        },
        Err(_) => Outcome::NotGraphQL,
    }
}

/// A JSON body `{"query": …}` (with more members, given as JSON text).
fn body(query: &str, more: &str) -> Vec<u8> {
    let q = serde_json::to_string(query).expect("a string serialises");
    format!("{{\"query\":{q}{more}}}").into_bytes()
}

/// Pieces of GraphQL and of what is not quite GraphQL.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec![
            "{", "}", "[", "]", "(", ")", "{", "[", "(", "query", "mutation", "subscription",
            "fragment F on Query", "fragment F on Mutation", "...F", "... on Query", "catalogue",
            "version", "needCase", "domain:", "id:", "input:", "$v", "$v: [Int]", "$v: Int = ",
            ": ", "=", "!", ",", "@include(if: true)", "@skip(if: $v)", "1", "-0", "1e400",
            "true", "null", "ENUM_VALUE", "\"str\"", "\"\"\"block { [ (\"\"\"", "\"\\u00e9\"",
            "\"{[(\"", "# {{{{[[[[\n", "\n", " ", "\"", "\"\"\"", "\\", "#", "é", "\u{0}",
            "\u{feff}", "registerCareRecipient", "a: catalogue", "__typename", "__schema",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn graphql_soup() -> impl Strategy<Value = String> {
    vec(token(), 0..200).prop_map(|t| t.join(" "))
}

/// Any small JSON value.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every shape of deep nesting the issue names, `levels` deep, as a POST body.
fn deep(shape: usize, levels: usize) -> (&'static str, Vec<u8>) {
    let n = levels;
    let open = |o: &str, c: &str| (o.repeat(n), c.repeat(n));
    let shapes: [(&str, Vec<u8>); 10] = [
        ("list literal in an argument", {
            let (o, c) = open("[", "]");
            body(
                &format!("{{ catalogue(domain: {o}1{c}) {{ version }} }}"),
                "",
            )
        }),
        ("object literal in an argument", {
            let (o, c) = open("{a: ", "}");
            body(
                &format!("{{ catalogue(domain: {o}1{c}) {{ version }} }}"),
                "",
            )
        }),
        ("selection set", {
            let (o, c) = open("{ a ", "}");
            body(&format!("{{ catalogue {o}{c} }}"), "")
        }),
        ("list literal in a mutation input", {
            let (o, c) = open("[", "]");
            body(
                &format!(
                    "mutation {{ identifyNeed(input: {{ need: {o}\"x\"{c} }}) {{ __typename }} }}"
                ),
                "",
            )
        }),
        ("variable default value", {
            let (o, c) = open("[", "]");
            body(
                &format!("query($v: [Int] = {o}1{c}) {{ catalogue {{ version }} }}"),
                "",
            )
        }),
        ("variable type", {
            let (o, c) = open("[", "]");
            body(
                &format!("query($v: {o}Int{c}) {{ catalogue {{ version }} }}"),
                "",
            )
        }),
        ("JSON in variables", {
            let (o, c) = open("[", "]");
            body(
                "query($v: Int) { catalogue { version } }",
                &format!(",\"variables\":{{\"v\":{o}1{c}}}"),
            )
        }),
        ("JSON objects in variables", {
            let (o, c) = open("{\"a\":", "}");
            body(
                "{ catalogue { version } }",
                &format!(",\"variables\":{o}1{c}"),
            )
        }),
        ("JSON in extensions", {
            let (o, c) = open("[", "]");
            body(
                "{ catalogue { version } }",
                &format!(",\"extensions\":{{\"x\":{o}{c}}}"),
            )
        }),
        ("JSON body", {
            let (o, c) = open("[", "]");
            format!("{o}{c}").into_bytes()
        }),
    ];
    let (name, bytes) = shapes.into_iter().nth(shape % 10).expect("ten shapes");
    (name, bytes)
}

proptest! {
    #![proptest_config(config(256))]

    /// Random bytes are refused as too deep or not JSON, or parsed: never a crash.
    #[test]
    fn random_bytes_as_a_request_body_are_refused_or_parsed(bytes in vec(any::<u8>(), 0..2048)) {
        let _ = post(&bytes);
    }

    /// Random JSON (with or without a `query` member of GraphQL-looking tokens) is
    /// refused or parsed: never a crash.
    #[test]
    fn random_json_as_a_request_body_is_refused_or_parsed(
        value in json(),
        query in proptest::option::of(graphql_soup()),
        variables in proptest::option::of(json()),
    ) {
        let mut value = value;
        if let Some(q) = query {
            let mut o = serde_json::Map::new();
            o.insert("query".into(), q.into());
            if let Some(v) = variables {
                o.insert("variables".into(), v);
            }
            value = serde_json::Value::Object(o);
        }
        let _ = post(&serde_json::to_vec(&value).expect("serialises"));
    }

    /// GraphQL-looking documents of random tokens, brackets, strings, block
    /// strings and comments are refused as too deep, parsed, or refused by the
    /// parser: never a crash. One the guard lets through really is at most
    /// `MAX_NESTING` deep by its own count, and the parser is never given more.
    #[test]
    fn graphql_looking_token_soup_is_refused_or_parsed(
        soup in graphql_soup(),
        repeat in 1usize..64,
    ) {
        // Repeating the soup stacks up any brackets it leaves open.
        let doc = soup.repeat(repeat);
        match post(&body(&doc, "")) {
            Outcome::Refused(Refusal::TooDeep { .. }) => {
                prop_assert!(guard::graphql_nesting(&doc) > MAX_NESTING);
            }
            Outcome::Refused(Refusal::TooManyMutations { fields }) => {
                prop_assert!(fields > guard::MAX_MUTATION_FIELDS);
            }
            Outcome::Refused(Refusal::TooLarge) => {
                let parsed = async_graphql::parser::parse_query(&doc).expect("it was parsed");
                prop_assert!(guard::expanded_selections(&parsed) > guard::MAX_EXPANDED_SELECTIONS);
            }
            Outcome::NotJson => prop_assert!(false, "the body was valid JSON"),
            Outcome::NotGraphQL => prop_assert!(guard::graphql_nesting(&doc) <= MAX_NESTING),
            Outcome::Parsed(fields) => {
                prop_assert!(guard::graphql_nesting(&doc) <= MAX_NESTING);
                prop_assert!(fields <= guard::MAX_MUTATION_FIELDS);
            }
        }
    }

    /// Every nesting shape the issue names (list and object literals in
    /// arguments and mutation inputs, selection sets, variable defaults and types,
    /// deep JSON in `variables`, `extensions` and the body), at any depth past the
    /// bound up to 10,000 levels, is refused as `NESTING_TOO_DEEP` before anything
    /// recursive reads it.
    #[test]
    fn every_deep_shape_is_refused_before_it_is_parsed(
        shape in 0usize..10,
        levels in (MAX_NESTING + 1)..=10_000,
    ) {
        let (name, bytes) = deep(shape, levels);
        match post(&bytes) {
            Outcome::Refused(r @ Refusal::TooDeep { .. }) => prop_assert_eq!(r.code(), "NESTING_TOO_DEEP"),
            other => prop_assert!(false, "{name} at {levels} levels: {other:?}"),
        }
    }
}

/// The shapes at exactly 10,000 levels (the test), and at the bound
/// itself, where they are parsed (or refused by the parser) without a crash.
#[test]
fn every_deep_shape_at_ten_thousand_levels_is_refused_and_at_the_bound_is_parsed() {
    for shape in 0..10 {
        let (name, bytes) = deep(shape, 10_000);
        assert!(
            matches!(post(&bytes), Outcome::Refused(Refusal::TooDeep { .. })),
            "{name}"
        );
        // A little under the bound (the shapes add up to three levels of their own).
        let (name, bytes) = deep(shape, MAX_NESTING - 3);
        assert!(
            !matches!(post(&bytes), Outcome::Refused(Refusal::TooDeep { .. })),
            "{name}"
        );
    }
}

/// A chain of fragments each spreading the next nests only two brackets deep,
/// so the nesting guard lets it through, yet counting its mutation fields
/// recurses once per fragment. As long a chain as the body limit (and hyper's
/// 64 KiB URI limit, for a GET) allows is counted without a crash; past about
/// 5,000 fragments the count overflowed a 2 MiB stack when this test was written;
/// the guard's walks now stop at a fragment depth of 64 and refuse the document
/// (`QUERY_TOO_LARGE`).
#[test]
fn a_fragment_chain_as_long_as_the_body_limit_allows_is_counted_without_a_crash() {
    let mut doc = String::from("mutation{...a0}");
    let mut n = 0;
    loop {
        let next = format!("fragment a{n} on M{{...a{}}}", n + 1);
        if body(&doc, "").len() + next.len() + 32 > crate::http::MAX_BODY_BYTES {
            break;
        }
        doc.push_str(&next);
        n += 1;
    }
    doc.push_str(&format!("fragment a{n} on M{{x}}"));
    assert!(n > 2_000, "{n} fragments");
    let bytes = body(&doc, "");
    assert!(bytes.len() <= crate::http::MAX_BODY_BYTES);
    // Deeper than any real document: refused as too large, without a crash.
    assert!(matches!(post(&bytes), Outcome::Refused(Refusal::TooLarge)));
}
