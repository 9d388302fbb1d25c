//! CareLedger's own layout: one JSON array of records per HSDS table
//! (`organizations.json`, `services.json`, …) plus `need_services.json`
//! (`[{"service_id", "needs": [codes]}]`). The shipped example package is in it.

use super::table::{Row, Tables};
use super::{FILES, RecordError, file_problem};
use serde_json::Value;
use std::path::Path;

/// The files that must be present (locations, schedules and the other HSDS
/// tables are optional).
const REQUIRED: [&str; 6] = [
    "organizations.json",
    "services.json",
    "service_areas.json",
    "languages.json",
    "cost_options.json",
    "need_services.json",
];

/// Further HSDS tables read when present.
const OPTIONAL: [&str; 4] = [
    "phones.json",
    "attributes.json",
    "taxonomy_terms.json",
    "taxonomies.json",
];

pub(crate) fn load_from(dir: &Path, name: &str) -> Result<Option<String>, String> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn read(
    load: impl Fn(&str) -> Result<Option<String>, String>,
    problems: &mut Vec<RecordError>,
) -> Tables {
    let mut tables = Tables::default();
    for name in FILES.iter().chain(OPTIONAL.iter()) {
        let text = match load(name) {
            Ok(Some(t)) => t,
            Ok(None) => {
                if REQUIRED.contains(name) {
                    problems.push(file_problem(name, "missing from the package"));
                }
                continue;
            }
            Err(e) => {
                problems.push(file_problem(name, format!("cannot be read: {e}")));
                continue;
            }
        };
        arrays(name, &text, &mut tables, problems);
    }
    tables
}

/// `need_services.json` beside a package of another form, when present.
pub(crate) fn add_need_services(dir: &Path, tables: &mut Tables, problems: &mut Vec<RecordError>) {
    let name = "need_services.json";
    match load_from(dir, name) {
        Ok(Some(text)) => arrays(name, &text, tables, problems),
        Ok(None) => {}
        Err(e) => problems.push(file_problem(name, format!("cannot be read: {e}"))),
    }
}

/// The records of one file into its table (`services.json` → `services`).
fn arrays(name: &str, text: &str, tables: &mut Tables, problems: &mut Vec<RecordError>) {
    let table = name.trim_end_matches(".json");
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(file_problem(name, format!("not valid JSON: {e}")));
            return;
        }
    };
    let Value::Array(items) = value else {
        problems.push(file_problem(name, "expected a JSON array of records"));
        return;
    };
    // An empty file still says the table is there (a package without costs
    // is reported once, not once per service).
    tables.tables.entry(table.to_string()).or_default();
    for (i, item) in items.into_iter().enumerate() {
        let row = Row {
            file: name.to_string(),
            row: i + 1,
            ..Row::default()
        };
        match item {
            Value::Object(fields) => tables.push(table, Row { fields, ..row }),
            _ => problems.push(RecordError {
                file: name.to_string(),
                row: Some(i + 1),
                id: format!("#{}", i + 1),
                field: None,
                message: "expected an object".into(),
                service: None,
            }),
        }
    }
}
