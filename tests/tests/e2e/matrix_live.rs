//! The authorisation matrix over WebSocket (issue 16): every subscription field,
//! as every caller of `matrix.rs` — allowed callers receive the change they may
//! read, everyone else a `FORBIDDEN` error for the operation and nothing else.
//! A plain (synchronous) tungstenite client speaks graphql-transport-ws here, so
//! this needs no Node.js.

use crate::api::Server;
use crate::live::{referred, service_of};
use crate::matrix::{Caller, EVERYONE, IN, ORG, callers};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

/// Subscribes with `token` and returns the first message after the ack (a
/// `next`, or an `error`), or the close frame's code as `{"closed": code}`.
pub(crate) fn first_answer(base: &str, token: &str, query: &str) -> Value {
    let url = format!("{}/graphql", base.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tungstenite::connect(request).expect("a WebSocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = ws.get_mut() {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    let mut sent_subscribe = false;
    ws.send(Message::Text(init.to_string().into())).unwrap();
    loop {
        match ws.read().expect("an answer within 10 s") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "connection_ack" && !sent_subscribe {
                    ws.send(Message::Text(sub.to_string().into())).unwrap();
                    sent_subscribe = true;
                } else {
                    let _ = ws.close(None);
                    return v;
                }
            }
            Message::Close(frame) => {
                return json!({ "closed": frame.map(|f| u16::from(f.code)) });
            }
            _ => {}
        }
    }
}

#[test]
fn every_subscription_as_every_role_inside_and_outside_its_sites_and_organisations() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let callers = callers(&s, dir.path());
    // One referral at the matrix site to the matrix organisation's service: a
    // change every allowed caller may replay from the start of the log.
    let service = service_of(&s, ORG);
    referred(&s, IN, &service);

    let rows: [(&str, String, &[Caller]); 3] = [
        (
            "referralUpdated",
            format!(
                "subscription {{ referralUpdated(site: \"{IN}\", after: \"0\") {{ status }} }}"
            ),
            &[Caller::CoordIn],
        ),
        (
            "referralUpdated",
            format!(
                "subscription {{ referralUpdated(organisation: \"{ORG}\", after: \"0\") {{ status }} }}"
            ),
            &[Caller::ProviderIn],
        ),
        (
            "worklistChanged",
            format!("subscription {{ worklistChanged(site: \"{IN}\", after: \"0\") {{ event }} }}"),
            &[Caller::CoordIn],
        ),
    ];
    // Every subscription field has a row.
    let d = s.data(
        "{ __schema { subscriptionType { fields { name } } } }",
        json!({}),
    );
    let fields: BTreeSet<String> = d["__schema"]["subscriptionType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    let covered: BTreeSet<String> = rows.iter().map(|r| r.0.to_string()).collect();
    assert_eq!(fields, covered, "subscription fields without a matrix row");

    let mut cells = 0;
    for (field, query, allowed) in &rows {
        for (caller, token) in &callers {
            let v = first_answer(&s.base, token, query);
            assert_eq!(v["type"], json!("next"), "{field} as {caller:?}: {v}");
            let payload = &v["payload"];
            if allowed.contains(caller) {
                assert!(
                    payload.get("errors").is_none(),
                    "{field} as {caller:?}: {v}"
                );
                assert!(
                    !payload["data"][field].is_null(),
                    "{field} as {caller:?}: {v}"
                );
            } else {
                assert_eq!(
                    payload["errors"][0]["extensions"]["code"],
                    json!("FORBIDDEN"),
                    "{field} as {caller:?} should be denied: {v}"
                );
                assert!(payload["data"].is_null(), "{field} as {caller:?}: {v}");
            }
            cells += 1;
        }
    }
    assert_eq!(cells, rows.len() * EVERYONE.len());
}
