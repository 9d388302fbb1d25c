//! [`Country`]: the countries whose postal codes CareLedger understands, and their
//! codes. Parsing one ([`Country::parse`]) sits in `place` beside the postal codes:
//! it refuses with a [`ValueError`](super::ValueError), whose messages name a
//! country, so `Country` itself stays below the error type.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Countries whose postal codes CareLedger understands: the three countries of the
/// network and the two neighbours that border hospitals routinely see patients from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Country {
    BE,
    DE,
    NL,
    LU,
    FR,
}

impl Country {
    pub const fn code(self) -> &'static str {
        match self {
            Country::BE => "BE",
            Country::DE => "DE",
            Country::NL => "NL",
            Country::LU => "LU",
            Country::FR => "FR",
        }
    }

    /// The country of a canonical two-letter code (`BE`, not `be`): the
    /// inverse of [`Self::code`]. [`Country::parse`] also reads other forms.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Country::BE,
            Country::DE,
            Country::NL,
            Country::LU,
            Country::FR,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
