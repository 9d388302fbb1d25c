//! HSDS API JSON: what `GET /services/{id}` answers (a service with its
//! `organization`, `service_areas`, `languages`, `cost_options`, `phones`,
//! `attributes` (each with its `taxonomy_term`), `locations`,
//! `service_at_locations` and `schedules` nested), saved as files: one service
//! per file, a list of them, or a `/services` page (`{"contents": [...]}`). A
//! path names one such file or a directory of them (every `*.json` file but
//! `need_services.json`, in name order).
//!
//! The nested records become rows of their tables, linked to their service, so
//! the same mapping reads them as it reads a tabular package; a problem names
//! the record's path inside the service (`cost_options[0].option`).

use super::table::{Row, Tables};
use super::{RecordError, file_problem};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Nested lists and the table their records belong to.
const NESTED: [(&str, &str); 7] = [
    ("service_areas", "service_areas"),
    ("languages", "languages"),
    ("cost_options", "cost_options"),
    ("phones", "phones"),
    ("schedules", "schedules"),
    ("locations", "locations"),
    ("attributes", "attributes"),
];

pub(crate) fn read(path: &Path, problems: &mut Vec<RecordError>) -> Tables {
    let mut tables = Tables::default();
    for table in ["services", "organizations"] {
        tables.tables.entry(table.to_string()).or_default();
    }
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && p.file_name().is_some_and(|n| n != "need_services.json")
                })
                .collect(),
            Err(e) => {
                problems.push(file_problem(
                    &path.display().to_string(),
                    format!("cannot be read: {e}"),
                ));
                return tables;
            }
        };
        v.sort();
        if v.is_empty() {
            problems.push(file_problem(
                &path.display().to_string(),
                "no datapackage.json, no CareLedger layout (organizations.json) and no JSON file of services",
            ));
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        let name = f
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let value: Value = match std::fs::read_to_string(&f)
            .map_err(|e| format!("cannot be read: {e}"))
            .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("not valid JSON: {e}")))
        {
            Ok(v) => v,
            Err(e) => {
                problems.push(file_problem(&name, e));
                continue;
            }
        };
        let list = match value {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("contents") {
                Some(Value::Array(a)) => a.clone(),
                Some(_) => {
                    problems.push(file_problem(&name, "'contents' is not a list of services"));
                    continue;
                }
                None => vec![Value::Object(o)],
            },
            _ => {
                problems.push(file_problem(
                    &name,
                    "expected a service, a list of services or a page with 'contents'",
                ));
                continue;
            }
        };
        for (i, item) in list.into_iter().enumerate() {
            let Value::Object(service) = item else {
                problems.push(RecordError {
                    row: Some(i + 1),
                    id: format!("#{}", i + 1),
                    ..file_problem(&name, "expected a service object")
                });
                continue;
            };
            service_rows(&name, i + 1, service, &mut tables);
        }
    }
    tables
}

fn row(file: &str, number: usize, prefix: String, fields: Map<String, Value>) -> Row {
    Row {
        file: file.to_string(),
        row: number,
        prefix,
        fields,
        bad: vec![],
    }
}

/// One service object into the rows of its tables.
fn service_rows(file: &str, number: usize, mut service: Map<String, Value>, tables: &mut Tables) {
    let sid = service.get("id").cloned();
    if let Some(Value::Object(org)) = service.remove("organization") {
        if !service.contains_key("organization_id")
            && let Some(id) = org.get("id")
        {
            service.insert("organization_id".into(), id.clone());
        }
        tables.push(
            "organizations",
            row(file, number, "organization.".into(), org),
        );
    }
    for (key, table) in NESTED {
        let Some(Value::Array(items)) = service.remove(key) else {
            continue;
        };
        for (j, item) in items.into_iter().enumerate() {
            let prefix = format!("{key}[{j}].");
            let Value::Object(mut fields) = item else {
                // Still the service's, so the problem keeps it out.
                let mut linked = Map::new();
                if let (Some(id), false) = (&sid, matches!(table, "attributes" | "locations")) {
                    linked.insert("service_id".into(), id.clone());
                }
                let mut r = row(file, number, prefix, linked);
                r.bad.push(("(record)".into(), "expected an object".into()));
                tables.push(table, r);
                continue;
            };
            if let Some(id) = &sid {
                match table {
                    "attributes" => {
                        fields.entry("link_id").or_insert_with(|| id.clone());
                        if let Some(Value::Object(term)) = fields.remove("taxonomy_term") {
                            if let Some(tid) = term.get("id") {
                                fields
                                    .entry("taxonomy_term_id")
                                    .or_insert_with(|| tid.clone());
                            }
                            tables.push(
                                "taxonomy_terms",
                                row(file, number, format!("{prefix}taxonomy_term."), term),
                            );
                        }
                    }
                    "locations" => {}
                    _ => {
                        fields.entry("service_id").or_insert_with(|| id.clone());
                    }
                }
            }
            tables.push(table, row(file, number, prefix, fields));
        }
    }
    // A location reached through service_at_locations.
    if let Some(Value::Array(items)) = service.remove("service_at_locations") {
        for (j, item) in items.into_iter().enumerate() {
            if let Some(Value::Object(loc)) = item.get("location") {
                let prefix = format!("service_at_locations[{j}].location.");
                tables.push("locations", row(file, number, prefix, loc.clone()));
            }
        }
    }
    tables.push("services", row(file, number, String::new(), service));
}
