//! Answer links (issue 16): a service without an account answers the referral
//! on the page of a link the coordinator's `requestReferral` issued — in its
//! language, the answers its status allows, recorded as the performing side and
//! seen live by the coordinator's subscription; a replaced, closed or forged
//! link is refused and writes nothing.

use crate::api::{Server, mint, v7};
use crate::live::service_of;
use serde_json::{Value, json};

const ORG: &str = "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6d";

/// A need case at Liège referred to `service` with an answer link (in Dutch):
/// the need case, the referral and the link's path.
fn referred_with_link(s: &Server, service: &str) -> (String, String, String) {
    let (id, q) = crate::live::referred_with(
        s,
        "be-liege",
        service,
        json!({ "answerLink": { "validDays": 7, "lang": "NL" } }),
        "referral { referralId answerLink { url expiresAt lang } }",
    );
    let link = &q["referral"]["answerLink"];
    assert_eq!(link["lang"], json!("NL"), "{q}");
    let url = link["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/answer/al1."), "{url}");
    (
        id,
        q["referral"]["referralId"].as_str().unwrap().to_string(),
        url,
    )
}

fn form(s: &Server, url: &str, body: &str) -> crate::api::Answer {
    s.http(
        url,
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    )
}

fn status_of(s: &Server, token: &str, need_case: &str) -> Value {
    let v = s.data_as(
        token,
        "query($id: ID!, $p: Position) { needCase(id: $id, minPosition: $p) { openReferral { status } referrals { status } } }",
        json!({ "id": need_case, "p": s.head().to_string() }),
    );
    v["needCase"]["referrals"][0]["status"].clone()
}

#[test]
fn a_service_answers_through_the_link_page_in_its_language_as_the_performer() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let nurse = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let (need_case, referral, url) = referred_with_link(&s, &service);

    // The page in the link's language, the others on request; the answers the
    // status allows (accept, decline), with the reasons to choose from.
    let page = s.http(&url, &[], None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    for needle in [
        "lang=\"nl\"",
        "Verwijzing te beantwoorden",
        "Aanvaarden",
        "Weigeren",
        "Geen plaats",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle} missing:\n{}",
            page.body
        );
    }
    assert!(
        !page.body.contains("name=\"answer\" value=\"start\""),
        "{}",
        page.body
    );
    for (lang, word) in [("fr", "Accepter"), ("de", "Annehmen"), ("en", "Accept")] {
        let p = s.http(&format!("{url}?lang={lang}"), &[], None);
        assert!(
            p.body.contains(&format!("lang=\"{lang}\"")) && p.body.contains(word),
            "{}",
            p.body
        );
    }

    // A malformed answer and one the status does not allow write nothing.
    let head = s.head();
    assert_eq!(form(&s, &url, "answer=reject&reason=bored").status, 400);
    assert_eq!(
        form(&s, &url, "answer=complete&outcome=need_met").status,
        409
    );
    assert_eq!(s.head(), head);

    // Accepted through the link: recorded as the performer, through that link.
    let key = v7();
    let ok = form(&s, &url, &format!("answer=accept&key={key}&lang=nl"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("Dank u"), "{}", ok.body);
    assert_eq!(status_of(&s, &nurse, &need_case), json!("ACCEPTED"));
    // The same form sent again records nothing more.
    let head = s.head();
    assert_eq!(
        form(&s, &url, &format!("answer=accept&key={key}&lang=nl")).status,
        200
    );
    assert_eq!(s.head(), head);
    let h = s.data_as(
        &nurse,
        "query($s: String!) { history(stream: $s) { type actor { subject role } } }",
        json!({ "s": format!("need-{need_case}") }),
    );
    let last = h["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], json!("ReferralAccepted"), "{h}");
    assert!(
        last["actor"]["role"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("provider"),
        "{h}"
    );
    assert!(
        last["actor"]["subject"]
            .as_str()
            .unwrap()
            .starts_with("answer-link:"),
        "{h}"
    );

    // A new link replaces the old one; the old page says so (410).
    let again = s.mutate_as(
        &nurse,
        "issueAnswerLink",
        json!({ "needCaseId": need_case, "referralId": referral, "validDays": 3, "lang": "FR" }),
        "answerLink { url lang }",
    );
    assert_eq!(again["userErrors"], json!([]), "{again}");
    let newer = again["answerLink"]["url"].as_str().unwrap().to_string();
    assert_ne!(newer, url);
    let old = s.http(&url, &[], None);
    assert_eq!(old.status, 410, "{}", old.body);
    let head = s.head();
    assert_eq!(form(&s, &url, "answer=start").status, 410);
    assert_eq!(s.head(), head);

    // Started and completed through the newer one; then it is closed (410).
    assert_eq!(form(&s, &newer, "answer=start").status, 200);
    assert_eq!(
        form(&s, &newer, "answer=complete&outcome=need_partly_met").status,
        200
    );
    assert_eq!(status_of(&s, &nurse, &need_case), json!("COMPLETED"));
    let closed = s.http(&newer, &[], None);
    assert_eq!(closed.status, 410);
    assert!(closed.body.contains("clôturée"), "{}", closed.body);

    // Forged or foreign links are 404 and write nothing.
    let head = s.head();
    // A character in the middle of the signature changed (the last one may only
    // carry padding bits).
    let mut forged = newer.clone().into_bytes();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [forged.as_str(), "/answer/al1.e30.AAAA", "/answer/nothing"] {
        assert_eq!(s.http(bad, &[], None).status, 404, "{bad}");
        assert_eq!(form(&s, bad, "answer=accept").status, 404, "{bad}");
    }
    assert_eq!(s.head(), head);

    // Links are issued by the site's coordinators only.
    let koeln = mint(dir.path(), "nurse-koeln", "coordinator", &["de-koeln"]);
    let v = s.gql_as(
        &koeln,
        "mutation($i: IssueAnswerLinkInput!) { issueAnswerLink(input: $i) { answerLink { url } } }",
        json!({ "i": { "needCaseId": need_case, "referralId": referral, "lang": "EN" } }),
    );
    assert_eq!(
        v["errors"][0]["extensions"]["code"],
        json!("FORBIDDEN"),
        "{v}"
    );
}

/// The closed loop through an answer link, live: the coordinator's
/// subscription receives the request, the link's issue and the answers given on
/// the page, in order.
#[test]
fn the_coordinator_sees_answers_given_through_a_link_live() {
    let Some(dir) = crate::live::client_dir() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let s = Server::start(data.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let nurse = mint(data.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let after = s.head().to_string();
    let client = crate::live::Client::subscribe(
        dir,
        &s,
        &nurse,
        "subscription($after: Position) { referralUpdated(site: \"be-liege\", after: $after) { status event } }",
        json!({ "after": after }),
        4,
    );
    let (_, _, url) = referred_with_link(&s, &service);
    assert_eq!(form(&s, &url, "answer=accept").status, 200);
    assert_eq!(form(&s, &url, "answer=waitlist&days=12").status, 200);
    let got: Vec<Value> = (0..4)
        .map(|_| {
            let u = client.next_data()["referralUpdated"].clone();
            json!([u["event"], u["status"]])
        })
        .collect();
    assert_eq!(
        got,
        vec![
            json!(["ReferralRequested", "REQUESTED"]),
            json!(["AnswerLinkIssued", null]),
            json!(["ReferralAccepted", "ACCEPTED"]),
            json!(["ReferralWaitlisted", "ON_HOLD"]),
        ]
    );
}
