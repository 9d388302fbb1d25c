//! Tables (from any form) → directory profiles, every problem reported by file,
//! row and field with the service it keeps out. `docs/hsds-mapping.md` lists
//! what is kept, derived and ignored.

use super::table::{Report, Row, Tables};
use super::{ImportedService, Package, ReadOptions, cost, geo, names, needs};
use careledger_domain::catalogue::Catalogue;
use careledger_domain::directory::{Capacity, Contact, Eligibility, ServiceArea, ServiceProfile};
use careledger_domain::ids::{OrganisationId, ServiceId};
use careledger_domain::values::{Country, LanguageTag, PostalCode, Region};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

struct Org {
    name: String,
    /// The id the publisher gave (`false` for one `export-hsds` made up for an
    /// organisation recorded without id: `x_careledger_unrecorded_id`).
    recorded: bool,
}

/// Rows of `table` by the service they belong to; rows naming no service of
/// the package are reported (they keep no service out).
fn by_service<'a>(
    tables: &'a Tables,
    table: &str,
    services: &HashSet<String>,
    r: &mut Report,
) -> HashMap<String, Vec<&'a Row>> {
    let mut out: HashMap<String, Vec<&Row>> = HashMap::new();
    for row in tables.rows(table) {
        match row.text("service_id") {
            Some(s) if services.contains(&s) => out.entry(s).or_default().push(row),
            Some(s) => r.problem(
                row,
                Some("service_id"),
                None,
                format!("service_id {s} is not a service of the package"),
            ),
            // Linked to a location or a phone instead: not a service's.
            None if ["location_id", "service_at_location_id", "phone_id"]
                .iter()
                .any(|k| row.text(k).is_some()) => {}
            None => r.problem(row, Some("service_id"), None, "missing 'service_id'"),
        }
    }
    out
}

fn organisations(tables: &Tables, r: &mut Report) -> HashMap<String, Org> {
    let mut orgs: HashMap<String, Org> = HashMap::new();
    for row in tables.rows("organizations") {
        r.bad_cells(row, None);
        let (Some(id), Some(name)) = (row.id(), row.words("name")) else {
            r.problem(
                row,
                Some(if row.id().is_none() { "id" } else { "name" }),
                None,
                "an organization needs an id and a name",
            );
            continue;
        };
        let recorded = row.fields.get("x_careledger_unrecorded_id") != Some(&Value::Bool(true));
        match orgs.get(&id) {
            // API JSON repeats an organization in each of its services.
            Some(o) if o.name == name => {}
            Some(_) => r.problem(
                row,
                Some("name"),
                None,
                "another organization has this id and another name",
            ),
            None => {
                orgs.insert(id, Org { name, recorded });
            }
        }
    }
    orgs
}

fn area(row: &Row, sid: &str, area: &mut ServiceArea, r: &mut Report) {
    let extent = row.text("extent").unwrap_or_default();
    let kind = row.text("extent_type").map(|k| k.to_ascii_lowercase());
    let postal = |extent: &str| {
        let (c, p) = extent.split_once(':').ok_or_else(|| {
            format!("'{extent}' is not '<country>:<postal code>', e.g. 'BE:3000'")
        })?;
        let c = Country::parse(c).map_err(|e| e.to_string())?;
        PostalCode::parse(c, p).map_err(|e| e.to_string())
    };
    let done = match kind.as_deref() {
        Some("country") => Country::parse(&extent)
            .map(|c| area.countries.push(c))
            .map_err(|e| e.to_string()),
        Some("region") => Region::parse(&extent)
            .map(|g| area.regions.push(g))
            .map_err(|e| e.to_string()),
        Some("postal_code") => postal(&extent).map(|p| area.postal_codes.push(p)),
        // `region:LU` names the region where the bare code would name the country.
        Some("text") if extent.starts_with("region:") => Region::parse(&extent["region:".len()..])
            .map(|g| area.regions.push(g))
            .map_err(|e| e.to_string()),
        Some("text") => {
            if extent.contains(':') {
                postal(&extent).map(|p| area.postal_codes.push(p))
            } else if let Ok(g) = Region::parse(&extent)
                .ok()
                .filter(|_| extent.contains('-'))
                .ok_or(())
            {
                area.regions.push(g);
                Ok(())
            } else if let Ok(c) = Country::parse(&extent)
                .ok()
                .filter(|c| c.code() == extent)
                .ok_or(())
            {
                area.countries.push(c);
                Ok(())
            } else {
                Err(format!(
                    "the text '{extent}' names no country (BE), region (BE-VBR) or postal code (BE:3000)"
                ))
            }
        }
        Some("geojson") => {
            let value = row.fields.get("extent").cloned().unwrap_or(Value::Null);
            geo::regions_in(&value).and_then(|regions| {
                if regions.is_empty() {
                    return Err(
                        "the geojson area holds the centre of no region of the region table".into(),
                    );
                }
                let list: Vec<&str> = regions.iter().map(Region::as_str).collect();
                r.note(
                    row,
                    Some("extent"),
                    format!("geojson area read as the regions {}", list.join(", ")),
                );
                area.regions.extend(regions);
                Ok(())
            })
        }
        Some(k @ ("topojson" | "kml")) => Err(format!(
            "a {k} area is not read: give it as geojson or as text codes"
        )),
        other => Err(format!(
            "extent_type {other:?} is not one of geojson, text, country, region, postal_code"
        )),
    };
    if let Err(e) = done {
        let field = if kind.is_some() {
            "extent"
        } else {
            "extent_type"
        };
        r.problem(row, Some(field), Some(sid), e);
    }
}

fn age(o: &Row, key: &str, sid: &str, r: &mut Report) -> Option<u8> {
    let years = match o.fields.get(key) {
        None | Some(Value::Null) => return None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return None,
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match years.filter(|y| y.fract() == 0.0 && (0.0..=120.0).contains(y)) {
        Some(y) => Some(y as u8),
        None => {
            r.problem(
                o,
                Some(key),
                Some(sid),
                format!("{key} must be a whole number of years from 0 to 120"),
            );
            None
        }
    }
}

/// A CareLedger extension value: `x_careledger.<group>.<key>` in JSON or the
/// flat column `x_careledger_<flat>` of a CSV.
fn ext<'a>(o: &'a Row, group: &str, key: &str, flat: &str) -> Option<&'a Value> {
    o.fields
        .get("x_careledger")
        .and_then(|x| x.get(group))
        .and_then(|g| g.get(key))
        .or_else(|| o.fields.get(&format!("x_careledger_{flat}")))
        .filter(|v| !v.is_null())
}

fn flag(o: &Row, key: &str, default: bool, sid: &str, r: &mut Report) -> bool {
    match ext(o, "eligibility", key, key) {
        None => default,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            r.problem(
                o,
                Some(&format!("x_careledger_{key}")),
                Some(sid),
                "expected true or false",
            );
            default
        }
    }
}

fn capacity(o: &Row, sid: &str, r: &mut Report) -> Option<Capacity> {
    let status = ext(o, "capacity", "status", "capacity_status").and_then(Value::as_str)?;
    Some(match status {
        "has_capacity" => Capacity::HasCapacity,
        "no_capacity" => Capacity::NoCapacity,
        "waitlist" => match ext(o, "capacity", "estimated_wait_days", "estimated_wait_days")
            .and_then(Value::as_u64)
            .and_then(|d| u16::try_from(d).ok())
        {
            Some(d) => Capacity::Waitlist {
                estimated_wait_days: d,
            },
            None => {
                r.problem(
                    o,
                    Some("x_careledger_estimated_wait_days"),
                    Some(sid),
                    "a waitlist needs estimated_wait_days",
                );
                Capacity::NoCapacity
            }
        },
        other => {
            r.problem(
                o,
                Some("x_careledger_capacity_status"),
                Some(sid),
                format!(
                    "capacity status '{other}' is not one of has_capacity, no_capacity, waitlist"
                ),
            );
            Capacity::NoCapacity
        }
    })
}

pub(crate) fn map<'a>(
    tables: &'a Tables,
    catalogue: &Catalogue,
    options: &ReadOptions,
    taxonomy_map: &HashMap<String, Vec<String>>,
) -> Package {
    let mut r = Report::default();
    let orgs = organisations(tables, &mut r);
    let mut ids = HashSet::new();
    let mut seen_twice = HashSet::new();
    for s in tables.rows("services") {
        match s.id() {
            Some(id) if Uuid::try_parse(&id).is_err() => {
                r.problem(s, Some("id"), None, "'id' is not a UUID")
            }
            Some(id) => {
                if !ids.insert(id.clone()) {
                    seen_twice.insert(id);
                }
            }
            None => r.problem(s, Some("id"), None, "missing 'id'"),
        }
    }
    let group = |t: &str, r: &mut Report| by_service(tables, t, &ids, r);
    let areas = group("service_areas", &mut r);
    let languages = group("languages", &mut r);
    let costs = group("cost_options", &mut r);
    let phones = group("phones", &mut r);
    let translations = group("x_careledger_translations", &mut r);
    group("schedules", &mut r);
    let links = needs::collect(tables, catalogue, taxonomy_map, &ids, &mut r);
    for loc in tables.rows("locations") {
        if let Some(org) = loc.text("organization_id")
            && !orgs.contains_key(&org)
        {
            r.problem(
                loc,
                Some("organization_id"),
                None,
                format!("organization {org} is not in the package"),
            );
        }
    }

    let mut out = Vec::new();
    let mut done = HashSet::new();
    for o in tables.rows("services") {
        let Some(id) = o.id().filter(|i| Uuid::try_parse(i).is_ok()) else {
            continue;
        };
        if seen_twice.contains(&id) {
            if done.insert(id.clone()) {
                r.problem(o, Some("id"), Some(&id), "two services have this id");
            }
            continue;
        }
        let sid = id.as_str();
        r.bad_cells(o, Some(sid));
        let rows = |m: &HashMap<String, Vec<&'a Row>>| -> Vec<&'a Row> {
            m.get(sid).cloned().unwrap_or_default()
        };
        let org = o.text("organization_id");
        let Some(organisation) = org.as_ref().and_then(|i| orgs.get(i)) else {
            r.problem(
                o,
                Some("organization_id"),
                Some(sid),
                "organization_id is missing or not in the package's organizations",
            );
            continue;
        };
        let mut area_of = ServiceArea::default();
        for a in rows(&areas) {
            r.bad_cells(a, Some(sid));
            area(a, sid, &mut area_of, &mut r);
        }
        let mut spoken = Vec::new();
        for l in rows(&languages) {
            r.bad_cells(l, Some(sid));
            match LanguageTag::parse(&l.text("code").unwrap_or_default()) {
                Ok(t) => spoken.push(t),
                Err(e) => r.problem(l, Some("code"), Some(sid), e.to_string()),
            }
        }
        let texts = names::texts(
            o,
            &rows(&translations),
            &spoken,
            options.language,
            sid,
            &mut r,
        );
        let cost_rows = rows(&costs);
        for c in &cost_rows {
            r.bad_cells(c, Some(sid));
        }
        let (cost, cost_note) = cost::of(
            o,
            &cost_rows,
            links.cost.get(sid).copied(),
            &links.cost,
            sid,
            &mut r,
        );
        let eligibility = Eligibility {
            min_age: age(o, "minimum_age", sid, &mut r),
            max_age: age(o, "maximum_age", sid, &mut r),
            patients: flag(o, "patients", true, sid, &mut r),
            relatives: flag(o, "relatives", true, sid, &mut r),
            requires_preferential_reimbursement: flag(
                o,
                "requires_preferential_reimbursement",
                false,
                sid,
                &mut r,
            ),
        };
        let given = capacity(o, sid, &mut r);
        let (active, closed) = match o.text("status").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("active") => (true, false),
            Some("inactive" | "defunct") => (false, false),
            Some("temporarily closed") => (true, true),
            Some(other) => {
                r.problem(
                    o,
                    Some("status"),
                    Some(sid),
                    format!(
                        "status '{other}' is not active, inactive, defunct or temporarily closed"
                    ),
                );
                (true, false)
            }
        };
        if closed && given.is_none() {
            r.note(
                o,
                Some("status"),
                "temporarily closed: imported as active without capacity",
            );
        }
        let capacity = given.unwrap_or(if closed {
            Capacity::NoCapacity
        } else {
            Capacity::HasCapacity
        });
        let profile = ServiceProfile {
            organisation: o
                .words("x_careledger_organisation_name")
                .unwrap_or_else(|| organisation.name.clone()),
            // HSDS 3.0 ids are UUIDs; a package using other ids keeps the name only.
            organisation_id: org
                .as_deref()
                .filter(|_| organisation.recorded)
                .and_then(|i| Uuid::try_parse(i).ok())
                .map(OrganisationId::from_uuid),
            name: texts.name,
            description: texts.description,
            needs: links.needs.get(sid).cloned().unwrap_or_default(),
            languages: spoken,
            area: area_of,
            eligibility,
            cost,
            contact: Contact {
                phone: rows(&phones).iter().find_map(|p| p.words("number")),
                email: o.words("email"),
                url: o.words("url"),
            },
            cost_note,
            untranslated: texts.untranslated,
        }
        .normalised();
        if let Err(e) = profile.validate() {
            r.problem(o, e.field(), Some(sid), e.to_string());
        }
        out.push(ImportedService {
            id: ServiceId::from_uuid(Uuid::try_parse(sid).expect("checked")),
            profile,
            capacity,
            active,
        });
    }
    let invalid: HashSet<Uuid> = r
        .problems
        .iter()
        .filter_map(|p| Uuid::try_parse(p.service.as_deref()?).ok())
        .collect();
    let total = tables.rows("services").len();
    out.retain(|s| !invalid.contains(&s.id.as_uuid()));
    Package {
        form: None,
        invalid_services: total - out.len(),
        services: out,
        problems: r.problems,
        notes: r.notes,
    }
}
