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

/// A resource's history, newest version first (as FHIR orders it).
pub fn history(self_url: &str, versions: Vec<Entry>) -> Value {
    let total = versions.len();
    json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": [{ "relation": "self", "url": self_url }],
        "entry": versions.into_iter().rev().map(|e| {
            let mut v = entry(e);
            v["request"] = json!({ "method": "PUT", "url": v["fullUrl"].clone() });
            v["response"] = json!({ "status": "200" });
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
