//! Writing the directory as an HSDS 3.0 tabular data package: `datapackage.json`
//! (a Frictionless Tabular Data Package whose table schemas type every column)
//! and one CSV per table. What HSDS has no field for travels in CareLedger's
//! extensions: the `x_careledger_*` columns of `services` and `organizations`
//! and the table `x_careledger_translations`; needs and cost kinds are
//! attributes linking services to the terms of the taxonomies
//! `careledger-needs` and `careledger-cost`. Reading the package back
//! (`read_path`) yields the same profiles, so re-importing an export writes
//! nothing. Ids of records CareLedger does not keep (areas, languages, …) are
//! derived from the service's id, so the same directory gives the same files.

use super::{cost, needs};
use careledger_domain::directory::{Capacity, ServiceProfile};
use careledger_domain::ids::ServiceId;
use careledger_domain::values::Lang;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A service as the directory holds it.
#[derive(Debug, Clone)]
pub struct ExportService<'a> {
    pub id: ServiceId,
    pub profile: &'a ServiceProfile,
    pub capacity: Capacity,
    pub active: bool,
}

/// One file of the package: its path in the package and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub text: String,
}

/// A stable UUID for a record CareLedger derives (SHA-256 of its parts).
fn derived_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let bytes: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

struct Table {
    name: &'static str,
    title: &'static str,
    /// (name, type, description)
    fields: Vec<(&'static str, &'static str, &'static str)>,
    foreign: Vec<(&'static str, &'static str)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(
        name: &'static str,
        title: &'static str,
        fields: Vec<(&'static str, &'static str, &'static str)>,
    ) -> Self {
        Table {
            name,
            title,
            fields,
            foreign: vec![],
            rows: vec![],
        }
    }
    fn refs(mut self, foreign: Vec<(&'static str, &'static str)>) -> Self {
        self.foreign = foreign;
        self
    }
    fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.fields.iter().map(|f| f.0))
            .expect("CSV in memory");
        for r in &self.rows {
            w.write_record(r).expect("CSV in memory");
        }
        String::from_utf8(w.into_inner().expect("CSV in memory")).expect("UTF-8 fields")
    }
    fn resource(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|(n, t, d)| {
                let mut f = json!({ "name": n, "type": t, "description": d });
                if *n == "id" {
                    f["constraints"] = json!({ "required": true, "unique": true });
                }
                f
            })
            .collect();
        let foreign: Vec<Value> = self
            .foreign
            .iter()
            .map(|(field, table)| json!({ "fields": field, "reference": { "resource": table, "fields": "id" } }))
            .collect();
        let mut schema = json!({ "fields": fields, "missingValues": [""], "primaryKey": "id" });
        if !foreign.is_empty() {
            schema["foreignKeys"] = Value::Array(foreign);
        }
        json!({
            "name": self.name,
            "path": format!("{}.csv", self.name),
            "profile": "tabular-data-resource",
            "title": self.title,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema,
        })
    }
}

fn b(v: bool) -> String {
    v.to_string()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

fn text(l: &careledger_domain::directory::Localized, lang: Lang) -> &str {
    match lang {
        Lang::En => &l.en,
        Lang::Fr => &l.fr,
        Lang::Nl => &l.nl,
        Lang::De => &l.de,
    }
}

/// The package's files for `services` (in id order), `created` as its date.
pub fn package(services: &[ExportService<'_>], created: &str) -> Vec<File> {
    let mut services: Vec<&ExportService<'_>> = services.iter().collect();
    services.sort_by_key(|s| s.id.as_uuid());
    let mut orgs = Table::new(
        "organizations",
        "Organizations",
        vec![
            (
                "id",
                "string",
                "The organization's id (HSDS organization.id).",
            ),
            ("name", "string", "The organization's name."),
            (
                "x_careledger_unrecorded_id",
                "boolean",
                "CareLedger extension: true when CareLedger holds no id for this organization and the id was derived from its name for this package.",
            ),
        ],
    );
    let mut svc = Table::new(
        "services",
        "Services",
        vec![
            ("id", "string", "The service's id."),
            (
                "organization_id",
                "string",
                "The organization providing it.",
            ),
            (
                "name",
                "string",
                "The name, in English (other languages in x_careledger_translations).",
            ),
            ("description", "string", "The description, in English."),
            ("url", "string", "The service's web page."),
            ("email", "string", "The service's e-mail address."),
            ("status", "string", "active or inactive (retired)."),
            ("minimum_age", "integer", "Youngest age served, in years."),
            ("maximum_age", "integer", "Oldest age served, in years."),
            (
                "x_careledger_patients",
                "boolean",
                "CareLedger extension: serves patients.",
            ),
            (
                "x_careledger_relatives",
                "boolean",
                "CareLedger extension: serves relatives.",
            ),
            (
                "x_careledger_requires_preferential_reimbursement",
                "boolean",
                "CareLedger extension: only for people with preferential reimbursement.",
            ),
            (
                "x_careledger_capacity_status",
                "string",
                "CareLedger extension: has_capacity, no_capacity or waitlist.",
            ),
            (
                "x_careledger_estimated_wait_days",
                "integer",
                "CareLedger extension: the estimated wait of a waitlist, in days.",
            ),
            (
                "x_careledger_organisation_name",
                "string",
                "CareLedger extension: the organization's name as this service records it, where it differs from organizations.name.",
            ),
        ],
    )
    .refs(vec![("organization_id", "organizations")]);
    let by_service = |name, title, extra: Vec<(&'static str, &'static str, &'static str)>| {
        let mut f = vec![
            ("id", "string", "The record's id."),
            ("service_id", "string", "The service."),
        ];
        f.extend(extra);
        Table::new(name, title, f).refs(vec![("service_id", "services")])
    };
    let mut areas = by_service(
        "service_areas",
        "Service areas",
        vec![
            (
                "extent",
                "string",
                "A country (BE), a region (BE-VBR) or a postal code (BE:3000).",
            ),
            ("extent_type", "string", "text."),
        ],
    );
    let mut langs = by_service(
        "languages",
        "Languages",
        vec![("code", "string", "A language tag (nl, fr-BE).")],
    );
    let mut costs = by_service(
        "cost_options",
        "Cost options",
        vec![(
            "option",
            "string",
            "The publisher's words about the cost, or free, reimbursed, fee.",
        )],
    );
    let mut phones = by_service(
        "phones",
        "Phones",
        vec![("number", "string", "The service's phone number.")],
    );
    let mut tr = by_service(
        "x_careledger_translations",
        "CareLedger extension: names and descriptions in en, fr, nl and de",
        vec![
            ("language", "string", "en, fr, nl or de."),
            ("name", "string", "The name in that language."),
            ("description", "string", "The description in that language."),
            (
                "translated",
                "boolean",
                "false when the text is a copy of another language's (the service was published without it).",
            ),
        ],
    );
    let mut attrs = Table::new(
        "attributes",
        "Attributes",
        vec![
            ("id", "string", "The attribute's id."),
            ("link_id", "string", "The service it describes."),
            ("link_type", "string", "service."),
            ("link_entity", "string", "service."),
            ("taxonomy_term_id", "string", "The taxonomy term."),
        ],
    )
    .refs(vec![
        ("link_id", "services"),
        ("taxonomy_term_id", "taxonomy_terms"),
    ]);
    let mut terms: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut org_ids: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for s in &services {
        let p = s.profile;
        let sid = s.id.to_string();
        let (org_id, recorded) = match p.organisation_id {
            Some(o) => (o.to_string(), true),
            None => (derived_id(&["organization", &p.organisation]), false),
        };
        let listed = &org_ids
            .entry(org_id.clone())
            .or_insert((p.organisation.clone(), recorded))
            .0;
        // One name per organization in HSDS; a service recording another keeps it.
        let own_name = (listed != &p.organisation).then(|| p.organisation.clone());
        let (status, wait) = match s.capacity {
            Capacity::HasCapacity => ("has_capacity", None),
            Capacity::NoCapacity => ("no_capacity", None),
            Capacity::Waitlist {
                estimated_wait_days,
            } => ("waitlist", Some(estimated_wait_days)),
        };
        let e = &p.eligibility;
        svc.rows.push(vec![
            sid.clone(),
            org_id,
            p.name.en.clone(),
            p.description.en.clone(),
            opt(p.contact.url.as_ref()),
            opt(p.contact.email.as_ref()),
            (if s.active { "active" } else { "inactive" }).into(),
            opt(e.min_age),
            opt(e.max_age),
            b(e.patients),
            b(e.relatives),
            b(e.requires_preferential_reimbursement),
            status.into(),
            opt(wait),
            opt(own_name),
        ]);
        let a = &p.area;
        let extents = a
            .countries
            .iter()
            .map(|c| c.code().to_string())
            // A region named like a country (LU) says it is one.
            .chain(a.regions.iter().map(|r| match r.as_str() {
                code if code.contains('-') => code.to_string(),
                code => format!("region:{code}"),
            }))
            .chain(
                a.postal_codes
                    .iter()
                    .map(|pc| format!("{}:{}", pc.country().code(), pc.code())),
            );
        for x in extents {
            areas.rows.push(vec![
                derived_id(&[&sid, "area", &x]),
                sid.clone(),
                x,
                "text".into(),
            ]);
        }
        for l in &p.languages {
            langs.rows.push(vec![
                derived_id(&[&sid, "language", l.as_str()]),
                sid.clone(),
                l.as_str().into(),
            ]);
        }
        let option = p
            .cost_note
            .clone()
            .unwrap_or_else(|| cost::word(p.cost).into());
        costs
            .rows
            .push(vec![derived_id(&[&sid, "cost"]), sid.clone(), option]);
        if let Some(n) = &p.contact.phone {
            phones
                .rows
                .push(vec![derived_id(&[&sid, "phone"]), sid.clone(), n.clone()]);
        }
        for lang in Lang::ALL {
            tr.rows.push(vec![
                derived_id(&[&sid, "translation", lang.code()]),
                sid.clone(),
                lang.code().into(),
                text(&p.name, lang).into(),
                text(&p.description, lang).into(),
                b(!p.untranslated.contains(&lang)),
            ]);
        }
        let linked = p
            .needs
            .iter()
            .map(|n| (needs::TAXONOMY, n.as_str().to_string()))
            .chain(std::iter::once((
                cost::TAXONOMY,
                cost::word(p.cost).to_string(),
            )));
        for (taxonomy, code) in linked {
            let term = terms
                .entry((taxonomy.to_string(), code.clone()))
                .or_insert_with(|| derived_id(&["term", taxonomy, &code]))
                .clone();
            attrs.rows.push(vec![
                derived_id(&[&sid, "attribute", taxonomy, &code]),
                sid.clone(),
                "service".into(),
                "service".into(),
                term,
            ]);
        }
    }
    for (id, (name, recorded)) in org_ids {
        orgs.rows.push(vec![id, name, b(!recorded)]);
    }
    let mut taxonomies = Table::new(
        "taxonomies",
        "Taxonomies",
        vec![
            ("id", "string", "The taxonomy's id."),
            ("name", "string", "Its name."),
            ("description", "string", "What its terms are."),
        ],
    );
    taxonomies.rows.push(vec![
        derived_id(&["taxonomy", needs::TAXONOMY]),
        needs::TAXONOMY.into(),
        "The needs of CareLedger's catalogue; a term's code is the need's code.".into(),
    ]);
    taxonomies.rows.push(vec![
        derived_id(&["taxonomy", cost::TAXONOMY]),
        cost::TAXONOMY.into(),
        "What a service costs: free, reimbursed (by health insurance) or fee.".into(),
    ]);
    let mut term_table = Table::new(
        "taxonomy_terms",
        "Taxonomy terms",
        vec![
            ("id", "string", "The term's id."),
            ("code", "string", "The term's code."),
            ("name", "string", "The term's name."),
            ("taxonomy", "string", "The taxonomy's name."),
            ("taxonomy_id", "string", "The taxonomy."),
        ],
    )
    .refs(vec![("taxonomy_id", "taxonomies")]);
    for ((taxonomy, code), id) in terms {
        term_table.rows.push(vec![
            id,
            code.clone(),
            code,
            taxonomy.clone(),
            derived_id(&["taxonomy", &taxonomy]),
        ]);
    }
    let tables = [
        orgs, svc, areas, langs, costs, phones, taxonomies, term_table, attrs, tr,
    ];
    let mut files: Vec<File> = tables
        .iter()
        .map(|t| File {
            path: format!("{}.csv", t.name),
            text: t.csv(),
        })
        .collect();
    let descriptor = json!({
        "profile": "tabular-data-package",
        "name": "careledger-service-directory",
        "title": "Supportive-care service directory (Open Referral HSDS 3.0, tabular)",
        "description": "Services, their organizations, areas, languages, costs and the needs they address, as HSDS 3.0 tables. CareLedger's extensions: x_careledger_* columns and the x_careledger_translations table; needs and cost kinds as attributes of the taxonomies careledger-needs and careledger-cost.",
        "created": created,
        "resources": tables.iter().map(Table::resource).collect::<Vec<_>>(),
    });
    files.push(File {
        path: "datapackage.json".into(),
        text: serde_json::to_string_pretty(&descriptor).expect("JSON") + "\n",
    });
    files
}
