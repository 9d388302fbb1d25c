//! The HSDS 3.0 tabular data package: `datapackage.json` names one resource per
//! table (`name`, `path` of a CSV, `schema` inline or as a relative path), and
//! each CSV cell is read as its schema field's type (Frictionless Table Schema:
//! `integer`, `number`, `boolean`, `object`, `array`, `geojson`; everything else
//! as text; the schema's `missingValues`, by default only the empty cell, read
//! as absent). A cell that is not of its type is kept out of the row and
//! reported on it, so the service it belongs to is reported, not the package.

use super::table::{Row, Tables};
use super::{RecordError, file_problem};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

pub(crate) fn read(datapackage: &Path, problems: &mut Vec<RecordError>) -> Tables {
    let mut tables = Tables::default();
    let name = "datapackage.json";
    let dir = datapackage.parent().unwrap_or(Path::new("."));
    let desc: Value = match std::fs::read_to_string(datapackage)
        .map_err(|e| format!("cannot be read: {e}"))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("not valid JSON: {e}")))
    {
        Ok(v) => v,
        Err(e) => {
            problems.push(file_problem(name, e));
            return tables;
        }
    };
    let Some(resources) = desc.get("resources").and_then(Value::as_array) else {
        problems.push(file_problem(name, "no 'resources' list"));
        return tables;
    };
    for (i, r) in resources.iter().enumerate() {
        let rname = r.get("name").and_then(Value::as_str).unwrap_or("");
        let at = |m: String| file_problem(name, format!("resource {} ({rname:?}): {m}", i + 1));
        let Some(path) = r.get("path").and_then(Value::as_str) else {
            problems.push(at(
                "no 'path' of a CSV file (inline data is not read)".into()
            ));
            continue;
        };
        let file = match inside(dir, path) {
            Ok(f) => f,
            Err(e) => {
                problems.push(at(e));
                continue;
            }
        };
        let schema = match r.get("schema") {
            Some(Value::Object(s)) => Value::Object(s.clone()),
            Some(Value::String(p)) => match inside(dir, p).and_then(|f| {
                std::fs::read_to_string(&f)
                    .map_err(|e| format!("schema {p} cannot be read: {e}"))
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("schema {p}: {e}")))
            }) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(at(e));
                    continue;
                }
            },
            _ => Value::Null,
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(file_problem(path, format!("cannot be read: {e}")));
                continue;
            }
        };
        tables.tables.entry(rname.to_string()).or_default();
        csv_rows(
            path,
            &text,
            &Schema::from(&schema),
            rname,
            &mut tables,
            problems,
        );
    }
    tables
}

/// A resource path: relative, inside the package, not fetched from afar.
fn inside(dir: &Path, path: &str) -> Result<PathBuf, String> {
    if path.contains("://") {
        return Err(format!(
            "{path} is remote: only files in the package are read"
        ));
    }
    let p = Path::new(path);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("{path} is not a relative path inside the package"));
    }
    Ok(dir.join(p))
}

struct Schema {
    types: HashMap<String, Field>,
    missing: Vec<String>,
}

struct Field {
    kind: String,
    true_values: Vec<String>,
    false_values: Vec<String>,
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

impl From<&Value> for Schema {
    fn from(s: &Value) -> Self {
        let fields = s.get("fields").and_then(Value::as_array);
        let types = fields
            .into_iter()
            .flatten()
            .filter_map(|f| {
                let name = f.get("name")?.as_str()?.to_string();
                let kind = f.get("type").and_then(Value::as_str).unwrap_or("string");
                let tv = strings(f.get("trueValues"))
                    .unwrap_or_else(|| ["true", "True", "TRUE", "1"].map(String::from).into());
                let fv = strings(f.get("falseValues"))
                    .unwrap_or_else(|| ["false", "False", "FALSE", "0"].map(String::from).into());
                Some((
                    name,
                    Field {
                        kind: kind.to_string(),
                        true_values: tv,
                        false_values: fv,
                    },
                ))
            })
            .collect();
        let missing = strings(s.get("missingValues")).unwrap_or_else(|| vec![String::new()]);
        Schema { types, missing }
    }
}

/// One cell as its field's type.
fn cell(field: Option<&Field>, raw: &str) -> Result<Value, String> {
    let Some(f) = field else {
        return Ok(Value::String(raw.to_string()));
    };
    match f.kind.as_str() {
        "integer" => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("'{raw}' is not an integer")),
        "number" => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("'{raw}' is not a number")),
        "boolean" => {
            if f.true_values.iter().any(|t| t == raw) {
                Ok(Value::Bool(true))
            } else if f.false_values.iter().any(|t| t == raw) {
                Ok(Value::Bool(false))
            } else {
                Err(format!("'{raw}' is not a boolean"))
            }
        }
        "object" | "array" | "geojson" => {
            let v: Value = serde_json::from_str(raw)
                .map_err(|e| format!("not valid JSON for a field of type {}: {e}", f.kind))?;
            let fits = match f.kind.as_str() {
                "array" => v.is_array(),
                _ => v.is_object(),
            };
            if fits {
                Ok(v)
            } else {
                Err(format!("not a JSON {}", f.kind))
            }
        }
        _ => Ok(Value::String(raw.to_string())),
    }
}

fn csv_rows(
    file: &str,
    text: &str,
    schema: &Schema,
    table: &str,
    tables: &mut Tables,
    problems: &mut Vec<RecordError>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            problems.push(file_problem(file, format!("not a CSV file: {e}")));
            return;
        }
    };
    for (i, record) in reader.records().enumerate() {
        // The header is row 1, as a validator counts.
        let number = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(RecordError {
                    row: Some(number),
                    id: format!("#{number}"),
                    ..file_problem(file, format!("not a CSV record: {e}"))
                });
                continue;
            }
        };
        let mut row = Row {
            file: file.to_string(),
            row: number,
            ..Row::default()
        };
        if record.len() != headers.len() {
            row.bad.push((
                "(row)".into(),
                format!(
                    "{} cells under {} column names",
                    record.len(),
                    headers.len()
                ),
            ));
        }
        let mut fields = Map::new();
        for (name, raw) in headers.iter().zip(record.iter()) {
            if schema.missing.iter().any(|m| m == raw) {
                continue;
            }
            match cell(schema.types.get(name), raw) {
                Ok(v) => {
                    fields.insert(name.clone(), v);
                }
                Err(e) => row.bad.push((name.clone(), e)),
            }
        }
        row.fields = fields;
        tables.push(table, row);
    }
}

/// The taxonomy map: a CSV of `term_code,need_code` (a header row, then one
/// pair a line; a term may map to several needs).
pub(crate) fn read_taxonomy_map(
    path: &Path,
    problems: &mut Vec<RecordError>,
) -> HashMap<String, Vec<String>> {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(file_problem(&file, format!("cannot be read: {e}")));
            return out;
        }
    };
    let mut tables = Tables::default();
    csv_rows(
        &file,
        &text,
        &Schema::from(&Value::Null),
        "map",
        &mut tables,
        problems,
    );
    for row in tables.rows("map") {
        match (row.text("term_code"), row.text("need_code")) {
            (Some(t), Some(n)) => out.entry(t).or_default().push(n),
            _ => problems.push(RecordError {
                row: Some(row.row),
                id: format!("#{}", row.row),
                ..file_problem(&file, "expected the columns term_code and need_code")
            }),
        }
    }
    out
}
