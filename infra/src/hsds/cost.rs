//! What a service costs, from HSDS `cost_options` (free text in `option`, the
//! price in `amount` and `currency`).
//!
//! Per option, the first rule that applies:
//! 1. an attribute of the taxonomy `careledger-cost` (term code `free`,
//!    `reimbursed` or `fee`) linked to the cost option — or to the service, which
//!    then decides for all its options;
//! 2. `option` is exactly `free`, `reimbursed` or `fee` and no amount is given
//!    (CareLedger's earlier profile): that kind;
//! 3. `amount` 0 → free; `amount` above 0 → fee;
//! 4. no amount and free wording in `option` (free, no charge, no cost, gratuit,
//!    gratis, kostenlos, kosteloos, unentgeltlich, sans frais) → free;
//! 5. otherwise fee.
//!
//! With several options the most favourable kind counts (free, then reimbursed,
//! then fee), and the option that gave it keeps its words as the service's cost
//! note (`option`, then `(amount CURRENCY)`). A service without cost options
//! reads its `fees_description` as one; without either it is a fee, noted.

use super::table::{Report, Row};
use careledger_domain::directory::Cost;
use serde_json::Value;
use std::collections::HashMap;

pub(crate) const TAXONOMY: &str = "careledger-cost";
const MAX_NOTE: usize = 200;

pub(crate) fn word(c: Cost) -> &'static str {
    match c {
        Cost::Free => "free",
        Cost::Reimbursed => "reimbursed",
        Cost::Fee => "fee",
    }
}

pub(crate) fn from_word(s: &str) -> Option<Cost> {
    match s.trim().to_ascii_lowercase().as_str() {
        "free" => Some(Cost::Free),
        "reimbursed" => Some(Cost::Reimbursed),
        "fee" => Some(Cost::Fee),
        _ => None,
    }
}

fn rank(c: Cost) -> u8 {
    match c {
        Cost::Free => 0,
        Cost::Reimbursed => 1,
        Cost::Fee => 2,
    }
}

fn free_wording(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
    words.iter().any(|w| {
        matches!(
            *w,
            "free"
                | "gratuit"
                | "gratuite"
                | "gratis"
                | "kostenlos"
                | "kosteloos"
                | "unentgeltlich"
        )
    }) || ["no charge", "no cost", "sans frais"]
        .iter()
        .any(|p| lower.contains(p))
}

/// A number, or a number written as text.
fn amount(v: Option<&Value>) -> Result<Option<f64>, ()> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().filter(|a| *a >= 0.0).map(Some).ok_or(()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite() && *a >= 0.0)
            .map(Some)
            .ok_or(()),
        Some(_) => Err(()),
    }
}

fn note(text: Option<&str>, amount: Option<f64>, currency: Option<&str>) -> Option<String> {
    let price = amount.map(|a| {
        let a = if a.fract() == 0.0 {
            format!("{a:.0}")
        } else {
            format!("{a}")
        };
        match currency {
            Some(c) => format!("{a} {}", c.to_uppercase()),
            None => a,
        }
    });
    let mut n = match (text, price) {
        (Some(t), Some(p)) => format!("{t} ({p})"),
        (Some(t), None) => t.to_string(),
        (None, Some(p)) => p,
        (None, None) => return None,
    };
    if n.len() > MAX_NOTE {
        let mut cut = MAX_NOTE - 3;
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        n.truncate(cut);
        n.push('…');
    }
    Some(n)
}

/// One option's kind and note.
fn option(
    row: &Row,
    text_field: &str,
    linked: Option<Cost>,
    sid: &str,
    r: &mut Report,
) -> (Cost, Option<String>) {
    let text = row.words(text_field);
    let amount = match amount(row.fields.get("amount")) {
        Ok(a) => a,
        Err(()) => {
            r.problem(row, Some("amount"), Some(sid), "not an amount of 0 or more");
            None
        }
    };
    let currency = row.text("currency");
    let named = text
        .as_deref()
        .and_then(from_word)
        .filter(|_| amount.is_none());
    if let Some(kind) = linked {
        let n = named
            .is_none()
            .then(|| note(text.as_deref(), amount, currency.as_deref()));
        return (kind, n.flatten());
    }
    if let Some(kind) = named {
        return (kind, None);
    }
    let kind = match amount {
        Some(0.0) => Cost::Free,
        Some(_) => Cost::Fee,
        None if text.as_deref().is_some_and(free_wording) => Cost::Free,
        None => Cost::Fee,
    };
    let n = note(text.as_deref(), amount, currency.as_deref());
    if let Some(n) = &n
        && amount.is_none()
    {
        r.note(
            row,
            Some(text_field),
            format!("cost read from the words as {} ('{n}')", word(kind)),
        );
    }
    (kind, n)
}

/// The service's cost and note from its options (`options`, in row order),
/// the kind its own attribute names, and the kinds attributes give options.
pub(crate) fn of(
    service: &Row,
    options: &[&Row],
    service_kind: Option<Cost>,
    option_kinds: &HashMap<String, Cost>,
    sid: &str,
    r: &mut Report,
) -> (Cost, Option<String>) {
    let mut read: Vec<(Cost, Option<String>)> = options
        .iter()
        .map(|o| {
            let linked = o
                .id()
                .and_then(|id| option_kinds.get(&id).copied())
                .or(service_kind);
            option(o, "option", linked, sid, r)
        })
        .collect();
    if read.is_empty() && service.words("fees_description").is_some() {
        read.push(option(service, "fees_description", service_kind, sid, r));
    }
    if read.is_empty() && service_kind.is_none() {
        r.note(
            service,
            None,
            "no cost option and no fees_description: read as a fee",
        );
    }
    let best = read.iter().map(|(c, _)| *c).min_by_key(|c| rank(*c));
    let kind = service_kind.or(best).unwrap_or(Cost::Fee);
    let note = read
        .iter()
        .find(|(c, _)| *c == kind)
        .or(read.first())
        .and_then(|(_, n)| n.clone());
    (kind, note)
}
