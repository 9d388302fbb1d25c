//! [`ValueError`]: bad input for a value type, naming the rule that was broken.

use super::country::Country;

/// Bad input for a value type. The message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("'{value}' is not a valid {kind}: expected a UUID")]
    InvalidId { kind: &'static str, value: String },
    #[error(
        "'{value}' is not a valid site id: 2 to 32 characters, lowercase letters, digits and '-', starting with a letter"
    )]
    InvalidSiteId { value: String },
    #[error(
        "'{value}' is not a valid need code: '<domain>.<name>' with domain med, psy, spi or soc and a lowercase name of letters, digits and '-' (at most 48 characters)"
    )]
    InvalidNeedCode { value: String },
    #[error("'{value}' is not a valid postal code for {country}: {rule}")]
    InvalidPostalCode {
        country: Country,
        value: String,
        rule: &'static str,
    },
    #[error("'{value}' is not a supported country: expected one of BE, DE, NL, LU, FR")]
    UnsupportedCountry { value: String },
    #[error(
        "'{value}' is not a valid language tag: expected an ISO 639 code of 2 or 3 lowercase letters, optionally followed by '-' and a 2-letter region (e.g. 'nl', 'fr-BE')"
    )]
    InvalidLanguageTag { value: String },
    #[error(
        "'{value}' is not a valid region code: expected a country code and a subdivision, e.g. 'BE-VBR', 'NL-LI', 'DE-PLZ-5'"
    )]
    InvalidRegion { value: String },
    #[error("{value} is not a valid birth year: it must lie between 1900 and 2100")]
    InvalidBirthYear { value: i32 },
    #[error(
        "{value} is not a valid deprivation decile: it must lie between 1 (most deprived) and 10"
    )]
    InvalidDecile { value: u8 },
}
