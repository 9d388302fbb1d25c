//! Bundles (a search's `searchset`, a Task's `history`) and `OperationOutcome`,
//! the body of every FHIR error.

use serde_json::{Value, json};

/// An `OperationOutcome` with one error issue (`code` from FHIR's issue-type
/// value set: `not-found`, `forbidden`, `invalid`, `not-supported`, `login`,
/// `throttled`, `exception`, `transient`…).
pub fn operation_outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }],
    })
}

/// One entry of a bundle: the resource and its absolute address.
pub struct Entry {
    pub full_url: String,
    pub resource: Value,
    /// `match` or `include` (search sets only).
    pub mode: Option<&'static str>,
}

/// A search set: its entries, the link to itself and, when there is more, the
/// next page's.
pub fn searchset(self_url: &str, next_url: Option<&str>, entries: Vec<Entry>) -> Value {
    let mut links = vec![json!({ "relation": "self", "url": self_url })];
    if let Some(n) = next_url {
        links.push(json!({ "relation": "next", "url": n }));
    }
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries.into_iter().map(entry).collect::<Vec<_>>(),
    })
}

/// A resource's history, newest version first (as FHIR orders it): the oldest
/// version its creation (`POST`, `201`), every later one an update (`PUT`);
/// `request.url` relative (`Task/<id>`).
pub fn history(self_url: &str, relative: &str, versions: Vec<Entry>) -> Value {
    let total = versions.len();
    json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": [{ "relation": "self", "url": self_url }],
        "entry": versions.into_iter().enumerate().collect::<Vec<_>>().into_iter().rev().map(|(i, e)| {
            let mut v = entry(e);
            let (method, url, status) = if i == 0 {
                ("POST", relative.split('/').next().unwrap_or(relative), "201")
            } else {
                ("PUT", relative, "200")
            };
            v["request"] = json!({ "method": method, "url": url });
            v["response"] = json!({ "status": status });
            v
        }).collect::<Vec<_>>(),
    })
}

fn entry(e: Entry) -> Value {
    let mut v = json!({ "fullUrl": e.full_url, "resource": e.resource });
    if let Some(mode) = e.mode {
        v["search"] = json!({ "mode": mode });
    }
    v
}
