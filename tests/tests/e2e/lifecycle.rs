//! Need cases driven over HTTP through every path of the lifecycle (DESIGN §2).

use crate::api::{Server, v7};
use serde_json::{Value, json};

const NC: &str = "needCase { needCaseId status version }";
const NCR: &str = "needCase { needCaseId status version } referral { referralId status outcome }";

fn ok(p: &Value) -> &Value {
    assert_eq!(p["userErrors"], json!([]), "refused: {p}");
    p
}

fn register(s: &Server, site: &str) -> String {
    let p = s.mutate(
        "registerCareRecipient",
        json!({ "idempotencyKey": v7(), "site": site, "birthYear": 1958, "sex": "FEMALE",
                "country": "BE", "postalCode": "3000", "language": "nl",
                "preferentialReimbursement": "YES", "deprivationDecile": 3, "cancerSiteGroup": "BREAST" }),
        "careRecipient { recipientId site region country }",
    );
    ok(&p);
    assert_eq!(p["careRecipient"]["region"], "BE-VBR");
    p["careRecipient"]["recipientId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A helper driving one need case.
struct Case<'a> {
    s: &'a Server,
    id: String,
}

impl<'a> Case<'a> {
    fn open(s: &'a Server, recipient: &str) -> Self {
        let p = s.mutate(
            "identifyNeed",
            json!({ "idempotencyKey": v7(), "recipientId": recipient, "needCode": "psy.fear-of-recurrence" }),
            NC,
        );
        ok(&p);
        assert_eq!(p["needCase"]["status"], "IDENTIFIED");
        Case {
            s,
            id: p["needCase"]["needCaseId"].as_str().unwrap().to_string(),
        }
    }

    fn suggest(&self) -> Value {
        let services = json!([{ "serviceId": self.s.service(), "reasons": ["addresses_need"] }, { "serviceId": self.s.other_service() }]);
        ok(&self.s.mutate(
            "suggestServices",
            json!({ "needCaseId": self.id, "services": services }),
            NC,
        ))
        .clone()
    }

    /// Requests a referral; returns its id.
    fn refer(&self) -> String {
        let p = self.s.mutate(
            "requestReferral",
            json!({ "needCaseId": self.id, "serviceId": self.s.service(), "idempotencyKey": v7() }),
            NCR,
        );
        ok(&p);
        assert_eq!(p["referral"]["status"], "REQUESTED");
        assert_eq!(p["needCase"]["status"], "REFERRED");
        p["referral"]["referralId"].as_str().unwrap().to_string()
    }

    /// A referral command; returns the payload after checking it was accepted.
    fn on(&self, name: &str, referral: &str, extra: Value) -> Value {
        let mut input = json!({ "needCaseId": self.id, "referralId": referral });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        ok(&self.s.mutate(name, input, NCR)).clone()
    }

    fn status(&self, min_position: &Value) -> Value {
        self.s.data(
            "query($id: ID!, $p: Position) { needCase(id: $id, minPosition: $p) { status referrals { status } openReferral { referralId } } }",
            json!({ "id": self.id, "p": min_position }),
        )["needCase"]
            .clone()
    }
}

/// Every path: completed (met); rejected then re-referred, waitlisted twice and
/// completed (partly met); cancelled then closed; failed then closed; closed without
/// referral; a completing referral entered in error reopens the case; a whole case
/// entered in error. Each mutation's payload shows the new state, and the read
/// models agree once they reach the position it returned.
#[test]
fn need_cases_travel_every_path_of_the_lifecycle_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let recipient = register(&s, "be-leuven");

    // Identified → suggested → referred → accepted → in progress → completed.
    let a = Case::open(&s, &recipient);
    assert_eq!(a.suggest()["needCase"]["status"], "SUGGESTED");
    let r = a.refer();
    assert_eq!(
        a.on("acceptReferral", &r, json!({}))["referral"]["status"],
        "ACCEPTED"
    );
    assert_eq!(
        a.on("startReferral", &r, json!({}))["referral"]["status"],
        "IN_PROGRESS"
    );
    let done = a.on("completeReferral", &r, json!({ "outcome": "NEED_MET" }));
    assert_eq!(done["needCase"]["status"], "COMPLETED");
    assert_eq!(done["referral"]["outcome"], "NEED_MET");
    assert_eq!(done["needCase"]["version"], 5);
    let seen = a.status(&done["position"]);
    assert_eq!(seen["status"], "COMPLETED");

    // Rejected, then referred again; waitlisted from accepted and from in-progress.
    let b = Case::open(&s, &recipient);
    b.suggest();
    let r1 = b.refer();
    let rej = b.on("rejectReferral", &r1, json!({ "reason": "NO_CAPACITY" }));
    assert_eq!(rej["referral"]["status"], "REJECTED");
    assert_eq!(
        rej["needCase"]["status"], "REFERRED",
        "a rejected referral leaves the case open"
    );
    let r2 = b.refer();
    b.on("acceptReferral", &r2, json!({}));
    assert_eq!(
        b.on("waitlistReferral", &r2, json!({ "estimatedWaitDays": 21 }))["referral"]["status"],
        "ON_HOLD"
    );
    b.on("startReferral", &r2, json!({}));
    assert_eq!(
        b.on("waitlistReferral", &r2, json!({}))["referral"]["status"],
        "ON_HOLD"
    );
    b.on("startReferral", &r2, json!({}));
    let done = b.on(
        "completeReferral",
        &r2,
        json!({ "outcome": "NEED_PARTLY_MET" }),
    );
    assert_eq!(done["needCase"]["status"], "COMPLETED");
    let seen = b.status(&done["position"]);
    assert_eq!(
        seen["referrals"],
        json!([{ "status": "REJECTED" }, { "status": "COMPLETED" }])
    );

    // Cancelled by the recipient, then closed: no service available.
    let c = Case::open(&s, &recipient);
    c.suggest();
    let r = c.refer();
    let p = c.on(
        "cancelReferral",
        &r,
        json!({ "by": "RECIPIENT", "reason": "RECIPIENT_CHANGED_MIND" }),
    );
    assert_eq!(p["referral"]["status"], "CANCELLED");
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": c.id, "reason": "NO_SERVICE_AVAILABLE" }),
        NC,
    );
    assert_eq!(ok(&p)["needCase"]["status"], "CLOSED");

    // Failed (no-show) after acceptance, then closed: declined by the recipient.
    let d = Case::open(&s, &recipient);
    d.suggest();
    let r = d.refer();
    d.on("acceptReferral", &r, json!({}));
    assert_eq!(
        d.on("failReferral", &r, json!({ "reason": "NO_SHOW" }))["referral"]["status"],
        "FAILED"
    );
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": d.id, "reason": "DECLINED_BY_RECIPIENT" }),
        NC,
    );
    assert_eq!(ok(&p)["needCase"]["status"], "CLOSED");

    // Closed right after identification: resolved without referral.
    let e = Case::open(&s, &recipient);
    let p = s.mutate(
        "closeNeed",
        json!({ "needCaseId": e.id, "reason": "RESOLVED_WITHOUT_REFERRAL" }),
        NC,
    );
    assert_eq!(ok(&p)["needCase"]["status"], "CLOSED");

    // The completing referral of case a entered in error: the case is no longer completed.
    let p = s.mutate(
        "markEnteredInError",
        json!({ "needCaseId": a.id, "referralId": r_of(&s, &a.id), "reason": "WRONG_SERVICE" }),
        NC,
    );
    assert_eq!(ok(&p)["needCase"]["status"], "SUGGESTED");
    // The whole of case b entered in error.
    let p = s.mutate(
        "markEnteredInError",
        json!({ "needCaseId": b.id, "reason": "DUPLICATE" }),
        NC,
    );
    assert_eq!(ok(&p)["needCase"]["status"], "ENTERED_IN_ERROR");

    // The read models agree, and the audit trail names who did what.
    let pos = p["position"].clone();
    let d = s.data(
        "query($p: Position) { needCases(minPosition: $p, first: 10, filter: { status: [CLOSED] }) { totalCount }
           all: needCases(minPosition: $p, first: 10) { totalCount edges { node { status } } } }",
        json!({ "p": pos }),
    );
    assert_eq!(d["needCases"]["totalCount"], 3);
    assert_eq!(d["all"]["totalCount"], 5);
    let h = s.data(
        "query($s: String!) { history(stream: $s) { type version actor { subject role } site } }",
        json!({ "s": format!("need-{}", a.id) }),
    );
    let types: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "NeedIdentified",
            "ServicesSuggested",
            "ReferralRequested",
            "ReferralAccepted",
            "ReferralStarted",
            "ReferralCompleted",
            "EnteredInError"
        ]
    );
    assert_eq!(
        h["history"][0]["actor"],
        json!({ "subject": "e2e-coordinator", "role": "coordinator" })
    );
    assert_eq!(h["history"][0]["site"], "be-leuven");
}

fn r_of(s: &Server, need_case: &str) -> String {
    let d = s.data(
        "query($id: ID!) { needCase(id: $id) { referrals { referralId } } }",
        json!({ "id": need_case }),
    );
    d["needCase"]["referrals"][0]["referralId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The worklist holds the open referrals of a site (oldest update first) and the
/// overdue cases; `mine` keeps the caller's own referrals; `node` resolves global ids.
#[test]
fn the_worklist_shows_open_and_overdue_need_cases_and_nodes_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let recipient = register(&s, "be-leuven");
    // Identified 30 days ago and untouched since: overdue with the default 14 days.
    let old = chrono_days_ago(30);
    let p = s.mutate(
        "identifyNeed",
        json!({ "recipientId": recipient, "needCode": "soc.financial-hardship", "occurredAt": old }),
        "needCase { id needCaseId }",
    );
    let stale_id = ok(&p)["needCase"]["needCaseId"]
        .as_str()
        .unwrap()
        .to_string();
    let global = p["needCase"]["id"].as_str().unwrap().to_string();
    // A fresh case with an open referral.
    let fresh = Case::open(&s, &recipient);
    fresh.suggest();
    let r = fresh.refer();
    // A fresh case without referral: neither open referral nor overdue.
    let quiet = Case::open(&s, &recipient);
    let pos = s.mutate(
        "suggestServices",
        json!({ "needCaseId": quiet.id, "services": [{ "serviceId": s.service() }] }),
        NC,
    )["position"]
        .clone();

    let w = s.data(
        "query($p: Position) { worklist(site: \"be-leuven\", minPosition: $p) { totalCount overdueDays items { overdue needCase { needCaseId } openReferral { referralId } } } }",
        json!({ "p": pos }),
    )["worklist"]
        .clone();
    assert_eq!(w["overdueDays"], 14);
    assert_eq!(w["totalCount"], 2);
    assert_eq!(w["items"][0]["needCase"]["needCaseId"], stale_id.as_str());
    assert_eq!(w["items"][0]["overdue"], true);
    assert_eq!(w["items"][1]["openReferral"]["referralId"], r.as_str());
    let mine = s.data(
        "{ worklist(site: \"be-leuven\", mine: true) { totalCount } }",
        json!({}),
    );
    assert_eq!(
        mine["worklist"]["totalCount"], 1,
        "only the referral the caller requested"
    );
    let other = s.data("{ worklist(site: \"de-koeln\") { totalCount } }", json!({}));
    assert_eq!(other["worklist"]["totalCount"], 0);
    let overdue = s.data(
        "{ needCases(filter: { overdue: true }) { totalCount } }",
        json!({}),
    );
    assert_eq!(overdue["needCases"]["totalCount"], 1);

    let n = s.data(
        "query($id: ID!) { node(id: $id) { id ... on NeedCase { needCaseId recipient { recipientId } } } }",
        json!({ "id": global }),
    );
    assert_eq!(n["node"]["needCaseId"], stale_id.as_str());
    assert_eq!(n["node"]["recipient"]["recipientId"], recipient.as_str());
}

fn chrono_days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339()
}
