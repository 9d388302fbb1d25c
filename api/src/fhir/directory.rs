//! The shared data as FHIR: the directory's services (`HealthcareService`) and
//! organisations (`Organization`), the needs catalogue (`CodeSystem`), and what
//! this server can do (`CapabilityStatement`).

use super::codes;
use super::resources::instant;
use careledger_domain::catalogue::Catalogue;
use careledger_domain::directory::{Capacity, Cost};
use careledger_domain::ids::OrganisationId;
use careledger_domain::values::{Lang, NeedDomain};
use careledger_projections::directory::ServiceView;
use serde_json::{Value, json};

/// A service of the directory (HSDS `service` → FHIR `HealthcareService`).
pub fn healthcare_service(v: &ServiceView, catalogue: &Catalogue, lang: Lang) -> Option<Value> {
    let d = v.state.data()?;
    let p = &d.profile;
    let provision = match p.cost {
        Cost::Free => ("free", "Free"),
        Cost::Reimbursed => ("disc", "Discounts Available"),
        Cost::Fee => ("cost", "Fees apply"),
    };
    let capacity = match d.capacity {
        Capacity::HasCapacity => {
            json!({ "coding": [{ "system": codes::CAPACITY, "code": "has-capacity" }] })
        }
        Capacity::NoCapacity => {
            json!({ "coding": [{ "system": codes::CAPACITY, "code": "no-capacity" }] })
        }
        Capacity::Waitlist {
            estimated_wait_days,
        } => json!({
            "coding": [{ "system": codes::CAPACITY, "code": "waitlist" }],
            "text": format!("waitlist, estimated wait {estimated_wait_days} days"),
        }),
    };
    let e = &p.eligibility;
    let mut who = Vec::new();
    if e.patients {
        who.push("patients");
    }
    if e.relatives {
        who.push("relatives");
    }
    let mut eligibility = format!("for {}", who.join(" and "));
    match (e.min_age, e.max_age) {
        (Some(a), Some(b)) => eligibility.push_str(&format!(", aged {a} to {b}")),
        (Some(a), None) => eligibility.push_str(&format!(", aged {a} or more")),
        (None, Some(b)) => eligibility.push_str(&format!(", aged up to {b}")),
        (None, None) => {}
    }
    if e.requires_preferential_reimbursement {
        eligibility.push_str(", with preferential reimbursement");
    }
    let mut s = json!({
        "resourceType": "HealthcareService",
        "id": d.id.to_string(),
        "meta": { "versionId": v.version.to_string() },
        "active": !d.retired,
        "name": p.name.get(lang),
        "comment": p.description.get(lang),
        "type": p.needs.iter().map(|n| super::resources::need_concept(catalogue, n, lang)).collect::<Vec<_>>(),
        "communication": p.languages.iter().map(|l| json!({
            "coding": [{ "system": "urn:ietf:bcp:47", "code": l.as_str() }]
        })).collect::<Vec<_>>(),
        "serviceProvisionCode": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/service-provision-conditions",
            "code": provision.0, "display": provision.1
        }] }],
        "eligibility": [{ "code": { "text": "eligibility" }, "comment": eligibility }],
        "characteristic": [capacity],
    });
    if let Some(o) = p.organisation_id {
        s["providedBy"] =
            json!({ "reference": format!("Organization/{o}"), "display": p.organisation });
    }
    let mut telecom = Vec::new();
    for (system, value) in [
        ("phone", &p.contact.phone),
        ("email", &p.contact.email),
        ("url", &p.contact.url),
    ] {
        if let Some(v) = value {
            telecom.push(json!({ "system": system, "value": v, "use": "work" }));
        }
    }
    if !telecom.is_empty() {
        s["telecom"] = Value::Array(telecom);
    }
    Some(s)
}

/// An organisation of the directory, as its services name it (the directory
/// keeps no organisation record of its own: its name is its services').
pub fn organization(id: OrganisationId, services: &[&ServiceView]) -> Option<Value> {
    let first = services.iter().find_map(|s| s.state.data())?;
    let active = services.iter().any(|s| s.state.is_active());
    Some(json!({
        "resourceType": "Organization",
        "id": id.to_string(),
        "active": active,
        "name": first.profile.organisation,
    }))
}

/// The needs catalogue as a `CodeSystem`: every need with its labels in the
/// four languages (the English one the display), its domain a property.
pub fn code_system(catalogue: &Catalogue) -> Value {
    let concepts: Vec<Value> = catalogue
        .needs()
        .iter()
        .map(|n| {
            let designation: Vec<Value> = [Lang::Fr, Lang::Nl, Lang::De]
                .into_iter()
                .map(|l| json!({ "language": l.code(), "value": n.label(l) }))
                .collect();
            json!({
                "code": n.code().as_str(),
                "display": n.label(Lang::En),
                "definition": n.description(Lang::En),
                "designation": designation,
                "property": [{ "code": "domain", "valueCode": domain_code(n.domain()) }],
            })
        })
        .collect();
    json!({
        "resourceType": "CodeSystem",
        "id": "needs",
        "url": codes::NEEDS,
        "version": catalogue.version(),
        "name": "CareLedgerNeeds",
        "title": "CareLedger needs catalogue",
        "status": "active",
        "experimental": false,
        "description": "Supportive-care needs of people with cancer and their relatives, in four domains, labelled in English, French, Dutch and German.",
        "caseSensitive": true,
        "content": "complete",
        "count": concepts.len(),
        "property": [{
            "code": "domain",
            "uri": codes::NEED_DOMAINS,
            "description": "The domain the need belongs to",
            "type": "code"
        }],
        "concept": concepts,
    })
}

fn domain_code(d: NeedDomain) -> String {
    d.name().replace('_', "-")
}

/// The resource types served, and the interactions and search parameters of each.
/// A resource type, its interactions and its search parameters (name, type).
type Served = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const SERVED: [Served; 9] = [
    (
        "Task",
        &["read", "vread", "history-instance", "search-type"],
        &[
            ("owner", "reference"),
            ("requester", "reference"),
            ("status", "token"),
            ("patient", "reference"),
            ("_lastUpdated", "date"),
            ("_count", "number"),
        ],
    ),
    (
        "ServiceRequest",
        &["read", "search-type"],
        &[
            ("performer", "reference"),
            ("requester", "reference"),
            ("patient", "reference"),
            ("_lastUpdated", "date"),
            ("_count", "number"),
        ],
    ),
    (
        "Condition",
        &["read", "search-type"],
        &[("patient", "reference"), ("_count", "number")],
    ),
    ("Patient", &["read", "search-type"], &[("_id", "token")]),
    (
        "Consent",
        &["read", "search-type"],
        &[
            ("actor", "reference"),
            ("patient", "reference"),
            ("_lastUpdated", "date"),
            ("_count", "number"),
        ],
    ),
    (
        "Organization",
        &["read", "search-type"],
        &[("_id", "token"), ("_count", "number")],
    ),
    (
        "HealthcareService",
        &["read", "search-type"],
        &[("organization", "reference"), ("_count", "number")],
    ),
    ("CodeSystem", &["read"], &[]),
    ("OperationOutcome", &[], &[]),
];

/// What this server does: FHIR R4, JSON, read (and Task search and history).
pub fn capability_statement(
    base: &str,
    software_version: &str,
    published: chrono::DateTime<chrono::Utc>,
) -> Value {
    let resources: Vec<Value> = SERVED
        .iter()
        .filter(|(_, interactions, _)| !interactions.is_empty())
        .map(|(ty, interactions, params)| {
            let mut r = json!({
                "type": ty,
                "interaction": interactions.iter().map(|i| json!({ "code": i })).collect::<Vec<_>>(),
            });
            if *ty == "Task" {
                r["searchInclude"] = json!(["Task:focus"]);
                r["versioning"] = json!("versioned");
            }
            if !params.is_empty() {
                r["searchParam"] = json!(params.iter().map(|(n, t)| json!({ "name": n, "type": t })).collect::<Vec<_>>());
            }
            r
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "publisher": "CareLedger",
        "kind": "instance",
        "software": { "name": "CareLedger", "version": software_version },
        "implementation": { "description": "CareLedger FHIR R4 read interface", "url": format!("{base}/fhir") },
        "fhirVersion": super::FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": false,
                "description": "Bearer tokens (JWT) or API keys, as for GraphQL; the same authorisation rules."
            },
            "resource": resources,
        }],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn domain_codes_are_kebab_case() {
        assert_eq!(
            super::domain_code(careledger_domain::values::NeedDomain::MedicalFollowUp),
            "medical-follow-up"
        );
        assert_eq!(
            crate::fhir::codes::code_of(&careledger_domain::directory::Cost::Fee),
            "fee"
        );
    }
}
