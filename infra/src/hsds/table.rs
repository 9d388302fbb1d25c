//! The one form every reader produces: HSDS tables of rows, each row knowing
//! where it came from (file, row, and for nested API JSON the path inside the
//! record), so a problem names file, row and field whatever the form.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// One record of one HSDS table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub file: String,
    /// The row as a validator counts it: in a CSV the header is row 1, so the
    /// first record is row 2; in a JSON array the first record is row 1.
    pub row: usize,
    /// Where the record sits inside its row (API JSON: `cost_options[0].`), put
    /// before a field's name when a problem names it.
    pub prefix: String,
    pub fields: Map<String, Value>,
    /// Cells the reader could not read as their declared type: (field, why).
    pub bad: Vec<(String, String)>,
}

impl Row {
    /// A field's text, trimmed; `None` when absent, null or blank. Numbers read
    /// as their decimal text (a CSV column typed `string` may hold an id).
    pub fn text(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    /// Free text as published (not trimmed, so a directory exported and read
    /// back is the same byte for byte); `None` when absent, empty or blank.
    pub fn words(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        }
    }
    /// A description as published, even one of blanks; `None` when absent or empty.
    pub fn prose(&self, key: &str) -> Option<String> {
        match self.fields.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }
    }
    pub fn id(&self) -> Option<String> {
        self.text("id")
    }
    /// How a problem names this row's field.
    pub fn field(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// The tables of a package by HSDS name (`services`, `organizations`, …, and
/// CareLedger's `need_services` and `x_careledger_translations`).
#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub tables: HashMap<String, Vec<Row>>,
}

impl Tables {
    pub fn rows(&self, table: &str) -> &[Row] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }
    pub fn push(&mut self, table: &str, row: Row) {
        self.tables.entry(table.to_string()).or_default().push(row);
    }
}

/// Problems (each keeping a service out, or concerning none) and notes (what
/// was mapped rather than read as given), as the mapping finds them.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub problems: Vec<super::RecordError>,
    pub notes: Vec<super::RecordError>,
}

impl Report {
    fn entry(
        row: &Row,
        field: Option<&str>,
        service: Option<&str>,
        message: String,
    ) -> super::RecordError {
        super::RecordError {
            file: row.file.clone(),
            row: Some(row.row),
            id: row
                .id()
                .or_else(|| row.text("service_id"))
                .unwrap_or_else(|| format!("#{}", row.row)),
            field: field.map(|f| row.field(f)),
            message,
            service: service.map(str::to_string),
        }
    }
    /// A problem with `row` (its `field`, if one), keeping `service` out.
    pub fn problem(
        &mut self,
        row: &Row,
        field: Option<&str>,
        service: Option<&str>,
        message: impl Into<String>,
    ) {
        self.problems
            .push(Self::entry(row, field, service, message.into()));
    }
    pub fn note(&mut self, row: &Row, field: Option<&str>, message: impl Into<String>) {
        self.notes
            .push(Self::entry(row, field, None, message.into()));
    }
    /// The cells the reader could not read, as problems of `service`.
    pub fn bad_cells(&mut self, row: &Row, service: Option<&str>) {
        for (field, why) in &row.bad {
            self.problem(row, Some(field), service, why.clone());
        }
    }
}
