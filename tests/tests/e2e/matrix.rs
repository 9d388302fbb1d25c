//! The authorisation matrix (issue 7, DESIGN §6): every query and mutation of the
//! schema, as every role, inside and outside the caller's sites — each cell allowed
//! or denied as `app/src/policy.rs` says, and a denied call writes nothing.
//!
//! Every operation's request is prepared afresh for each cell (a mutation gets a
//! record in the state it needs, at site `be-leuven`), so a cell's answer depends on
//! who asks, not on what an earlier cell did. Denied callers go first; then the same
//! request succeeds for the allowed ones.

use crate::api::{Server, mint, mint_provider, v7};
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

fn rows() -> Vec<Row> {
    let agg_filter = json!({ "sites": [IN] });
    let f1 = agg_filter.clone();
    let f2 = agg_filter.clone();
    let f3 = agg_filter;
    vec![
        // --- Queries ---------------------------------------------------------------
        row("Query.referralInbox", PROVIDER_IN, |_| {
            let q = "query($o: ID!) { referralInbox(organisation: $o) { totalCount } }";
            query(q, json!({ "o": ORG }))
        }),
        row("Query.node", CASEWORK, |fx| {
            query(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": fx.identified() }),
            )
        }),
        row("Query.node(Service)", EVERYONE, |fx| {
            let id = fx.s.admin_data(
                "query($id: ID!) { service(id: $id) { id } }",
                json!({ "id": fx.service }),
            )["service"]["id"]
                .clone();
            query(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
        }),
        row("Query.needCase", CASEWORK, |fx| {
            query(
                "query($id: ID!) { needCase(id: $id) { id status } }",
                json!({ "id": fx.identified() }),
            )
        }),
        row("Query.careRecipient", CASEWORK, |fx| {
            query(
                "query($id: ID!) { careRecipient(id: $id) { id site } }",
                json!({ "id": fx.recipient().0 }),
            )
        }),
        row("CareRecipient.personalData", CASEWORK, |fx| {
            let v = fx.ok(
                "registerCareRecipient",
                json!({ "site": IN, "birthYear": 1960, "sex": "FEMALE", "country": "BE", "postalCode": "3000", "language": "nl",
                        "personalData": { "givenName": "Griet", "phone": "+32 16 00 00 00" } }),
                "careRecipient { id }",
            );
            query(
                "query($id: ID!) { careRecipient(id: $id) { personalData { givenName phone } } }",
                json!({ "id": v["careRecipient"]["id"] }),
            )
        }),
        row("Query.needCases", CASEWORK, |_| {
            query(
                "query($s: String!) { needCases(filter: { site: $s }, first: 5) { totalCount } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.worklist", CASEWORK, |_| {
            query(
                "query($s: String!) { worklist(site: $s) { totalCount } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.catalogue", EVERYONE, |_| {
            query("{ catalogue { version } }", json!({}))
        }),
        row("Query.auditTrail", AUDIT_IN, |_| {
            query(
                "query($s: String) { auditTrail(site: $s, first: 5) { edges { cursor } } }",
                json!({ "s": IN }),
            )
        }),
        row("Query.history", CASEWORK, |fx| {
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("need-{}", fx.identified_case().1) }),
            )
        }),
        row("Query.history(service)", INTERNAL, |fx| {
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("service-{}", fx.service) }),
            )
        }),
        row("Query.history(apikey)", ADMIN, |fx| {
            let id = issue_key(fx.s).0;
            query(
                "query($s: String!) { history(stream: $s) { type } }",
                json!({ "s": format!("apikey-{id}") }),
            )
        }),
        row("Query.projections", INTERNAL, |_| {
            query("{ projections { position head } }", json!({}))
        }),
        row("Query.service", EVERYONE, |fx| {
            query(
                "query($id: ID!) { service(id: $id) { name } }",
                json!({ "id": fx.service }),
            )
        }),
        row("Service.load", INTERNAL, |fx| {
            query(
                "query($id: ID!) { service(id: $id) { load { requested } } }",
                json!({ "id": fx.service }),
            )
        }),
        row("Query.services", EVERYONE, |_| {
            query("{ services(first: 5) { totalCount } }", json!({}))
        }),
        row("Query.equity", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equity(filter: $f, by: SEX, outcome: REFERRAL_RATE) { k } }",
                json!({ "f": f1 }),
            )
        }),
        row("Query.equityTwoWay", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equityTwoWay(filter: $f, rows: SEX, columns: REGION, outcome: REFERRAL_RATE) { k } }",
                json!({ "f": f2 }),
            )
        }),
        row("Query.equityTrend", AGGREGATES_IN, move |_| {
            query(
                "query($f: EquityFilterInput) { equityTrend(filter: $f, by: SEX, outcome: REFERRAL_RATE) { month } }",
                json!({ "f": f3 }),
            )
        }),
        row("Query.apiKeys", ADMIN, |_| {
            query("{ apiKeys { id } }", json!({}))
        }),
        // --- Case work -------------------------------------------------------------
        row("Mutation.registerCareRecipient", CASEWORK, |_| {
            mutation(
                "registerCareRecipient",
                json!({ "site": IN, "birthYear": 1970, "sex": "MALE", "country": "BE", "postalCode": "3000", "language": "fr" }),
            )
        }),
        row("Mutation.identifyNeed", CASEWORK, |fx| {
            mutation(
                "identifyNeed",
                json!({ "recipientId": fx.recipient().1, "needCode": "psy.anxiety" }),
            )
        }),
        row("Mutation.suggestServices", CASEWORK, |fx| {
            mutation(
                "suggestServices",
                json!({ "needCaseId": fx.identified(), "services": [{ "serviceId": fx.service }] }),
            )
        }),
        row("Mutation.suggestServices(ranked)", CASEWORK, |fx| {
            mutation(
                "suggestServices",
                json!({ "needCaseId": fx.identified(), "limit": 3 }),
            )
        }),
        row("Mutation.requestReferral", CASEWORK, |fx| {
            mutation(
                "requestReferral",
                json!({ "needCaseId": fx.suggested(), "serviceId": fx.service }),
            )
        }),
        row("Mutation.acceptReferral", ANSWER, |fx| {
            mutation("acceptReferral", fx.referral(&[]))
        }),
        row("Mutation.rejectReferral", ANSWER, |fx| {
            mutation(
                "rejectReferral",
                with(fx.referral(&[]), json!({ "reason": "NO_CAPACITY" })),
            )
        }),
        row("Mutation.waitlistReferral", ANSWER, |fx| {
            mutation(
                "waitlistReferral",
                with(
                    fx.referral(&["acceptReferral"]),
                    json!({ "estimatedWaitDays": 10 }),
                ),
            )
        }),
        row("Mutation.startReferral", ANSWER, |fx| {
            mutation("startReferral", fx.referral(&["acceptReferral"]))
        }),
        row("Mutation.completeReferral", ANSWER, |fx| {
            mutation(
                "completeReferral",
                with(
                    fx.referral(&["acceptReferral", "startReferral"]),
                    json!({ "outcome": "NEED_MET" }),
                ),
            )
        }),
        row("Mutation.failReferral", ANSWER, |fx| {
            mutation(
                "failReferral",
                with(
                    fx.referral(&["acceptReferral"]),
                    json!({ "reason": "NO_SHOW" }),
                ),
            )
        }),
        row("Mutation.cancelReferral", CASEWORK, |fx| {
            mutation(
                "cancelReferral",
                with(
                    fx.referral(&[]),
                    json!({ "by": "RECIPIENT", "reason": "RECIPIENT_CHANGED_MIND" }),
                ),
            )
        }),
        row("Mutation.closeNeed", CASEWORK, |fx| {
            mutation(
                "closeNeed",
                json!({ "needCaseId": fx.identified(), "reason": "NO_SERVICE_AVAILABLE" }),
            )
        }),
        row("Mutation.markEnteredInError", CASEWORK, |fx| {
            mutation(
                "markEnteredInError",
                json!({ "needCaseId": fx.identified(), "reason": "DUPLICATE" }),
            )
        }),
        // --- Administration --------------------------------------------------------
        row("Mutation.registerService", ADMIN, |_| {
            mutation(
                "registerService",
                json!({ "profile": service_profile("Another service") }),
            )
        }),
        row("Mutation.updateService", ADMIN, |fx| {
            mutation(
                "updateService",
                json!({ "serviceId": fx.service(), "profile": service_profile("Renamed service") }),
            )
        }),
        row("Mutation.changeServiceCapacity", ADMIN, |fx| {
            mutation(
                "changeServiceCapacity",
                json!({ "serviceId": fx.service(), "capacity": { "status": "NO_CAPACITY" } }),
            )
        }),
        row("Mutation.retireService", ADMIN, |fx| {
            mutation("retireService", json!({ "serviceId": fx.service() }))
        }),
        row("Mutation.eraseCareRecipient", ADMIN, |fx| {
            mutation(
                "eraseCareRecipient",
                json!({ "recipientId": fx.recipient().0 }),
            )
        }),
        row("Mutation.issueApiKey", ADMIN, |_| {
            mutation("issueApiKey", json!({ "name": format!("portal {}", v7()) }))
        }),
        row("Mutation.revokeApiKey", ADMIN, |fx| {
            mutation("revokeApiKey", json!({ "apiKeyId": issue_key(fx.s).0 }))
        }),
    ]
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
