//! Reading an Open Referral HSDS 3.0 directory into directory profiles, and
//! writing one.
//!
//! `import-hsds` reads three forms, told apart by what the path holds
//! ([`read_path`]):
//! * an HSDS 3.0 **tabular data package** — `datapackage.json` and one CSV per
//!   table, cells typed by the package's table schemas (`tabular`);
//! * **HSDS API JSON** — service objects with their organization, service areas,
//!   languages, cost options, locations and schedules nested, one per file, a list
//!   of them, or a `/services` page (`{"contents": [...]}`) (`api_json`);
//! * CareLedger's own layout — one JSON array per table plus
//!   `need_services.json` (`legacy`; the shipped example package).
//!
//! Each reader produces the same tables (`table`), which `mapping` turns into
//! profiles: what the standard allows is mapped rather than refused (free-text
//! cost options, geojson areas, one-language services, ages as text, needs from
//! taxonomy terms), and every problem is reported by file, row and field, with
//! the service it makes invalid. `export` writes the tabular form back.
//! `docs/hsds-mapping.md` is the field-by-field account.

mod api_json;
mod cost;
pub mod export;
mod geo;
mod legacy;
mod mapping;
mod names;
mod needs;
mod table;
mod tabular;

use careledger_domain::catalogue::Catalogue;
use careledger_domain::directory::{Capacity, ServiceProfile};
use careledger_domain::ids::ServiceId;
use careledger_domain::values::Lang;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// The row as a validator counts it (CSV: the header is row 1; JSON: the
    /// first record is row 1); `None` for the file as a whole.
    pub row: Option<usize>,
    /// The record's id (`#row` when it has none, `(file)` for the whole file).
    pub id: String,
    /// The field at fault, where one is (API JSON: its path in the record).
    pub field: Option<String>,
    pub message: String,
    /// The service this problem keeps out (`--skip-invalid` imports the rest);
    /// `None` when it concerns no one service (a dangling location, a file).
    pub service: Option<String>,
}

/// Shown on a terminal (`careledger import-hsds`): an id or a value quoted from
/// the package keeps no live control character (an ANSI escape, a CR/LF forging
/// a line), see `values::escape_controls`.
impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use careledger_domain::values::escape_controls;
        write!(f, "{}", escape_controls(&self.file))?;
        if let Some(row) = self.row {
            write!(f, " row {row}")?;
        }
        write!(f, " {}", escape_controls(&self.id))?;
        if let Some(field) = &self.field {
            write!(f, " {}", escape_controls(field))?;
        }
        write!(f, ": {}", escape_controls(&self.message))
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

/// The form a package was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `datapackage.json` and CSVs.
    Tabular,
    /// HSDS API JSON service objects.
    ApiJson,
    /// CareLedger's own layout (one JSON array per table).
    CareLedgerJson,
}

impl Form {
    pub fn describe(self) -> &'static str {
        match self {
            Form::Tabular => "HSDS tabular data package",
            Form::ApiJson => "HSDS API JSON",
            Form::CareLedgerJson => "CareLedger HSDS JSON layout",
        }
    }
}

/// What the reader is told besides the package.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The language of services published in one language (else the one of
    /// en/fr/nl/de the service says it speaks, if exactly one, else English).
    pub language: Option<Lang>,
    /// A CSV mapping taxonomy term codes to need codes (`term_code,need_code`);
    /// without it, `taxonomy_map.csv` in the package's directory if present.
    pub taxonomy_map: Option<PathBuf>,
}

/// A package read: the valid services, every problem, and what was mapped
/// rather than read as given (notes).
#[derive(Debug, Default)]
pub struct Package {
    pub form: Option<Form>,
    pub services: Vec<ImportedService>,
    pub problems: Vec<RecordError>,
    pub notes: Vec<RecordError>,
    /// Services the package holds that a problem keeps out.
    pub invalid_services: usize,
}

/// Reads the package at `path` in whichever form it is (see the module doc).
/// Never fails as a whole: an unreadable path is a problem like any other.
pub fn read_path(path: &Path, catalogue: &Catalogue, options: &ReadOptions) -> Package {
    let mut problems = Vec::new();
    let (form, tables) = match detect(path) {
        Ok(Form::Tabular) => {
            let file = if path.is_dir() {
                path.join("datapackage.json")
            } else {
                path.to_path_buf()
            };
            (Form::Tabular, tabular::read(&file, &mut problems))
        }
        Ok(Form::ApiJson) => (Form::ApiJson, api_json::read(path, &mut problems)),
        Ok(Form::CareLedgerJson) => (
            Form::CareLedgerJson,
            legacy::read(|name| legacy::load_from(path, name), &mut problems),
        ),
        Err(e) => {
            problems.push(file_problem(&path.display().to_string(), e));
            return Package {
                problems,
                ..Package::default()
            };
        }
    };
    let dir = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let mut tables = tables;
    if form != Form::CareLedgerJson {
        legacy::add_need_services(dir, &mut tables, &mut problems);
    }
    let map_file = options
        .taxonomy_map
        .clone()
        .or_else(|| Some(dir.join("taxonomy_map.csv")).filter(|p| p.exists()));
    let taxonomy_map = match map_file {
        Some(f) => tabular::read_taxonomy_map(&f, &mut problems),
        None => HashMap::new(),
    };
    let mut package = mapping::map(&tables, catalogue, options, &taxonomy_map);
    package.form = Some(form);
    problems.append(&mut package.problems);
    package.problems = problems;
    package
}

/// Which form `path` holds.
fn detect(path: &Path) -> Result<Form, String> {
    if path.is_file() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        return if name == "datapackage.json" {
            Ok(Form::Tabular)
        } else if name.ends_with(".json") {
            Ok(Form::ApiJson)
        } else {
            Err(
                "not a package: name a directory, a datapackage.json or a JSON file of services"
                    .into(),
            )
        };
    }
    if !path.is_dir() {
        return Err("no such file or directory".into());
    }
    if path.join("datapackage.json").is_file() {
        Ok(Form::Tabular)
    } else if path.join("organizations.json").is_file() {
        // CareLedger's layout always has its organizations table; API JSON nests
        // each service's organization.
        Ok(Form::CareLedgerJson)
    } else {
        Ok(Form::ApiJson)
    }
}

pub(crate) fn file_problem(file: &str, message: impl Into<String>) -> RecordError {
    RecordError {
        file: file.to_string(),
        row: None,
        id: "(file)".into(),
        field: None,
        message: message.into(),
        service: None,
    }
}

/// Reads the package in directory `dir` (any form), all or nothing.
///
/// # Errors
/// Every problem (and missing or unreadable file).
pub fn read_dir(
    dir: &Path,
    catalogue: &Catalogue,
) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    let p = read_path(dir, catalogue, &ReadOptions::default());
    if p.problems.is_empty() {
        Ok(p.services)
    } else {
        Err(p.problems)
    }
}

/// Reads the shipped example package.
///
/// # Errors
/// As [`read_dir`] (never, for the shipped package: a test checks it).
pub fn read_example(catalogue: &Catalogue) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    read(|name| Ok(example_file(name)), catalogue)
}

/// CareLedger's layout through `load`, all or nothing.
fn read(
    load: impl Fn(&str) -> Result<Option<String>, String>,
    catalogue: &Catalogue,
) -> Result<Vec<ImportedService>, Vec<RecordError>> {
    let mut problems = Vec::new();
    let tables = legacy::read(load, &mut problems);
    let mut p = mapping::map(&tables, catalogue, &ReadOptions::default(), &HashMap::new());
    problems.append(&mut p.problems);
    if problems.is_empty() {
        Ok(p.services)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests;
