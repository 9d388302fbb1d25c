//! Languages: a restricted BCP 47 [`LanguageTag`] and the four label languages ([`Lang`]).

use super::error::ValueError;
use super::text::clip;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A BCP 47 language tag restricted to language and region (`nl`, `fr-BE`, `tr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct LanguageTag(super::Atom);
string_newtype_serde!(LanguageTag);

impl LanguageTag {
    /// Accepts only the canonical form (`nl`, `fr-BE`) without allocating; anything
    /// else goes through `parse`, which normalises or refuses.
    fn check(s: &str) -> Result<(), ValueError> {
        let (lang, region) = match s.split_once('-') {
            Some((l, r)) => (l, Some(r)),
            None => (s, None),
        };
        let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
        let region_ok =
            region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()));
        if lang_ok && region_ok {
            Ok(())
        } else {
            Err(ValueError::InvalidLanguageTag { value: clip(s) })
        }
    }
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let err = || ValueError::InvalidLanguageTag { value: clip(s) };
        let s = s.trim();
        let (lang, region) = match s.split_once(['-', '_']) {
            Some((l, r)) => (l, Some(r)),
            None => (s, None),
        };
        if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(err());
        }
        let mut out = lang.to_ascii_lowercase();
        if let Some(r) = region {
            if r.len() != 2 || !r.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(err());
            }
            out.push('-');
            out.push_str(&r.to_ascii_uppercase());
        }
        Ok(Self(out.into()))
    }

    /// The language without its region: `fr-BE` → `fr`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

/// The four languages every label exists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Fr,
    Nl,
    De,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::Fr, Lang::Nl, Lang::De];
    pub const fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Nl => "nl",
            Lang::De => "de",
        }
    }
    /// The label language for a tag, if it is one of the four.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }
}
