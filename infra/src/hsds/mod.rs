//! Reading an Open Referral HSDS 3.0 data package into directory profiles.
//!
//! A package is a directory of JSON files, each an array of records:
//! `organizations.json`, `services.json`, `service_areas.json`, `languages.json`,
//! `cost_options.json`, `locations.json` and `schedules.json` (HSDS tables), plus
//! `need_services.json`, the need-to-service mapping (`{"service_id", "needs": [codes]}`).
//! CareLedger's profile of HSDS (see `infra/data/hsds-example/README.md`):
//! * `services[].x_careledger`: `translations` (`fr`/`nl`/`de` → `name`,
//!   `description`; the HSDS `name`/`description` are English), `eligibility`
//!   (`patients`, `relatives`, `requires_preferential_reimbursement`) and
//!   `capacity` (`status`: `has_capacity` | `no_capacity` | `waitlist`, with
//!   `estimated_wait_days`); `status` `inactive` means retired.
//! * `service_areas[].extent_type` is `country` (`BE`), `region` (`BE-VBR`) or
//!   `postal_code` (`BE:3000`), with the value in `extent`.
//! * `cost_options[].option` is `free`, `reimbursed` or `fee`; with several, the
//!   most favourable counts.
//!
//! Every record is checked before anything is returned; every bad one is reported
//! by file and id.

use careledger_domain::catalogue::Catalogue;
use careledger_domain::directory::{
    Capacity, Contact, Cost, Eligibility, Localized, ServiceArea, ServiceProfile,
};
use careledger_domain::ids::ServiceId;
use careledger_domain::values::{Country, LanguageTag, NeedCode, PostalCode, Region};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use uuid::Uuid;

/// A service as the package describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedService {
    pub id: ServiceId,
    pub profile: ServiceProfile,
    pub capacity: Capacity,
    pub active: bool,
}

/// One bad record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub file: String,
    /// The record's id (or its index when it has none).
    pub id: String,
    pub message: String,
}

/// Shown on a terminal (`careledger import-hsds`): an id or a value quoted from
/// the package keeps no live control character (an ANSI escape, a CR/LF forging
/// a line), see `values::escape_controls`.
impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use careledger_domain::values::escape_controls;
        write!(
            f,
            "{} {}: {}",
            escape_controls(&self.file),
            escape_controls(&self.id),
            escape_controls(&self.message)
        )
    }
}

pub const FILES: [&str; 8] = [
    "organizations.json",
    "services.json",
    "service_areas.json",
    "languages.json",
    "cost_options.json",
    "locations.json",
    "schedules.json",
    "need_services.json",
];

/// The files that must be present (locations and schedules are optional).
const REQUIRED: [&str; 6] = [
    "organizations.json",
    "services.json",
    "service_areas.json",
    "languages.json",
    "cost_options.json",
    "need_services.json",
];

/// The example package shipped with CareLedger (`infra/data/hsds-example`).
pub fn example_file(name: &str) -> Option<String> {
    let text = match name {
        "organizations.json" => include_str!("../../data/hsds-example/organizations.json"),
        "services.json" => include_str!("../../data/hsds-example/services.json"),
        "service_areas.json" => include_str!("../../data/hsds-example/service_areas.json"),
        "languages.json" => include_str!("../../data/hsds-example/languages.json"),
        "cost_options.json" => include_str!("../../data/hsds-example/cost_options.json"),
        "locations.json" => include_str!("../../data/hsds-example/locations.json"),
        "schedules.json" => include_str!("../../data/hsds-example/schedules.json"),
        "need_services.json" => include_str!("../../data/hsds-example/need_services.json"),
        _ => return None,
    };
    Some(text.to_string())
}

/// Reads the package in directory `dir`.
///
/// # Errors
/// Every bad record (and missing or unreadable file).
pub fn read_dir(
    dir: &Path,
    catalogue: &Catalogue,
) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    read(
        |name| match std::fs::read_to_string(dir.join(name)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        },
        catalogue,
    )
}

/// Reads the shipped example package.
///
/// # Errors
/// As [`read_dir`] (never, for the shipped package: a test checks it).
pub fn read_example(catalogue: &Catalogue) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    read(|name| Ok(example_file(name)), catalogue)
}

struct Errors(Vec<RecordError>);

impl Errors {
    fn add(&mut self, file: &str, id: &str, message: impl Into<String>) {
        self.0.push(RecordError {
            file: file.to_string(),
            id: id.to_string(),
            message: message.into(),
        });
    }
}

/// The records of one file, each with its id (or `#index`).
fn records(
    file: &str,
    text: Option<String>,
    id_field: &str,
    errors: &mut Errors,
) -> Vec<(String, Map<String, Value>)> {
    let Some(text) = text else { return vec![] };
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            errors.add(file, "(file)", format!("not valid JSON: {e}"));
            return vec![];
        }
    };
    let Value::Array(items) = value else {
        errors.add(file, "(file)", "expected a JSON array of records");
        return vec![];
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(obj) = item else {
            errors.add(file, &format!("#{i}"), "expected an object");
            continue;
        };
        let id = match obj.get(id_field).and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                errors.add(file, &format!("#{i}"), format!("missing '{id_field}'"));
                continue;
            }
        };
        if Uuid::try_parse(&id).is_err() {
            errors.add(file, &id, format!("'{id_field}' is not a UUID"));
            continue;
        }
        if id_field == "id" && !seen.insert(id.clone()) {
            errors.add(file, &id, "duplicate id");
            continue;
        }
        out.push((id, obj));
    }
    out
}

fn text_field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn read(
    load: impl Fn(&str) -> Result<Option<String>, String>,
    catalogue: &Catalogue,
) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    let mut errors = Errors(Vec::new());
    let mut texts = HashMap::new();
    for name in FILES {
        match load(name) {
            Ok(Some(t)) => {
                texts.insert(name, t);
            }
            Ok(None) if REQUIRED.contains(&name) => {
                errors.add(name, "(file)", "missing from the package")
            }
            Ok(None) => {}
            Err(e) => errors.add(name, "(file)", format!("cannot be read: {e}")),
        }
    }
    let mut take = |name: &'static str, id_field: &str| {
        records(name, texts.remove(name), id_field, &mut errors)
    };
    let orgs = take("organizations.json", "id");
    let services = take("services.json", "id");
    let areas = take("service_areas.json", "id");
    let languages = take("languages.json", "id");
    let costs = take("cost_options.json", "id");
    let locations = take("locations.json", "id");
    let schedules = take("schedules.json", "id");
    let mapping = take("need_services.json", "service_id");

    let mut org_names = HashMap::new();
    for (id, o) in &orgs {
        match text_field(o, "name") {
            Some(n) => {
                org_names.insert(id.clone(), n.to_string());
            }
            None => errors.add("organizations.json", id, "missing 'name'"),
        }
    }
    let service_ids: HashSet<&str> = services.iter().map(|(id, _)| id.as_str()).collect();
    let refers =
        |file: &str, id: &str, o: &Map<String, Value>, errors: &mut Errors| -> Option<String> {
            match o.get("service_id").and_then(Value::as_str) {
                Some(s) if service_ids.contains(s) => Some(s.to_string()),
                Some(s) => {
                    errors.add(file, id, format!("service_id {s} is not in services.json"));
                    None
                }
                None => {
                    errors.add(file, id, "missing 'service_id'");
                    None
                }
            }
        };

    let mut area_of: HashMap<String, ServiceArea> = HashMap::new();
    for (id, o) in &areas {
        let Some(sid) = refers("service_areas.json", id, o, &mut errors) else {
            continue;
        };
        let extent = text_field(o, "extent").unwrap_or("");
        let area = area_of.entry(sid).or_default();
        match o.get("extent_type").and_then(Value::as_str) {
            Some("country") => match Country::parse(extent) {
                Ok(c) => area.countries.push(c),
                Err(e) => errors.add("service_areas.json", id, e.to_string()),
            },
            Some("region") => match Region::parse(extent) {
                Ok(r) => area.regions.push(r),
                Err(e) => errors.add("service_areas.json", id, e.to_string()),
            },
            Some("postal_code") => {
                let parsed = extent
                    .split_once(':')
                    .ok_or_else(|| {
                        format!("'{extent}' is not '<country>:<postal code>', e.g. 'BE:3000'")
                    })
                    .and_then(|(c, p)| {
                        let c = Country::parse(c).map_err(|e| e.to_string())?;
                        PostalCode::parse(c, p).map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok(p) => area.postal_codes.push(p),
                    Err(e) => errors.add("service_areas.json", id, e),
                }
            }
            other => errors.add(
                "service_areas.json",
                id,
                format!("extent_type {other:?} is not one of country, region, postal_code"),
            ),
        }
    }
    let mut languages_of: HashMap<String, Vec<LanguageTag>> = HashMap::new();
    for (id, o) in &languages {
        let Some(sid) = refers("languages.json", id, o, &mut errors) else {
            continue;
        };
        match LanguageTag::parse(text_field(o, "code").unwrap_or("")) {
            Ok(l) => languages_of.entry(sid).or_default().push(l),
            Err(e) => errors.add("languages.json", id, e.to_string()),
        }
    }
    let mut cost_of: HashMap<String, Cost> = HashMap::new();
    for (id, o) in &costs {
        let Some(sid) = refers("cost_options.json", id, o, &mut errors) else {
            continue;
        };
        let cost = match o.get("option").and_then(Value::as_str) {
            Some("free") => Cost::Free,
            Some("reimbursed") => Cost::Reimbursed,
            Some("fee") => Cost::Fee,
            other => {
                errors.add(
                    "cost_options.json",
                    id,
                    format!("option {other:?} is not one of free, reimbursed, fee"),
                );
                continue;
            }
        };
        let rank = |c: Cost| match c {
            Cost::Free => 0,
            Cost::Reimbursed => 1,
            Cost::Fee => 2,
        };
        let best = cost_of.entry(sid).or_insert(cost);
        if rank(cost) < rank(*best) {
            *best = cost;
        }
    }
    for (id, o) in &locations {
        if let Some(org) = o.get("organization_id").and_then(Value::as_str)
            && !org_names.contains_key(org)
        {
            errors.add(
                "locations.json",
                id,
                format!("organization_id {org} is not in organizations.json"),
            );
        }
    }
    for (id, o) in &schedules {
        if o.get("service_id").is_some() {
            refers("schedules.json", id, o, &mut errors);
        }
    }
    let mut needs_of: HashMap<String, Vec<NeedCode>> = HashMap::new();
    for (sid, o) in &mapping {
        if !service_ids.contains(sid.as_str()) {
            errors.add(
                "need_services.json",
                sid,
                "this service_id is not in services.json",
            );
            continue;
        }
        let Some(list) = o.get("needs").and_then(Value::as_array) else {
            errors.add(
                "need_services.json",
                sid,
                "missing 'needs' (an array of need codes)",
            );
            continue;
        };
        for n in list {
            let code = n.as_str().unwrap_or("");
            match NeedCode::parse(code)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    catalogue.resolve(&c).map_err(|e| e.to_string())?;
                    Ok(c)
                }) {
                Ok(c) => needs_of.entry(sid.clone()).or_default().push(c),
                Err(e) => errors.add("need_services.json", sid, e),
            }
        }
    }

    let mut out = Vec::new();
    for (id, o) in &services {
        let file = "services.json";
        let before = errors.0.len();
        let organisation = match o
            .get("organization_id")
            .and_then(Value::as_str)
            .and_then(|org| org_names.get(org))
        {
            Some(n) => n.clone(),
            None => {
                errors.add(
                    file,
                    id,
                    "organization_id is missing or not in organizations.json",
                );
                continue;
            }
        };
        let x = o.get("x_careledger").and_then(Value::as_object);
        let tr = |lang: &str, key: &str| -> String {
            x.and_then(|x| x.get("translations"))
                .and_then(|t| t.get(lang))
                .and_then(|t| t.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let en_name = text_field(o, "name").unwrap_or("").to_string();
        let en_desc = text_field(o, "description").unwrap_or("").to_string();
        let name = Localized {
            en: en_name,
            fr: tr("fr", "name"),
            nl: tr("nl", "name"),
            de: tr("de", "name"),
        };
        let description = Localized {
            en: en_desc,
            fr: tr("fr", "description"),
            nl: tr("nl", "description"),
            de: tr("de", "description"),
        };
        let age = |key: &str, errors: &mut Errors| -> Option<u8> {
            match o.get(key) {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_u64().filter(|a| *a <= 120) {
                    Some(a) => Some(a as u8),
                    None => {
                        errors.add(
                            file,
                            id,
                            format!("{key} must be a whole number of years from 0 to 120"),
                        );
                        None
                    }
                },
            }
        };
        let min_age = age("minimum_age", &mut errors);
        let max_age = age("maximum_age", &mut errors);
        let el = x.and_then(|x| x.get("eligibility"));
        let flag = |k: &str, default: bool| {
            el.and_then(|e| e.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        let eligibility = Eligibility {
            min_age,
            max_age,
            patients: flag("patients", true),
            relatives: flag("relatives", true),
            requires_preferential_reimbursement: flag("requires_preferential_reimbursement", false),
        };
        let cap = x.and_then(|x| x.get("capacity"));
        let capacity = match cap.and_then(|c| c.get("status")).and_then(Value::as_str) {
            None | Some("has_capacity") => Capacity::HasCapacity,
            Some("no_capacity") => Capacity::NoCapacity,
            Some("waitlist") => match cap
                .and_then(|c| c.get("estimated_wait_days"))
                .and_then(Value::as_u64)
                .filter(|d| *d <= u64::from(u16::MAX))
            {
                Some(d) => Capacity::Waitlist {
                    estimated_wait_days: d as u16,
                },
                None => {
                    errors.add(file, id, "a waitlist needs estimated_wait_days");
                    Capacity::NoCapacity
                }
            },
            Some(other) => {
                errors.add(file, id, format!("capacity status '{other}' is not one of has_capacity, no_capacity, waitlist"));
                Capacity::NoCapacity
            }
        };
        let active = match o.get("status").and_then(Value::as_str) {
            None | Some("active") => true,
            Some("inactive") | Some("defunct") => false,
            Some(other) => {
                errors.add(
                    file,
                    id,
                    format!("status '{other}' is not active or inactive"),
                );
                true
            }
        };
        let cost = match cost_of.get(id).copied() {
            Some(c) => c,
            None => {
                // A missing file is reported once, not once per service.
                if !costs.is_empty() {
                    errors.add(file, id, "no cost option in cost_options.json");
                }
                Cost::Fee
            }
        };
        // HSDS 3.0 ids are UUIDs; a package using other ids keeps the name only.
        let organisation_id = o
            .get("organization_id")
            .and_then(Value::as_str)
            .and_then(|org| uuid::Uuid::try_parse(org).ok())
            .map(careledger_domain::ids::OrganisationId::from_uuid);
        let profile = ServiceProfile {
            organisation,
            organisation_id,
            name,
            description,
            needs: needs_of.remove(id).unwrap_or_default(),
            languages: languages_of.remove(id).unwrap_or_default(),
            area: area_of.remove(id).unwrap_or_default(),
            eligibility,
            cost,
            contact: Contact {
                phone: None,
                email: text_field(o, "email").map(str::to_string),
                url: text_field(o, "url").map(str::to_string),
            },
        }
        .normalised();
        if let Err(e) = profile.validate() {
            errors.add(file, id, e.to_string());
        }
        if errors.0.len() == before {
            out.push(ImportedService {
                id: ServiceId::from_uuid(Uuid::try_parse(id).expect("checked")),
                profile,
                capacity,
                active,
            });
        }
    }
    if errors.0.is_empty() {
        Ok(out)
    } else {
        Err(errors.0)
    }
}

#[cfg(test)]
mod tests;
