//! A person's equity stratifiers: [`BirthYear`] and its [`AgeBand`], [`Sex`],
//! [`PreferentialReimbursement`], [`DeprivationDecile`] and [`CancerSiteGroup`].

use super::error::ValueError;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// A year of birth. Only the year is kept: it is enough for the age bands of the
/// equity audits and identifies a person far less than a date would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i32", into = "i32")]
pub struct BirthYear(i32);

impl BirthYear {
    pub fn parse(y: i32) -> Result<Self, ValueError> {
        if (1900..=2100).contains(&y) {
            Ok(Self(y))
        } else {
            Err(ValueError::InvalidBirthYear { value: y })
        }
    }
    pub fn year(self) -> i32 {
        self.0
    }
    /// Age band at a moment (age computed from years only).
    pub fn age_band_at(self, at: DateTime<Utc>) -> AgeBand {
        AgeBand::of_age(at.year() - self.0)
    }
}
impl TryFrom<i32> for BirthYear {
    type Error = ValueError;
    fn try_from(y: i32) -> Result<Self, ValueError> {
        Self::parse(y)
    }
}
impl From<BirthYear> for i32 {
    fn from(b: BirthYear) -> i32 {
        b.0
    }
}

/// Age bands of DESIGN §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgeBand {
    #[serde(rename = "0-17")]
    Under18,
    #[serde(rename = "18-39")]
    From18To39,
    #[serde(rename = "40-64")]
    From40To64,
    #[serde(rename = "65-74")]
    From65To74,
    #[serde(rename = "75+")]
    From75,
}

impl AgeBand {
    pub fn of_age(age: i32) -> Self {
        match age {
            i32::MIN..=17 => AgeBand::Under18,
            18..=39 => AgeBand::From18To39,
            40..=64 => AgeBand::From40To64,
            65..=74 => AgeBand::From65To74,
            _ => AgeBand::From75,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    /// Intersex / "divers" (German civil status) / other.
    Other,
    Unknown,
}

impl Sex {
    /// The variant's serde name (`female`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

/// Preferential reimbursement (BIM/OMNIO in Belgium; the closest equivalent elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferentialReimbursement {
    Yes,
    No,
    Unknown,
}

impl PreferentialReimbursement {
    /// The variant's serde name (`yes`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }
}

/// Area deprivation decile: 1 = most deprived, 10 = least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct DeprivationDecile(u8);

impl DeprivationDecile {
    pub fn parse(d: u8) -> Result<Self, ValueError> {
        if (1..=10).contains(&d) {
            Ok(Self(d))
        } else {
            Err(ValueError::InvalidDecile { value: d })
        }
    }
    pub fn decile(self) -> u8 {
        self.0
    }
    /// Quintile 1..=5 (1 = most deprived).
    pub fn quintile(self) -> u8 {
        self.0.div_ceil(2)
    }
}
impl TryFrom<u8> for DeprivationDecile {
    type Error = ValueError;
    fn try_from(d: u8) -> Result<Self, ValueError> {
        Self::parse(d)
    }
}
impl From<DeprivationDecile> for u8 {
    fn from(d: DeprivationDecile) -> u8 {
        d.0
    }
}

/// Cancer site groups used as a stratifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancerSiteGroup {
    Breast,
    Lung,
    Colorectal,
    Prostate,
    Haematological,
    Gynaecological,
    HeadAndNeck,
    Skin,
    UpperGastrointestinal,
    Urological,
    CentralNervousSystem,
    Sarcoma,
    Other,
    Unknown,
}

impl CancerSiteGroup {
    pub const ALL: [Self; 14] = [
        Self::Breast,
        Self::Lung,
        Self::Colorectal,
        Self::Prostate,
        Self::Haematological,
        Self::Gynaecological,
        Self::HeadAndNeck,
        Self::Skin,
        Self::UpperGastrointestinal,
        Self::Urological,
        Self::CentralNervousSystem,
        Self::Sarcoma,
        Self::Other,
        Self::Unknown,
    ];

    /// The variant's serde name (`head_and_neck`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Breast => "breast",
            Self::Lung => "lung",
            Self::Colorectal => "colorectal",
            Self::Prostate => "prostate",
            Self::Haematological => "haematological",
            Self::Gynaecological => "gynaecological",
            Self::HeadAndNeck => "head_and_neck",
            Self::Skin => "skin",
            Self::UpperGastrointestinal => "upper_gastrointestinal",
            Self::Urological => "urological",
            Self::CentralNervousSystem => "central_nervous_system",
            Self::Sarcoma => "sarcoma",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    /// The names are serde's, as the events and the API write them.
    #[test]
    fn names_are_the_serde_names() {
        let serde = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for v in [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown] {
            assert_eq!(v.name(), serde(serde_json::to_value(v).unwrap()));
        }
        for v in [
            PreferentialReimbursement::Yes,
            PreferentialReimbursement::No,
            PreferentialReimbursement::Unknown,
        ] {
            assert_eq!(v.name(), serde(serde_json::to_value(v).unwrap()));
        }
        for v in CancerSiteGroup::ALL {
            assert_eq!(v.name(), serde(serde_json::to_value(v).unwrap()));
        }
    }
}
