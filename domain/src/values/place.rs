//! Where someone lives: reading a [`Country`], [`PostalCode`] (validated per country) and the
//! [`Region`] an equity audit groups by.

use super::country::Country;
use super::error::ValueError;
use super::text::clip;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

impl Country {
    /// Reads a country code (`BE`, `nl`, ...), refusing the ones CareLedger does not know.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Country::from_code(&s.trim().to_ascii_uppercase())
            .ok_or_else(|| ValueError::UnsupportedCountry { value: clip(s) })
    }
}

/// A postal code, validated and normalised for its country (`1234AB` for the
/// Netherlands, digits elsewhere).
///
/// Kept as one atom of the country's code and the postal code (`BE3000`): 8
/// bytes where a country beside an atom took 16 with its padding, so that a
/// recipient profile (a million of them in a read model) fits the allocator's
/// 96-byte size class instead of its 112 one. Serialised as before, as the
/// country and the code.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PostalCodeRepr", into = "PostalCodeRepr")]
pub struct PostalCode {
    /// The country's two-letter code, then the normalised postal code.
    keyed: super::Atom,
}

impl fmt::Debug for PostalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostalCode")
            .field("country", &self.country())
            .field("code", &self.code())
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct PostalCodeRepr {
    country: Country,
    code: CompactString,
}

impl TryFrom<PostalCodeRepr> for PostalCode {
    type Error = ValueError;
    fn try_from(r: PostalCodeRepr) -> Result<Self, ValueError> {
        PostalCode::parse(r.country, &r.code)
    }
}
impl From<PostalCode> for PostalCodeRepr {
    fn from(p: PostalCode) -> Self {
        PostalCodeRepr {
            country: p.country(),
            code: p.code().into(),
        }
    }
}

impl PostalCode {
    pub fn parse(country: Country, raw: &str) -> Result<Self, ValueError> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let digits = |n: usize| compact.len() == n && compact.chars().all(|c| c.is_ascii_digit());
        let bad = |rule| ValueError::InvalidPostalCode {
            country,
            value: clip(raw),
            rule,
        };
        let code = match country {
            Country::BE | Country::LU => {
                if !digits(4) || compact.starts_with('0') {
                    return Err(bad("4 digits, not starting with 0"));
                }
                compact
            }
            Country::DE | Country::FR => {
                if !digits(5) {
                    return Err(bad("5 digits"));
                }
                compact
            }
            Country::NL => {
                let up = compact.to_ascii_uppercase();
                // Split at byte 4 only where that is a character boundary: text
                // with a multi-byte character there is no Dutch postal code.
                let (num, letters) = up.split_at_checked(4).unwrap_or((&up, ""));
                let ok = num.len() == 4
                    && num.chars().all(|c| c.is_ascii_digit())
                    && !num.starts_with('0')
                    && letters.len() == 2
                    && letters.chars().all(|c| c.is_ascii_uppercase());
                if !ok {
                    return Err(bad(
                        "4 digits (not starting with 0) and 2 letters, e.g. 1012 AB",
                    ));
                }
                up
            }
        };
        let mut keyed = String::with_capacity(2 + code.len());
        keyed.push_str(country.code());
        keyed.push_str(&code);
        Ok(Self {
            keyed: keyed.as_str().into(),
        })
    }

    pub fn country(&self) -> Country {
        // Only `parse` makes one, prefixed with its country's code.
        self.keyed
            .as_str()
            .get(..2)
            .and_then(Country::from_code)
            .expect("a postal code keyed by a known country")
    }
    pub fn code(&self) -> &'static str {
        &self.keyed.as_str()[2..]
    }
}

/// A region code for equity audits, e.g. `BE-VAN` (an ISO 3166-2 code where the
/// postal code determines one).
/// Read back (from events, checkpoints, HSDS) through [`Region::parse`], as every
/// other interned code is: what can be interned stays bounded by validation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct Region(pub(crate) super::Atom);

impl TryFrom<CompactString> for Region {
    type Error = ValueError;
    fn try_from(s: CompactString) -> Result<Self, ValueError> {
        Self::parse(&s)
    }
}

impl From<Region> for CompactString {
    fn from(r: Region) -> CompactString {
        CompactString::from(r.as_str())
    }
}

impl Region {
    pub fn as_str(&self) -> &'static str {
        self.0.as_str()
    }

    /// A region code as postal codes map to them (see `region.rs`): `BE-VBR`,
    /// `NL-LI`, `DE-PLZ-5`, `FR-59`, `LU`.
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        let s = s.trim();
        let (country, rest) = s.split_once('-').unwrap_or((s, ""));
        let ok = Country::parse(country).is_ok_and(|c| c.code() == country)
            && if rest.is_empty() {
                country == "LU"
            } else {
                rest.len() <= 12
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
            };
        if ok {
            Ok(Self(s.into()))
        } else {
            Err(ValueError::InvalidRegion { value: clip(s) })
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
