//! Which needs of the catalogue a service addresses, and the cost kinds
//! attributes name.
//!
//! Needs come from three places, all kept:
//! * `need_services.json` (`[{"service_id", "needs": [codes]}]`, CareLedger's
//!   layout, read beside a package of any form);
//! * HSDS `attributes` linking a service to a term of the taxonomy
//!   `careledger-needs`, whose term code is the need code (what `export-hsds`
//!   writes);
//! * attributes linking a service to a term of any other taxonomy, through the
//!   taxonomy map (`term_code,need_code`). Terms the map does not name are noted
//!   and left out.

use super::cost;
use super::table::{Report, Row, Tables};
use careledger_domain::catalogue::Catalogue;
use careledger_domain::directory::Cost;
use careledger_domain::values::NeedCode;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

pub(crate) const TAXONOMY: &str = "careledger-needs";

#[derive(Default)]
pub(crate) struct Links {
    pub needs: HashMap<String, Vec<NeedCode>>,
    /// Cost kinds by the id of what the attribute links (a service or a cost option).
    pub cost: HashMap<String, Cost>,
}

fn need(code: &str, catalogue: &Catalogue) -> Result<NeedCode, String> {
    let c = NeedCode::parse(code).map_err(|e| e.to_string())?;
    catalogue.resolve(&c).map_err(|e| e.to_string())?;
    Ok(c)
}

pub(crate) fn collect(
    tables: &Tables,
    catalogue: &Catalogue,
    map: &HashMap<String, Vec<String>>,
    services: &HashSet<String>,
    r: &mut Report,
) -> Links {
    let mut links = Links::default();
    let taxonomies: HashMap<String, String> = tables
        .rows("taxonomies")
        .iter()
        .filter_map(|t| Some((t.id()?, t.text("name")?)))
        .collect();
    // term id → (code, taxonomy name)
    let mut terms: HashMap<String, (String, String)> = HashMap::new();
    for t in tables.rows("taxonomy_terms") {
        let (Some(id), Some(code)) = (t.id(), t.text("code").or_else(|| t.text("name"))) else {
            r.problem(
                t,
                Some("code"),
                None,
                "a taxonomy term needs an id and a code",
            );
            continue;
        };
        let taxonomy = t
            .text("taxonomy")
            .or_else(|| {
                t.text("taxonomy_id")
                    .and_then(|i| taxonomies.get(&i).cloned())
            })
            .unwrap_or_default();
        terms.entry(id).or_insert((code, taxonomy));
    }
    for a in tables.rows("attributes") {
        let link = a.text("link_id").unwrap_or_default();
        let service = services.contains(&link).then_some(link.as_str());
        r.bad_cells(a, service);
        let Some((code, taxonomy)) = a.text("taxonomy_term_id").and_then(|t| terms.get(&t)) else {
            r.problem(
                a,
                Some("taxonomy_term_id"),
                service,
                "missing or not in taxonomy_terms",
            );
            continue;
        };
        if taxonomy == cost::TAXONOMY {
            match cost::from_word(code) {
                Some(c) => {
                    links.cost.insert(link.clone(), c);
                }
                None => r.problem(
                    a,
                    Some("taxonomy_term_id"),
                    service,
                    format!("cost term '{code}' is not free, reimbursed or fee"),
                ),
            }
            continue;
        }
        let Some(sid) = service else { continue };
        let codes: Vec<&str> = if taxonomy == TAXONOMY {
            vec![code.as_str()]
        } else if let Some(mapped) = map.get(code) {
            mapped.iter().map(String::as_str).collect()
        } else {
            r.note(a, Some("taxonomy_term_id"), format!("taxonomy term '{code}' ({taxonomy}) is not in the taxonomy map: no need read from it"));
            continue;
        };
        for c in codes {
            match need(c, catalogue) {
                Ok(n) => links.needs.entry(sid.to_string()).or_default().push(n),
                Err(e) => r.problem(a, Some("taxonomy_term_id"), Some(sid), e),
            }
        }
    }
    for row in tables.rows("need_services") {
        need_services(row, catalogue, services, &mut links, r);
    }
    links
}

fn need_services(
    row: &Row,
    catalogue: &Catalogue,
    services: &HashSet<String>,
    links: &mut Links,
    r: &mut Report,
) {
    let Some(sid) = row.text("service_id") else {
        r.problem(row, Some("service_id"), None, "missing 'service_id'");
        return;
    };
    if !services.contains(&sid) {
        r.problem(
            row,
            Some("service_id"),
            None,
            format!("service_id {sid} is not a service of the package"),
        );
        return;
    }
    let Some(list) = row.fields.get("needs").and_then(Value::as_array) else {
        r.problem(
            row,
            Some("needs"),
            Some(&sid),
            "missing 'needs' (an array of need codes)",
        );
        return;
    };
    for n in list {
        match need(n.as_str().unwrap_or(""), catalogue) {
            Ok(c) => links.needs.entry(sid.clone()).or_default().push(c),
            Err(e) => r.problem(row, Some("needs"), Some(&sid), e),
        }
    }
}
