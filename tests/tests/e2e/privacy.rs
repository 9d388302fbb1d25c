//! No personal data and no credential in the logs: a whole lifecycle (and an API
//! key's issue and use) runs with the most verbose log level, and the captured
//! logs are searched for every token, key and recipient attribute used.

use crate::helpers::program;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn post(agent: &ureq::Agent, base: &str, token: &str, query: &str, vars: Value) -> Value {
    let body = json!({ "query": query, "variables": vars }).to_string();
    let mut r = agent
        .post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", &format!("Bearer {token}"))
        .send(body.as_bytes())
        .unwrap();
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn a_full_lifecycle_leaves_no_personal_data_and_no_credential_in_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(program())
        .args(["serve"])
        .env("CARELEDGER_DATA_DIR", dir.path())
        .env("CARELEDGER_ADDR", "127.0.0.1:0")
        // Everything every crate logs, down to trace.
        .env("CARELEDGER_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let err = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
        }
        all
    });
    let mut token = String::new();
    let mut base = String::new();
    while base.is_empty() {
        let l = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server output");
        if l.contains("admin token") {
            token = l.rsplit(' ').next().unwrap().to_string();
        }
        if let Some(w) = l.split_whitespace().find(|w| w.starts_with("http://")) {
            base = w.to_string();
        }
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let ok = |v: &Value, name: &str| {
        assert!(v["errors"].is_null(), "{v}");
        assert_eq!(v["data"][name]["userErrors"], json!([]), "{v}");
        v["data"][name].clone()
    };
    // Case work is a coordinator's.
    let nurse = crate::api::mint(dir.path(), "nurse-p", "coordinator", &["nl-maastricht"]);
    // Distinctive personal attributes, so a leak cannot hide among other numbers.
    let r = post(
        &agent,
        &base,
        &nurse,
        "mutation($i: RegisterCareRecipientInput!) { registerCareRecipient(input: $i) { careRecipient { id } userErrors { code } } }",
        json!({ "i": { "site": "nl-maastricht", "birthYear": 1937, "sex": "FEMALE", "country": "NL",
                        "postalCode": "6217 KX", "language": "tr", "preferentialReimbursement": "YES",
                        "deprivationDecile": 2, "cancerSiteGroup": "GYNAECOLOGICAL",
                        "personalData": { "givenName": "Ottoline", "familyName": "Brinkgreve", "phone": "+31 43 987 65 43", "email": "ottoline.b@example.nl" } } }),
    );
    let recipient = ok(&r, "registerCareRecipient")["careRecipient"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = post(
        &agent,
        &base,
        &nurse,
        "mutation($i: IdentifyNeedInput!) { identifyNeed(input: $i) { needCase { id } userErrors { code } } }",
        json!({ "i": { "recipientId": recipient, "needCode": "psy.fear-of-recurrence" } }),
    );
    let case = ok(&n, "identifyNeed")["needCase"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A service of the directory (the administrator's), for the suggestion and referral.
    let text = json!({ "en": "Dienst", "fr": "Service", "nl": "Dienst", "de": "Dienst" });
    let registered = post(
        &agent,
        &base,
        &token,
        "mutation($i: RegisterServiceInput!) { registerService(input: $i) { service { serviceId } userErrors { code } } }",
        json!({ "i": { "profile": { "organisation": "Stichting Voorbeeld", "name": text, "description": text,
            "needs": ["psy.fear-of-recurrence"], "languages": ["nl"], "area": { "countries": ["NL"] }, "cost": "FREE" } } }),
    );
    let service = ok(&registered, "registerService")["service"]["serviceId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &post(
            &agent,
            &base,
            &nurse,
            "mutation($i: SuggestServicesInput!) { suggestServices(input: $i) { userErrors { code } } }",
            json!({ "i": { "needCaseId": case, "services": [{ "serviceId": service }] } }),
        ),
        "suggestServices",
    );
    let referral = uuid::Uuid::now_v7().to_string();
    ok(
        &post(
            &agent,
            &base,
            &nurse,
            "mutation($i: RequestReferralInput!) { requestReferral(input: $i) { userErrors { code } } }",
            json!({ "i": { "needCaseId": case, "serviceId": service, "referralId": referral } }),
        ),
        "requestReferral",
    );
    // A note on the referral (issue 16), and one refused for a control
    // character: neither text reaches a log line.
    for (text, code) in [
        ("Ottoline-note: belt haar dinsdag", json!([])),
        (
            "Ottoline-refused\u{7}",
            json!([{ "code": "CONTROL_CHARACTERS" }]),
        ),
    ] {
        let v = post(
            &agent,
            &base,
            &nurse,
            "mutation($i: AddReferralNoteInput!) { addReferralNote(input: $i) { userErrors { code } } }",
            json!({ "i": { "needCaseId": case, "referralId": referral, "text": text } }),
        );
        assert_eq!(v["data"]["addReferralNote"]["userErrors"], code, "{v}");
    }
    // The service answers through an answer link (issue 16): its token (a
    // credential) reaches no log line, nor does the page's form.
    let issued = post(
        &agent,
        &base,
        &nurse,
        "mutation($i: IssueAnswerLinkInput!) { issueAnswerLink(input: $i) { answerLink { url } userErrors { code } } }",
        json!({ "i": { "needCaseId": case, "referralId": referral, "lang": "NL" } }),
    );
    let link = ok(&issued, "issueAnswerLink")["answerLink"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let page = agent
        .get(format!("{base}{link}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("Aanvaarden"), "{page}");
    let answered = agent
        .post(format!("{base}{link}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(b"answer=accept&lang=nl".as_slice())
        .unwrap();
    assert_eq!(answered.status(), 200);
    let link_token = link.rsplit('/').next().unwrap().to_string();
    for (m, input) in [
        (
            "startReferral",
            json!({ "needCaseId": case, "referralId": referral }),
        ),
        (
            "completeReferral",
            json!({ "needCaseId": case, "referralId": referral, "outcome": "NEED_MET" }),
        ),
    ] {
        let mut t = m[..1].to_uppercase();
        t.push_str(&m[1..]);
        ok(
            &post(
                &agent,
                &base,
                &nurse,
                &format!(
                    "mutation($i: {t}Input!) {{ {m}(input: $i) {{ userErrors {{ code }} }} }}"
                ),
                json!({ "i": input }),
            ),
            m,
        );
    }
    // The name read back, then erased by an administrator.
    let read = post(
        &agent,
        &base,
        &nurse,
        "query($id: ID!) { projections { head } }",
        json!({ "id": recipient }),
    );
    let head = read["data"]["projections"]["head"].clone();
    let read = post(
        &agent,
        &base,
        &nurse,
        "query($id: ID!, $p: Position) { careRecipient(id: $id, minPosition: $p) { personalData { givenName } } }",
        json!({ "id": recipient, "p": head }),
    );
    assert_eq!(
        read["data"]["careRecipient"]["personalData"]["givenName"], "Ottoline",
        "{read}"
    );
    ok(
        &post(
            &agent,
            &base,
            &token,
            "mutation($i: EraseCareRecipientInput!) { eraseCareRecipient(input: $i) { userErrors { code } } }",
            json!({ "i": { "recipientId": recipient } }),
        ),
        "eraseCareRecipient",
    );
    // A refused request and a bad token are logged as events, not with their content.
    let _ = post(
        &agent,
        &base,
        "not-a-token",
        "{ catalogue { version } }",
        json!({}),
    );
    let key = post(
        &agent,
        &base,
        &token,
        "mutation { issueApiKey(input: { name: \"portal\" }) { secret userErrors { code } } }",
        json!({}),
    );
    let secret = ok(&key, "issueApiKey")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        post(
            &agent,
            &base,
            &secret,
            "{ catalogue { version } }",
            json!({})
        )["errors"]
            .is_null()
    );

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logs = logs.join().unwrap();
    assert!(
        logs.contains("serving") && logs.contains("shutting down"),
        "the logs were captured:\n{logs}"
    );
    for (what, needle) in [
        ("the admin token", token.as_str()),
        ("the coordinator's token", nurse.as_str()),
        ("its signature", nurse.rsplit('.').next().unwrap()),
        ("the token's signature", token.rsplit('.').next().unwrap()),
        ("the API key", secret.as_str()),
        ("the answer link", link_token.as_str()),
        (
            "the answer link's signature",
            link_token.rsplit('.').next().unwrap(),
        ),
        ("the given name", "Ottoline"),
        ("a note's text", "belt haar dinsdag"),
        ("the family name", "Brinkgreve"),
        ("the phone number", "987 65"),
        ("the email address", "ottoline.b@"),
        ("the birth year", "1937"),
        ("the postal code", "6217"),
        ("the postal code", "KX"),
        ("the cancer site group", "GYNAECOLOGICAL"),
        ("the cancer site group", "gynaecological"),
    ] {
        assert!(
            !appears(&logs, needle),
            "{what} ({needle}) appears in the logs:\n{logs}"
        );
    }
}

/// Whether `needle` is in the logs. A number (a birth year, a postal code's
/// digits) counts only standing alone, not inside a longer one, and not in the
/// lines' timestamps or a request's latency: those are the server's own figures
/// (`…T12:24:34.621754Z` holds "6217" and is no postal code).
fn appears(logs: &str, needle: &str) -> bool {
    if !needle.bytes().all(|b| b.is_ascii_digit()) {
        return logs.contains(needle);
    }
    logs.lines().any(|line| {
        // Everything after the timestamp, without the latency field.
        let stamp_end = line
            .char_indices()
            .take(48)
            .find(|&(i, c)| c == 'Z' && line[..i].ends_with(|d: char| d.is_ascii_digit()))
            .map_or(0, |(i, _)| i + 1);
        let rest = &line[stamp_end..];
        let rest = match rest.find("latency=") {
            Some(i) => {
                let tail = &rest[i + "latency=".len()..];
                let digits = tail
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(tail.len());
                format!("{}{}", &rest[..i], &tail[digits..])
            }
            None => rest.to_string(),
        };
        rest.match_indices(needle).any(|(i, _)| {
            let before = rest[..i].chars().next_back();
            let after = rest[i + needle.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit())
        })
    })
}

#[test]
fn a_number_counts_only_standing_alone_outside_timestamps_and_latencies() {
    let line = "\u{1b}[2m2026-12-01T12:24:34.621754Z\u{1b}[0m DEBUG finished latency=6217 μs";
    assert!(
        !appears(line, "6217"),
        "inside the timestamp or the latency"
    );
    assert!(
        !appears("code 162170 seen", "6217"),
        "inside a longer number"
    );
    assert!(appears("postal_code=6217 KX", "6217"));
    assert!(appears(&format!("{line} postal_code=6217"), "6217"));
    assert!(
        !appears("2026-12-01T12:24:34.621754Z INFO plain", "6217"),
        "uncoloured"
    );
    assert!(appears("name=Ottoline", "Ottoline"));
}
