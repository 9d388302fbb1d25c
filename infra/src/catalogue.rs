//! Reads the needs catalogue from a tab-separated file (UTF-8, one need per line,
//! `#` comments). Tab-separated because clinicians maintain it in a spreadsheet.
//!
//! Columns: `code  domain  label_en  description_en  label_fr  description_fr
//! label_nl  description_nl  label_de  description_de`. The first non-comment line
//! is that header, checked exactly.

use careledger_domain::catalogue::{Catalogue, CatalogueError, RawNeed};
use careledger_domain::values::Lang;
use std::path::Path;

/// The catalogue shipped with CareLedger.
pub const DEFAULT_CATALOGUE: &str = include_str!("../data/needs-catalogue.tsv");
const DEFAULT_NAME: &str = "needs-catalogue.tsv";

const HEADER: [&str; 10] = [
    "code",
    "domain",
    "label_en",
    "description_en",
    "label_fr",
    "description_fr",
    "label_nl",
    "description_nl",
    "label_de",
    "description_de",
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogueLoadError {
    #[error("cannot read the needs catalogue {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{location}: {detail}")]
    Format { location: String, detail: String },
    #[error("invalid needs catalogue: {0}")]
    Invalid(#[from] CatalogueError),
}

/// The shipped catalogue. Validated by a test, so this cannot fail in a release.
pub fn default_catalogue() -> Result<Catalogue, CatalogueLoadError> {
    parse(DEFAULT_NAME, DEFAULT_CATALOGUE)
}

/// A catalogue from a file (to replace the shipped one).
pub fn load(path: &Path) -> Result<Catalogue, CatalogueLoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogueLoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    parse(&name, &text)
}

/// Parses catalogue text; `name` is quoted in errors and is the catalogue version's prefix.
pub fn parse(name: &str, text: &str) -> Result<Catalogue, CatalogueLoadError> {
    let mut entries = Vec::new();
    let mut header_seen = false;
    let mut version = String::from("unversioned");
    for (i, line) in text.lines().enumerate() {
        let location = format!("{name} line {}", i + 1);
        let line = line.trim_end_matches('\r');
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(v) = comment.trim().strip_prefix("version:") {
                version = v.trim().to_string();
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if !header_seen {
            if cols != HEADER {
                return Err(CatalogueLoadError::Format {
                    location,
                    detail: format!("expected the header '{}'", HEADER.join("\\t")),
                });
            }
            header_seen = true;
            continue;
        }
        if cols.len() != HEADER.len() {
            return Err(CatalogueLoadError::Format {
                location,
                detail: format!(
                    "expected {} tab-separated columns, found {}",
                    HEADER.len(),
                    cols.len()
                ),
            });
        }
        let mut raw = RawNeed {
            location,
            code: cols[0].to_string(),
            domain: cols[1].to_string(),
            ..RawNeed::default()
        };
        for (k, lang) in [Lang::En, Lang::Fr, Lang::Nl, Lang::De]
            .into_iter()
            .enumerate()
        {
            raw.labels.insert(lang, cols[2 + 2 * k].to_string());
            raw.descriptions.insert(lang, cols[3 + 2 * k].to_string());
        }
        entries.push(raw);
    }
    if !header_seen {
        return Err(CatalogueLoadError::Format {
            location: name.to_string(),
            detail: "no header line".into(),
        });
    }
    Ok(Catalogue::from_entries(version, entries)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use careledger_domain::values::{NeedCode, NeedDomain};

    #[test]
    fn the_shipped_catalogue_is_valid_and_covers_the_four_domains_in_four_languages() {
        let c = default_catalogue().unwrap();
        assert!(
            (100..=130).contains(&c.len()),
            "about 110 needs, found {}",
            c.len()
        );
        for d in NeedDomain::ALL {
            let n = c.needs().iter().filter(|n| n.domain() == d).count();
            assert!(n >= 15, "{} has only {n} needs", d.name());
        }
        let anxiety = c.get(&NeedCode::parse("psy.anxiety").unwrap()).unwrap();
        assert_eq!(anxiety.label(Lang::Fr), "Anxiété");
        // No label is left untranslated (identical to English) in more than a few cases.
        let untranslated = c
            .needs()
            .iter()
            .filter(|n| n.label(Lang::De) == n.label(Lang::En))
            .count();
        assert!(
            untranslated <= 5,
            "{untranslated} German labels equal the English ones"
        );
    }

    #[test]
    fn format_errors_name_the_line() {
        let head = HEADER.join("\t");
        let err = parse("x.tsv", "code\tdomain\n").unwrap_err().to_string();
        assert!(
            err.starts_with("x.tsv line 1: expected the header"),
            "{err}"
        );
        let err = parse(
            "x.tsv",
            &format!("# c\n{head}\npsy.a\tpsychosocial\tonly\n"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "x.tsv line 3: expected 10 tab-separated columns, found 3"
        );
        let err = parse("x.tsv", "# nothing\n").unwrap_err().to_string();
        assert_eq!(err, "x.tsv: no header line");
    }

    #[test]
    fn validation_errors_name_the_entry() {
        let head = HEADER.join("\t");
        let row = |code: &str, domain: &str| format!("{code}\t{domain}\ta\tb\tc\td\te\tf\tg\th");
        let text = format!(
            "{head}\n{}\n{}\n",
            row("psy.a", "psychosocial"),
            row("psy.a", "psychosocial")
        );
        let err = parse("x.tsv", &text).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid needs catalogue: x.tsv line 3: duplicate code 'psy.a' (first defined at x.tsv line 2)"
        );
        let text = format!("{head}\n{}\n", row("psy.a", "spiritual"));
        let err = parse("x.tsv", &text).unwrap_err().to_string();
        assert!(
            err.contains("x.tsv line 2: unknown domain 'spiritual'"),
            "{err}"
        );
        let text = format!("{head}\npsy.a\tpsychosocial\ta\tb\t\td\te\tf\tg\th\n");
        let err = parse("x.tsv", &text).unwrap_err().to_string();
        assert!(
            err.contains("x.tsv line 2: need 'psy.a' has no label in fr"),
            "{err}"
        );
    }

    #[test]
    fn a_catalogue_file_can_replace_the_shipped_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.tsv");
        std::fs::write(
            &path,
            DEFAULT_CATALOGUE.replace("# version: ", "# version: local-"),
        )
        .unwrap();
        let c = load(&path).unwrap();
        assert!(c.version().starts_with("local-"));
        let err = load(&dir.path().join("missing.tsv"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read the needs catalogue"), "{err}");
    }
}
