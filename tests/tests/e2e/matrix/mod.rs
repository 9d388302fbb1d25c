//! The authorisation matrix (issue 7, DESIGN §6): every query and mutation of the
//! schema, as every role, inside and outside the caller's sites — each cell allowed
//! or denied as `app/src/policy.rs` says, and a denied call writes nothing.
//!
//! Every operation's request is prepared afresh for each cell (a mutation gets a
//! record in the state it needs, at site `be-leuven`), so a cell's answer depends on
//! who asks, not on what an earlier cell did. Denied callers go first; then the same
//! request succeeds for the allowed ones.

use crate::api::{Server, mint, mint_provider, v7};
use rows::rows;
use serde_json::{Value, json};
use std::collections::BTreeSet;

mod rows;

pub(crate) const IN: &str = "be-leuven";
const OUT: &str = "de-koeln";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    CoordIn,
    CoordOut,
    QmIn,
    QmOut,
    /// An `external_app` token naming the site.
    ExtIn,
    /// An API key (an external application at no site).
    ExtKey,
    /// The first-start admin (all sites).
    AdminIn,
    /// An admin token naming another site only.
    AdminOut,
    /// A provider of another organisation than the matrix service's.
    Provider,
    /// A provider of the matrix service's organisation.
    ProviderIn,
}
use Caller::*;

pub(crate) const EVERYONE: &[Caller] = &[
    CoordIn, CoordOut, QmIn, QmOut, ExtIn, ExtKey, AdminIn, AdminOut, Provider, ProviderIn,
];
/// The performing side's answers: the service's provider, or a coordinator on its behalf.
const ANSWER: &[Caller] = &[CoordIn, ProviderIn];
const PROVIDER_IN: &[Caller] = &[ProviderIn];
/// The organisation of the matrix service.
pub(crate) const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b";
const CASEWORK: &[Caller] = &[CoordIn];
const INTERNAL: &[Caller] = &[CoordIn, CoordOut, QmIn, QmOut, AdminIn, AdminOut];
const AGGREGATES_IN: &[Caller] = &[CoordIn, QmIn, ExtIn, ExtKey, AdminIn, AdminOut];
const AUDIT_IN: &[Caller] = &[QmIn, AdminIn, AdminOut];
const ADMIN: &[Caller] = &[AdminIn, AdminOut];

struct Fx<'a> {
    s: &'a Server,
    service: String,
}

impl Fx<'_> {
    fn ok(&self, name: &str, input: Value, selection: &str) -> Value {
        let v = self.s.mutate(name, input, selection);
        assert_eq!(v["userErrors"], json!([]), "{name}: {v}");
        v
    }
    fn recipient(&self) -> (String, String) {
        let v = self.ok(
            "registerCareRecipient",
            json!({ "site": IN, "birthYear": 1960, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl" }),
            "careRecipient { id recipientId }",
        );
        (
            v["careRecipient"]["id"].as_str().unwrap().into(),
            v["careRecipient"]["recipientId"].as_str().unwrap().into(),
        )
    }
    fn identified(&self) -> String {
        self.identified_case().0
    }
    /// A new need case: (global id, uuid).
    fn identified_case(&self) -> (String, String) {
        let (_, r) = self.recipient();
        let v = self.ok(
            "identifyNeed",
            json!({ "recipientId": r, "needCode": "psy.anxiety" }),
            "needCase { id needCaseId }",
        );
        (
            v["needCase"]["id"].as_str().unwrap().into(),
            v["needCase"]["needCaseId"].as_str().unwrap().into(),
        )
    }
    fn suggested(&self) -> String {
        let c = self.identified();
        self.ok(
            "suggestServices",
            json!({ "needCaseId": c, "services": [{ "serviceId": self.service }] }),
            "needCase { id }",
        );
        c
    }
    fn requested(&self) -> (String, String) {
        let c = self.suggested();
        let r = v7();
        self.ok(
            "requestReferral",
            json!({ "needCaseId": c, "serviceId": self.service, "referralId": r }),
            "needCase { id }",
        );
        (c, r)
    }
    /// A referral requested with consent to share contact details.
    fn referral_with_contact(&self) -> Value {
        let c = self.suggested();
        let r = v7();
        self.ok(
            "requestReferral",
            json!({ "needCaseId": c, "serviceId": self.service, "referralId": r, "consent": "REFERRAL_AND_CONTACT" }),
            "needCase { id }",
        );
        json!({ "needCaseId": c, "referralId": r })
    }
    fn referral(&self, steps: &[&str]) -> Value {
        let (c, r) = self.requested();
        for step in steps {
            self.ok(
                step,
                json!({ "needCaseId": c, "referralId": r }),
                "needCase { id }",
            );
        }
        json!({ "needCaseId": c, "referralId": r })
    }
    fn service(&self) -> String {
        let v = self.s.admin_mutate(
            "registerService",
            json!({ "profile": service_profile("Matrix service") }),
            "service { serviceId }",
        );
        assert_eq!(v["userErrors"], json!([]), "{v}");
        v["service"]["serviceId"].as_str().unwrap().into()
    }
}

fn service_profile(name: &str) -> Value {
    let text = json!({ "en": name, "fr": name, "nl": name, "de": name });
    json!({
        "organisation": "Stichting Voorbeeld",
        "organisationId": ORG,
        "name": text,
        "description": text,
        "needs": ["psy.anxiety"],
        "languages": ["nl"],
        "area": { "regions": ["BE-VBR"] },
        "cost": "FREE",
        "contact": { "email": "info@example.org" },
    })
}

fn with(mut a: Value, b: Value) -> Value {
    a.as_object_mut()
        .unwrap()
        .extend(b.as_object().unwrap().clone());
    a
}

/// A mutation's request: `{ <name>(input: $i) { userErrors { code } } }`.
fn mutation(name: &str, input: Value) -> (String, Value) {
    let mut t = name[..1].to_uppercase();
    t.push_str(&name[1..]);
    (
        format!(
            "mutation($i: {t}Input!) {{ {name}(input: $i) {{ userErrors {{ code message }} }} }}"
        ),
        json!({ "i": input }),
    )
}

fn query(q: &str, vars: Value) -> (String, Value) {
    (q.to_string(), vars)
}

type Prepare = Box<dyn Fn(&Fx) -> (String, Value)>;

struct Row {
    /// The schema field it exercises (`Query.x`, `Mutation.y`, or a guarded field).
    field: &'static str,
    allowed: &'static [Caller],
    prepare: Prepare,
}

fn row(
    field: &'static str,
    allowed: &'static [Caller],
    prepare: impl Fn(&Fx) -> (String, Value) + 'static,
) -> Row {
    Row {
        field,
        allowed,
        prepare: Box::new(prepare),
    }
}

/// Issues an API key as the administrator: (id, secret).
fn issue_key(s: &Server) -> (String, String) {
    let v = s.admin_mutate(
        "issueApiKey",
        json!({ "name": format!("matrix {}", v7()) }),
        "apiKey { id } secret",
    );
    assert_eq!(v["userErrors"], json!([]), "{v}");
    (
        v["apiKey"]["id"].as_str().unwrap().into(),
        v["secret"].as_str().unwrap().into(),
    )
}

/// Waits until the read models hold everything up to `head`, so a read's answer is
/// decided by who asks, not by timing.
fn caught_up(s: &Server, head: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = s.data("{ projections { position } }", json!({}));
        let p: u64 = d["projections"]["position"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if p >= head {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "projections stuck at {p} < {head}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A credential for each caller of the matrix.
pub(crate) fn callers(s: &Server, d: &std::path::Path) -> Vec<(Caller, String)> {
    let token = |c: Caller| -> String {
        match c {
            CoordIn => mint(d, "nurse-in", "coordinator", &[IN]),
            CoordOut => mint(d, "nurse-out", "coordinator", &[OUT]),
            QmIn => mint(d, "qm-in", "quality_manager", &[IN]),
            QmOut => mint(d, "qm-out", "quality_manager", &[OUT]),
            ExtIn => mint(d, "portal-jwt", "external_app", &[IN]),
            ExtKey => issue_key(s).1,
            AdminIn => s.admin.clone(),
            AdminOut => mint(d, "admin-out", "admin", &[OUT]),
            Provider => mint_provider(d, "provider-out", &["0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6c"]),
            ProviderIn => mint_provider(d, "provider-in", &[ORG]),
        }
    };
    EVERYONE.iter().map(|&c| (c, token(c))).collect()
}

/// The root fields of the schema, by introspection.
fn schema_fields(s: &Server) -> BTreeSet<String> {
    let d = s.data(
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
        json!({}),
    );
    let mut out = BTreeSet::new();
    for (root, key) in [("Query", "queryType"), ("Mutation", "mutationType")] {
        for f in d["__schema"][key]["fields"].as_array().unwrap() {
            out.insert(format!("{root}.{}", f["name"].as_str().unwrap()));
        }
    }
    out
}

fn codes(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_operation_as_every_role_inside_and_outside_its_sites() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let callers = callers(&s, dir.path());
    let fx = Fx {
        s: &s,
        service: String::new(),
    };
    let fx = Fx {
        service: fx.service(),
        ..fx
    };

    let rows = rows();
    // Every root field of the schema has a row (a new operation without one fails).
    let covered: BTreeSet<String> = rows
        .iter()
        .map(|r| r.field.split('(').next().unwrap().to_string())
        .collect();
    let missing: Vec<_> = schema_fields(&s).difference(&covered).cloned().collect();
    assert!(
        missing.is_empty(),
        "operations without a matrix row: {missing:?}"
    );

    let mut cells = 0;
    for r in &rows {
        // Denied callers first: the same request then succeeds for an allowed one.
        let order = callers
            .iter()
            .filter(|(c, _)| !r.allowed.contains(c))
            .chain(callers.iter().filter(|(c, _)| r.allowed.contains(c)));
        for (caller, token) in order {
            let (q, vars) = (r.prepare)(&fx);
            let before = s.head();
            caught_up(&s, before);
            let a = s.post_as(token, &q, vars);
            assert_eq!(a.status, 200, "{} as {caller:?}: {}", r.field, a.body);
            let v = a.json();
            let codes = codes(&v);
            if r.allowed.contains(caller) {
                assert!(
                    codes.is_empty(),
                    "{} as {caller:?} should be allowed: {v}",
                    r.field
                );
                let answered = v["data"].as_object().unwrap();
                assert!(
                    answered.values().all(|x| !x.is_null()) && !v.to_string().contains(":null}"),
                    "{} as {caller:?} answered nothing: {v}",
                    r.field
                );
                if r.field.starts_with("Mutation.") {
                    let name = q
                        .split('{')
                        .nth(1)
                        .unwrap()
                        .split('(')
                        .next()
                        .unwrap()
                        .trim();
                    assert_eq!(
                        v["data"][name]["userErrors"],
                        json!([]),
                        "{} as {caller:?}: {v}",
                        r.field
                    );
                    assert!(s.head() > before, "{} as {caller:?} wrote", r.field);
                }
            } else {
                assert_eq!(
                    codes,
                    vec!["FORBIDDEN".to_string()],
                    "{} as {caller:?} should be denied: {v}",
                    r.field
                );
                assert_eq!(
                    s.head(),
                    before,
                    "{} as {caller:?}: a denial wrote",
                    r.field
                );
            }
            cells += 1;
        }
    }
    assert_eq!(cells, rows.len() * EVERYONE.len());

    // Listings outside a credential's sites are narrowed, not refused: the other
    // site's coordinator and quality manager see none of this site's records.
    let out = &callers[1].1;
    let v = s.gql_as(out, "{ needCases(first: 100) { totalCount } }", json!({}));
    assert_eq!(v["data"]["needCases"]["totalCount"], 0, "{v}");
    let qm_out = &callers[3].1;
    let v = s.gql_as(
        qm_out,
        "{ equity(by: SITE, outcome: REFERRAL_RATE) { groups { group n } } }",
        json!({}),
    );
    assert!(codes(&v).is_empty(), "{v}");
    assert!(
        !v.to_string().contains(IN),
        "another site's figures reached a quality manager: {v}"
    );
}

/// Issue 13: a token correctly signed with the server's secret but naming the
/// internal `system` role, an unknown role or an empty one is refused for every
/// operation of the matrix — 401 `UNAUTHENTICATED`, no data, nothing written —
/// for all sites and for the row's own site alike.
#[test]
fn every_operation_refuses_a_token_with_the_system_role_an_unknown_role_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let d = dir.path();
    let forged: Vec<(String, String)> = ["system", "superuser", "Admin", ""]
        .iter()
        .flat_map(|role| {
            [&["*"][..], &[IN][..]].map(|sites| {
                (
                    format!("role {role:?} at {sites:?}"),
                    mint(d, "intruder", role, sites),
                )
            })
        })
        .collect();
    let fx = Fx {
        s: &s,
        service: String::new(),
    };
    let fx = Fx {
        service: fx.service(),
        ..fx
    };
    let rows = rows();
    let mut refused = 0;
    for r in &rows {
        let (q, vars) = (r.prepare)(&fx);
        let before = s.head();
        for (who, token) in &forged {
            refused += 1;
            let a = s.post_as(token, &q, vars.clone());
            assert_eq!(a.status, 401, "{} as {who}: {}", r.field, a.body);
            let v = a.json();
            assert_eq!(
                codes(&v),
                vec!["UNAUTHENTICATED".to_string()],
                "{} as {who}: {v}",
                r.field
            );
            assert!(v["data"].is_null(), "{} as {who} got data: {v}", r.field);
        }
        assert_eq!(s.head(), before, "{}: a refused token wrote", r.field);
    }
    assert_eq!(refused, rows.len() * forged.len());
}
