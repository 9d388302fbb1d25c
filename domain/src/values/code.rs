//! Identifiers of the network's vocabulary: hospital sites ([`SiteId`]), need codes of
//! the catalogue ([`NeedCode`]) and the handbook's need domains ([`NeedDomain`]).

use super::error::ValueError;
use super::text::clip;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A hospital site (tenant), e.g. `be-uzleuven`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct SiteId(super::Atom);
string_newtype_serde!(SiteId);

impl SiteId {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::check(s).map(|()| Self(s.into()))
    }
    fn check(s: &str) -> Result<(), ValueError> {
        let ok = (2..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(())
        } else {
            Err(ValueError::InvalidSiteId { value: clip(s) })
        }
    }
}

/// A stable code of the needs catalogue, e.g. `psy.fear-of-recurrence`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct NeedCode(super::Atom);
string_newtype_serde!(NeedCode);

impl NeedCode {
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::check(s).map(|()| Self(s.into()))
    }
    fn check(s: &str) -> Result<(), ValueError> {
        let err = || ValueError::InvalidNeedCode { value: clip(s) };
        if s.len() > 48 {
            return Err(err());
        }
        let (prefix, name) = s.split_once('.').ok_or_else(err)?;
        if NeedDomain::from_prefix(prefix).is_none() {
            return Err(err());
        }
        let name_ok = !name.is_empty()
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--")
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(err());
        }
        Ok(())
    }

    /// The domain named by the code's prefix.
    pub fn domain(&self) -> NeedDomain {
        let prefix = self.0.split('.').next().unwrap_or_default();
        NeedDomain::from_prefix(prefix).expect("validated at parse")
    }
}

/// The four domains of the supportive-care handbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedDomain {
    MedicalFollowUp,
    Psychosocial,
    SocioProfessional,
    Social,
}

impl NeedDomain {
    pub const ALL: [NeedDomain; 4] = [
        NeedDomain::MedicalFollowUp,
        NeedDomain::Psychosocial,
        NeedDomain::SocioProfessional,
        NeedDomain::Social,
    ];

    /// The prefix of need codes in this domain.
    pub const fn prefix(self) -> &'static str {
        match self {
            NeedDomain::MedicalFollowUp => "med",
            NeedDomain::Psychosocial => "psy",
            NeedDomain::SocioProfessional => "spi",
            NeedDomain::Social => "soc",
        }
    }

    pub fn from_prefix(p: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.prefix() == p)
    }

    /// The snake_case name used in data files and the API.
    pub const fn name(self) -> &'static str {
        match self {
            NeedDomain::MedicalFollowUp => "medical_follow_up",
            NeedDomain::Psychosocial => "psychosocial",
            NeedDomain::SocioProfessional => "socio_professional",
            NeedDomain::Social => "social",
        }
    }

    pub fn from_name(n: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == n)
    }
}
