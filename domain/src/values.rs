//! Validating newtypes. Each `parse` either returns a value that is valid by
//! construction or a [`ValueError`] naming the rule that was broken. Fields are
//! private so an invalid value cannot be built any other way (serde goes through
//! `parse` too).

use chrono::{DateTime, Datelike, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;

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

/// Whether a field of free text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Names, organisation names, contact lines, API key names: one line.
    SingleLine,
    /// Descriptions: line feeds (`\n`) and tabs (`\t`) allowed, nothing else.
    MultiLine,
}

/// The text rule for free text CareLedger stores (service and organisation
/// names, descriptions, contact lines, API key names; the HSDS import and the
/// command line go through the same validating types): the first character it
/// may not hold, if any.
///
/// Refused: every Unicode control character (C0 including NUL, ESC — the start
/// of ANSI escapes — CR and LF; DEL; C1), the line and paragraph separators
/// U+2028 and U+2029, and the bidirectional embedding, override and isolate
/// controls (U+202A–U+202E, U+2066–U+2069), which make a text display otherwise
/// than it reads. A [`TextKind::MultiLine`] field may hold `\n` and `\t`.
pub fn forbidden_char(s: &str, kind: TextKind) -> Option<char> {
    s.chars().find(|&c| {
        let allowed_break = kind == TextKind::MultiLine && (c == '\n' || c == '\t');
        !allowed_break
            && (c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    })
}

/// The text with every character [`forbidden_char`] would refuse (line breaks
/// included) written as an escape (`\u{1b}`, `\n`), for a log line or a terminal:
/// text from outside never reaches either with its control characters live.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if forbidden_char(s, TextKind::SingleLine).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if forbidden_char(c.encode_utf8(&mut [0; 4]), TextKind::SingleLine).is_some() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Shortens user input quoted back in an error so an error never echoes a huge payload.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

macro_rules! string_newtype_serde {
    ($name:ident) => {
        impl TryFrom<CompactString> for $name {
            type Error = ValueError;
            /// Validates and keeps the given string (decoding stored events goes
            /// through here, so it matters: short ones never touch the heap).
            fn try_from(s: CompactString) -> Result<Self, ValueError> {
                match Self::check(&s) {
                    Ok(()) => Ok(Self(s)),
                    // Not in canonical form: parse normalises (or refuses).
                    Err(_) => Self::parse(&s),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, ValueError> {
                Self::try_from(CompactString::from(s))
            }
        }
        impl From<$name> for CompactString {
            fn from(v: $name) -> CompactString {
                v.0
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.into()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

/// A hospital site (tenant), e.g. `be-uzleuven`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct SiteId(CompactString);
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
pub struct NeedCode(CompactString);
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
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        match s.trim().to_ascii_uppercase().as_str() {
            "BE" => Ok(Country::BE),
            "DE" => Ok(Country::DE),
            "NL" => Ok(Country::NL),
            "LU" => Ok(Country::LU),
            "FR" => Ok(Country::FR),
            _ => Err(ValueError::UnsupportedCountry { value: clip(s) }),
        }
    }
    pub const fn code(self) -> &'static str {
        match self {
            Country::BE => "BE",
            Country::DE => "DE",
            Country::NL => "NL",
            Country::LU => "LU",
            Country::FR => "FR",
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A postal code, validated and normalised for its country (`1234AB` for the
/// Netherlands, digits elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PostalCodeRepr", into = "PostalCodeRepr")]
pub struct PostalCode {
    country: Country,
    code: CompactString,
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
            country: p.country,
            code: p.code,
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
        Ok(Self {
            country,
            code: code.into(),
        })
    }

    pub fn country(&self) -> Country {
        self.country
    }
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// A region code for equity audits, e.g. `BE-VAN` (an ISO 3166-2 code where the
/// postal code determines one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Region(pub(crate) CompactString);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
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

/// A BCP 47 language tag restricted to language and region (`nl`, `fr-BE`, `tr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "CompactString", into = "CompactString")]
pub struct LanguageTag(CompactString);
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

/// Preferential reimbursement (BIM/OMNIO in Belgium; the closest equivalent elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferentialReimbursement {
    Yes,
    No,
    Unknown,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Control characters (NUL, ESC of an ANSI escape, CR, LF, DEL, C1), the Unicode
    /// line separators and bidirectional overrides are refused in one-line text;
    /// a description may hold line feeds and tabs and nothing else; ordinary
    /// letters of any script pass.
    #[test]
    fn free_text_refuses_control_characters_except_line_breaks_where_allowed() {
        for bad in [
            "a\u{0}b",
            "\u{1b}[31mred",
            "line\r",
            "two\nlines",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
            "sep\u{2028}",
            "rtl\u{202E}txt",
            "iso\u{2066}",
        ] {
            assert!(
                forbidden_char(bad, TextKind::SingleLine).is_some(),
                "{bad:?} passed as one line"
            );
        }
        assert_eq!(
            forbidden_char("two\nlines\tand a tab", TextKind::MultiLine),
            None
        );
        assert_eq!(forbidden_char("cr\r\n", TextKind::MultiLine), Some('\r'));
        assert_eq!(
            forbidden_char("\u{1b}[2J", TextKind::MultiLine),
            Some('\u{1b}')
        );
        for ok in [
            "Stichting Tegenkracht",
            "Ligue contre le cancer – Liège",
            "Krebsgesellschaft e.V. (Köln)",
            "دعم",
        ] {
            assert_eq!(forbidden_char(ok, TextKind::SingleLine), None, "{ok}");
        }
    }

    /// Escaped for a log line, text keeps its printable characters and shows each
    /// control character as an escape, so nothing from outside acts on a terminal.
    #[test]
    fn escaped_text_holds_no_live_control_character() {
        assert!(matches!(
            escape_controls("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
        let e = escape_controls("a\u{1b}[31m\r\nb\u{0}");
        assert_eq!(e, "a\\u{1b}[31m\\r\\nb\\u{0}");
        assert_eq!(forbidden_char(&e, TextKind::SingleLine), None);
    }

    #[test]
    fn region_codes_are_validated() {
        for ok in ["BE-VBR", "NL-LI", "DE-PLZ-5", "FR-59", "LU"] {
            assert_eq!(Region::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "BE",
            "be-vbr",
            "XX-ABC",
            "BE-",
            "NL-LIMBURG-PROVINCE",
            "BE-V B",
        ] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn postal_codes_are_validated_and_normalised_per_country() {
        assert_eq!(
            PostalCode::parse(Country::NL, "1012 ab").unwrap().code(),
            "1012AB"
        );
        assert_eq!(
            PostalCode::parse(Country::BE, " 3000 ").unwrap().code(),
            "3000"
        );
        assert_eq!(
            PostalCode::parse(Country::DE, "50667").unwrap().code(),
            "50667"
        );
        for (c, bad) in [
            (Country::BE, "0999"),
            (Country::BE, "30000"),
            (Country::NL, "1012"),
            (Country::NL, "0123AB"),
            (Country::DE, "5066"),
            (Country::FR, "7500a"),
        ] {
            let err = PostalCode::parse(c, bad).unwrap_err();
            assert!(
                matches!(err, ValueError::InvalidPostalCode { .. }),
                "{c} {bad}"
            );
        }
    }

    /// Found by the decoder fuzzer (infra/tests/fuzz): a Dutch postal code with a
    /// multi-byte character among its first four bytes panicked `parse` (it split
    /// the text at byte 4, inside the character) — from a stored event, an HSDS
    /// area or a request alike. It is refused like any other bad postal code.
    #[test]
    fn a_dutch_postal_code_with_a_multi_byte_character_is_refused_not_panicked_on() {
        for bad in ["1éé", "123é", "5\u{b204d}73/AL", "1012ÿB", "€"] {
            let err = PostalCode::parse(Country::NL, bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ValueError::InvalidPostalCode {
                        country: Country::NL,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn need_codes_carry_their_domain_and_refuse_bad_shapes() {
        assert_eq!(
            NeedCode::parse("psy.anxiety").unwrap().domain(),
            NeedDomain::Psychosocial
        );
        assert_eq!(
            NeedCode::parse("spi.return-to-work").unwrap().domain(),
            NeedDomain::SocioProfessional
        );
        for bad in [
            "anxiety",
            "xyz.anxiety",
            "psy.",
            "psy.Anxiety",
            "psy.-a",
            "psy.a--b",
            "psy.a b",
        ] {
            assert!(NeedCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn language_tags_are_normalised() {
        assert_eq!(LanguageTag::parse("fr_be").unwrap().as_str(), "fr-BE");
        assert_eq!(LanguageTag::parse("TR").unwrap().as_str(), "tr");
        assert_eq!(LanguageTag::parse("fr-BE").unwrap().language(), "fr");
        for bad in ["", "f", "french", "fr-BEL", "1r"] {
            assert!(LanguageTag::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn language_tags_decoded_from_stored_text_are_normalised_or_refused() {
        // Canonical text is kept as is; other spellings are normalised; junk is refused.
        assert_eq!(
            LanguageTag::try_from("fr-BE".to_string()).unwrap().as_str(),
            "fr-BE"
        );
        assert_eq!(
            LanguageTag::try_from("fr_be".to_string()).unwrap().as_str(),
            "fr-BE"
        );
        assert!(LanguageTag::try_from("fr-BEL".to_string()).is_err());
    }

    #[test]
    fn countries_and_ids_refuse_what_they_do_not_know() {
        assert_eq!(Country::parse(" nl ").unwrap(), Country::NL);
        assert_eq!(
            Country::parse("ES").unwrap_err().to_string(),
            "'ES' is not a supported country: expected one of BE, DE, NL, LU, FR"
        );
        let err = crate::ids::RecipientId::parse("not-a-uuid").unwrap_err();
        assert_eq!(
            err.to_string(),
            "'not-a-uuid' is not a valid RecipientId: expected a UUID"
        );
        assert!(crate::ids::NeedCaseId::parse("0190a2b4-0000-7000-8000-000000000001").is_ok());
    }

    #[test]
    fn site_ids_birth_years_and_deciles_have_ranges() {
        assert!(SiteId::parse("be-uzleuven").is_ok());
        for bad in ["", "a", "Be-x", "1site", "site_x", &"a".repeat(33)] {
            assert!(SiteId::parse(bad).is_err(), "{bad}");
        }
        assert!(BirthYear::parse(1899).is_err());
        assert!(BirthYear::parse(1950).is_ok());
        assert!(DeprivationDecile::parse(0).is_err());
        assert!(DeprivationDecile::parse(11).is_err());
        assert_eq!(DeprivationDecile::parse(1).unwrap().quintile(), 1);
        assert_eq!(DeprivationDecile::parse(2).unwrap().quintile(), 1);
        assert_eq!(DeprivationDecile::parse(10).unwrap().quintile(), 5);
    }

    #[test]
    fn age_bands_follow_design_boundaries() {
        let cases = [
            (0, AgeBand::Under18),
            (17, AgeBand::Under18),
            (18, AgeBand::From18To39),
            (39, AgeBand::From18To39),
            (40, AgeBand::From40To64),
            (64, AgeBand::From40To64),
            (65, AgeBand::From65To74),
            (74, AgeBand::From65To74),
            (75, AgeBand::From75),
        ];
        for (age, band) in cases {
            assert_eq!(AgeBand::of_age(age), band, "age {age}");
        }
    }

    #[test]
    fn serde_goes_through_validation() {
        assert!(serde_json::from_str::<SiteId>("\"Bad Site\"").is_err());
        assert!(serde_json::from_str::<PostalCode>(r#"{"country":"BE","code":"12"}"#).is_err());
        let p: PostalCode = serde_json::from_str(r#"{"country":"NL","code":"1012AB"}"#).unwrap();
        assert_eq!(p.region().as_str(), "NL-NH");
    }
}
