//! Validating newtypes. Each `parse` either returns a value that is valid by
//! construction or a [`ValueError`] naming the rule that was broken. Fields are
//! private so an invalid value cannot be built any other way (serde goes through
//! `parse` too).

mod atom;
mod country;
mod error;
#[macro_use]
mod text;
mod code;
mod language;
mod place;
mod stratifier;

pub use atom::Atom;
pub use code::{NeedCode, NeedDomain, SiteId};
pub use country::Country;
pub use error::ValueError;
pub use language::{Lang, LanguageTag};
pub use place::{PostalCode, Region};
pub use stratifier::{
    AgeBand, BirthYear, CancerSiteGroup, DeprivationDecile, PreferentialReimbursement, Sex,
};
pub(crate) use text::clip;
pub use text::{TextKind, escape_controls, forbidden_char};

#[cfg(test)]
mod tests;
