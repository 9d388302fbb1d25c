//! The needs catalogue: versioned reference data of needs and problems, each with a
//! stable code, a domain, and a label and one-line description in the four languages.
//!
//! This module validates entries; reading them from a file is the job of `infra`
//! (the domain knows no file formats). Validation reports the first bad entry by the
//! location the reader gave it (e.g. `needs.tsv line 12`).

use crate::values::{Lang, NeedCode, NeedDomain, ValueError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One entry as read from a source, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawNeed {
    /// Where the entry came from, quoted in errors (`needs.tsv line 12`).
    pub location: String,
    pub code: String,
    pub domain: String,
    pub labels: BTreeMap<Lang, String>,
    pub descriptions: BTreeMap<Lang, String>,
}

/// A validated need. Cheap to clone (the API hands one to every need it
/// shows): its texts are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedDefinition {
    code: NeedCode,
    domain: NeedDomain,
    texts: Arc<NeedTexts>,
}

/// A need's label and description in each language (`Lang::ALL` order).
#[derive(Debug, PartialEq, Eq)]
struct NeedTexts {
    labels: [String; 4],
    descriptions: [String; 4],
}

impl NeedDefinition {
    pub fn code(&self) -> &NeedCode {
        &self.code
    }
    pub fn domain(&self) -> NeedDomain {
        self.domain
    }
    pub fn label(&self, lang: Lang) -> &str {
        &self.texts.labels[lang_index(lang)]
    }
    pub fn description(&self, lang: Lang) -> &str {
        &self.texts.descriptions[lang_index(lang)]
    }
}

fn lang_index(lang: Lang) -> usize {
    Lang::ALL
        .iter()
        .position(|l| *l == lang)
        .expect("all langs listed")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("{location}: {source}")]
    InvalidCode {
        location: String,
        source: ValueError,
    },
    #[error(
        "{location}: unknown domain '{value}' (expected medical_follow_up, psychosocial, socio_professional or social)"
    )]
    UnknownDomain { location: String, value: String },
    #[error(
        "{location}: code '{code}' has the prefix of domain {prefix_domain} but is listed under {domain}"
    )]
    DomainMismatch {
        location: String,
        code: String,
        prefix_domain: &'static str,
        domain: &'static str,
    },
    #[error("{location}: duplicate code '{code}' (first defined at {first})")]
    DuplicateCode {
        location: String,
        code: String,
        first: String,
    },
    #[error("{location}: need '{code}' has no {field} in {lang}", lang = .lang.code())]
    MissingTranslation {
        location: String,
        code: String,
        field: &'static str,
        lang: Lang,
    },
    #[error("the catalogue has no entries")]
    Empty,
    #[error("domain {domain} has no needs: every domain of the handbook must be covered")]
    DomainNotCovered { domain: &'static str },
    #[error("unknown need code '{code}': it is not in the needs catalogue (version {version})")]
    UnknownNeed { code: String, version: String },
}

impl CatalogueError {
    /// A stable machine-readable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogueError::UnknownNeed { .. } => "UNKNOWN_NEED",
            _ => "INVALID_CATALOGUE",
        }
    }
}

/// The validated catalogue, in source order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    version: String,
    needs: Vec<NeedDefinition>,
    by_code: HashMap<NeedCode, usize>,
}

impl Catalogue {
    /// Validates every entry; the first bad one is reported by its location.
    pub fn from_entries(
        version: impl Into<String>,
        entries: Vec<RawNeed>,
    ) -> Result<Self, CatalogueError> {
        if entries.is_empty() {
            return Err(CatalogueError::Empty);
        }
        let mut needs = Vec::with_capacity(entries.len());
        let mut by_code = HashMap::with_capacity(entries.len());
        let mut first_location: HashMap<NeedCode, String> = HashMap::new();
        for raw in entries {
            let location = raw.location.clone();
            let code =
                NeedCode::parse(raw.code.trim()).map_err(|source| CatalogueError::InvalidCode {
                    location: location.clone(),
                    source,
                })?;
            let domain = NeedDomain::from_name(raw.domain.trim()).ok_or_else(|| {
                CatalogueError::UnknownDomain {
                    location: location.clone(),
                    value: raw.domain.clone(),
                }
            })?;
            if code.domain() != domain {
                return Err(CatalogueError::DomainMismatch {
                    location,
                    code: code.to_string(),
                    prefix_domain: code.domain().name(),
                    domain: domain.name(),
                });
            }
            if let Some(first) = first_location.get(&code) {
                return Err(CatalogueError::DuplicateCode {
                    location,
                    code: code.to_string(),
                    first: first.clone(),
                });
            }
            let text = |map: &BTreeMap<Lang, String>, field: &'static str| {
                let mut out: [String; 4] = Default::default();
                for lang in Lang::ALL {
                    match map.get(&lang).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                        Some(s) => out[lang_index(lang)] = s.to_string(),
                        None => {
                            return Err(CatalogueError::MissingTranslation {
                                location: location.clone(),
                                code: code.to_string(),
                                field,
                                lang,
                            });
                        }
                    }
                }
                Ok(out)
            };
            let labels = text(&raw.labels, "label")?;
            let descriptions = text(&raw.descriptions, "description")?;
            first_location.insert(code.clone(), location.clone());
            by_code.insert(code.clone(), needs.len());
            needs.push(NeedDefinition {
                code,
                domain,
                texts: Arc::new(NeedTexts {
                    labels,
                    descriptions,
                }),
            });
        }
        for domain in NeedDomain::ALL {
            if !needs.iter().any(|n| n.domain == domain) {
                return Err(CatalogueError::DomainNotCovered {
                    domain: domain.name(),
                });
            }
        }
        Ok(Self {
            version: version.into(),
            needs,
            by_code,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }
    pub fn needs(&self) -> &[NeedDefinition] {
        &self.needs
    }
    pub fn len(&self) -> usize {
        self.needs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.needs.is_empty()
    }
    pub fn get(&self, code: &NeedCode) -> Option<&NeedDefinition> {
        self.by_code.get(code).map(|i| &self.needs[*i])
    }

    /// Looks a need up for a command: unknown codes are a typed refusal.
    pub fn resolve(&self, code: &NeedCode) -> Result<&NeedDefinition, CatalogueError> {
        self.get(code).ok_or_else(|| CatalogueError::UnknownNeed {
            code: code.to_string(),
            version: self.version.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(loc: &str, code: &str, domain: &str) -> RawNeed {
        let all = |s: &str| {
            Lang::ALL
                .iter()
                .map(|l| (*l, format!("{s} {}", l.code())))
                .collect()
        };
        RawNeed {
            location: loc.into(),
            code: code.into(),
            domain: domain.into(),
            labels: all("label"),
            descriptions: all("description"),
        }
    }

    fn covering() -> Vec<RawNeed> {
        vec![
            entry("l1", "med.pain", "medical_follow_up"),
            entry("l2", "psy.anxiety", "psychosocial"),
            entry("l3", "spi.return-to-work", "socio_professional"),
            entry("l4", "soc.housing", "social"),
        ]
    }

    #[test]
    fn a_valid_catalogue_resolves_codes_and_labels_per_language() {
        let c = Catalogue::from_entries("t", covering()).unwrap();
        assert_eq!(c.len(), 4);
        let n = c.resolve(&NeedCode::parse("psy.anxiety").unwrap()).unwrap();
        assert_eq!(n.label(Lang::Nl), "label nl");
        assert_eq!(n.description(Lang::De), "description de");
        let unknown = c
            .resolve(&NeedCode::parse("psy.unknown").unwrap())
            .unwrap_err();
        assert_eq!(unknown.code(), "UNKNOWN_NEED");
    }

    #[test]
    fn each_kind_of_bad_entry_is_named_by_its_location() {
        let check = |mutate: &dyn Fn(&mut Vec<RawNeed>), want: &str| {
            let mut e = covering();
            mutate(&mut e);
            let err = Catalogue::from_entries("t", e).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        };
        check(
            &|e| e.push(entry("l5", "psy.anxiety", "psychosocial")),
            "l5: duplicate code 'psy.anxiety' (first defined at l2)",
        );
        check(
            &|e| e[1].domain = "spiritual".into(),
            "l2: unknown domain 'spiritual'",
        );
        check(
            &|e| e[1].code = "Psy Anxiety".into(),
            "l2: 'Psy Anxiety' is not a valid need code",
        );
        check(
            &|e| e[1].domain = "social".into(),
            "l2: code 'psy.anxiety' has the prefix of domain psychosocial but is listed under social",
        );
        check(
            &|e| {
                e[2].labels.remove(&Lang::De);
            },
            "l3: need 'spi.return-to-work' has no label in de",
        );
        check(
            &|e| {
                e[0].descriptions.insert(Lang::Fr, "  ".into());
            },
            "l1: need 'med.pain' has no description in fr",
        );
        check(
            &|e| {
                e.remove(3);
            },
            "domain social has no needs",
        );
        assert_eq!(
            Catalogue::from_entries("t", vec![]).unwrap_err(),
            CatalogueError::Empty
        );
    }
}
