//! What a service says about itself ([`ServiceProfile`]): names and descriptions in
//! four languages, the needs it addresses, where and whom it serves, cost, capacity
//! and contact, and the rules a profile must meet ([`ServiceProfile::validate`]).

use super::error::DirectoryError;
use crate::recipient::{RecipientKind, RecipientProfile};
use crate::values::{
    Country, Lang, LanguageTag, NeedCode, PostalCode, Region, TextKind, forbidden_char,
};
use serde::{Deserialize, Serialize};

/// A text in the four languages labels are read in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Localized {
    pub en: String,
    pub fr: String,
    pub nl: String,
    pub de: String,
}

impl Localized {
    /// The text in `lang`, English where that one is empty.
    pub fn get(&self, lang: Lang) -> &str {
        let t = match lang {
            Lang::En => &self.en,
            Lang::Fr => &self.fr,
            Lang::Nl => &self.nl,
            Lang::De => &self.de,
        };
        if t.is_empty() { &self.en } else { t }
    }
    fn all(&self) -> [(&'static str, &str); 4] {
        [
            ("en", &self.en),
            ("fr", &self.fr),
            ("nl", &self.nl),
            ("de", &self.de),
        ]
    }
    /// True when any of the four contains `needle` (already lowercased), ignoring case.
    pub fn contains_lowercase(&self, needle: &str) -> bool {
        self.all()
            .iter()
            .any(|(_, t)| t.to_lowercase().contains(needle))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceArea {
    pub countries: Vec<Country>,
    pub regions: Vec<Region>,
    pub postal_codes: Vec<PostalCode>,
}

/// How precisely a recipient's address falls inside a service area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AreaMatch {
    Country,
    Region,
    PostalCode,
}

impl ServiceArea {
    /// The most precise way the recipient's address is covered, if it is.
    pub fn covers(&self, p: &RecipientProfile) -> Option<AreaMatch> {
        if self.postal_codes.contains(&p.postal_code) {
            Some(AreaMatch::PostalCode)
        } else if self.regions.contains(&p.region) {
            Some(AreaMatch::Region)
        } else if self.countries.contains(&p.country) {
            Some(AreaMatch::Country)
        } else {
            None
        }
    }
    pub fn is_empty(&self) -> bool {
        self.countries.is_empty() && self.regions.is_empty() && self.postal_codes.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Eligibility {
    pub min_age: Option<u8>,
    pub max_age: Option<u8>,
    pub patients: bool,
    pub relatives: bool,
    /// Only for people with preferential reimbursement (BIM/OMNIO or equivalent).
    pub requires_preferential_reimbursement: bool,
}

impl Default for Eligibility {
    fn default() -> Self {
        Self {
            min_age: None,
            max_age: None,
            patients: true,
            relatives: true,
            requires_preferential_reimbursement: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cost {
    Free,
    /// Covered by health insurance (possibly with a personal share).
    Reimbursed,
    Fee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Capacity {
    HasCapacity,
    NoCapacity,
    Waitlist { estimated_wait_days: u16 },
}

/// The organisation's public contact line (never a person's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contact {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
}

/// What a service is and whom it serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceProfile {
    /// The organisation's name, as published.
    pub organisation: String,
    /// The organisation's id in the directory (HSDS `organization.id`): what a
    /// provider's credential names. Absent in events recorded before it was kept
    /// (read as `None`, which was the truth then: no id was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<crate::ids::OrganisationId>,
    pub name: Localized,
    pub description: Localized,
    /// Catalogue codes of the needs it addresses.
    pub needs: Vec<NeedCode>,
    pub languages: Vec<LanguageTag>,
    pub area: ServiceArea,
    pub eligibility: Eligibility,
    pub cost: Cost,
    pub contact: Contact,
    /// The publisher's own words about the cost (HSDS `cost_options.option`, with
    /// its amount), kept beside the kind it was read as. Absent in events recorded
    /// before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_note: Option<String>,
    /// Languages whose name and description are not a translation but a copy of
    /// the language the publisher wrote in (a service published in one language).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untranslated: Vec<Lang>,
}

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 4000;

impl ServiceProfile {
    /// The same profile with its lists sorted and deduplicated, so two profiles that
    /// say the same thing compare equal.
    pub fn normalised(mut self) -> Self {
        fn tidy<T: Ord>(v: &mut Vec<T>) {
            v.sort();
            v.dedup();
        }
        tidy(&mut self.needs);
        tidy(&mut self.untranslated);
        tidy(&mut self.languages);
        tidy(&mut self.area.countries);
        tidy(&mut self.area.regions);
        self.area
            .postal_codes
            .sort_by(|a, b| (a.country(), a.code()).cmp(&(b.country(), b.code())));
        self.area.postal_codes.dedup();
        self
    }

    /// Checks the rules a profile must meet.
    ///
    /// # Errors
    /// The first broken rule, naming the field.
    pub fn validate(&self) -> Result<(), DirectoryError> {
        let bad =
            |field: &'static str, rule: String| Err(DirectoryError::InvalidProfile { field, rule });
        // Free text: no control characters; descriptions may break lines.
        let contact = &self.contact;
        let texts = std::iter::once((
            "organisation",
            self.organisation.as_str(),
            TextKind::SingleLine,
        ))
        .chain(
            self.name
                .all()
                .map(|(_, t)| ("name", t, TextKind::SingleLine)),
        )
        .chain(
            self.description
                .all()
                .map(|(_, t)| ("description", t, TextKind::MultiLine)),
        )
        .chain(
            [&contact.phone, &contact.email, &contact.url]
                .into_iter()
                .flatten()
                .map(|t| ("contact", t.as_str(), TextKind::SingleLine)),
        )
        .chain(
            self.cost_note
                .iter()
                .map(|t| ("cost", t.as_str(), TextKind::SingleLine)),
        );
        for (field, text, kind) in texts {
            if let Some(c) = forbidden_char(text, kind) {
                return Err(DirectoryError::ControlCharacter {
                    field,
                    code_point: c as u32,
                });
            }
        }
        if self.organisation.trim().is_empty() || self.organisation.len() > MAX_NAME {
            return bad(
                "organisation",
                format!("an organisation name of 1 to {MAX_NAME} characters"),
            );
        }
        for (lang, t) in self.name.all() {
            if t.trim().is_empty() || t.len() > MAX_NAME {
                return bad(
                    "name",
                    format!(
                        "a name of 1 to {MAX_NAME} characters in each language ({lang} is missing or too long)"
                    ),
                );
            }
        }
        for (lang, t) in self.description.all() {
            if t.len() > MAX_DESCRIPTION {
                return bad(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters ({lang} is longer)"),
                );
            }
        }
        if let Some(note) = &self.cost_note
            && (note.trim().is_empty() || note.len() > MAX_NAME)
        {
            return bad("cost", format!("a cost note of 1 to {MAX_NAME} characters"));
        }
        if self.untranslated.len() >= Lang::ALL.len() {
            return bad(
                "untranslated",
                "at least one language the service was written in".into(),
            );
        }
        if self.needs.is_empty() {
            return bad("needs", "at least one need of the catalogue".into());
        }
        if self.languages.is_empty() {
            return bad("languages", "at least one language".into());
        }
        if self.area.is_empty() {
            return bad("area", "at least one country, region or postal code".into());
        }
        let e = &self.eligibility;
        if !e.patients && !e.relatives {
            return bad("eligibility", "patients, relatives or both".into());
        }
        if let (Some(lo), Some(hi)) = (e.min_age, e.max_age)
            && lo > hi
        {
            return bad(
                "eligibility",
                format!("a minimum age ({lo}) not above the maximum ({hi})"),
            );
        }
        if let Some(email) = &self.contact.email
            && (!email.contains('@') || email.len() > MAX_NAME)
        {
            return bad(
                "contact",
                "an e-mail address of the form name@domain".into(),
            );
        }
        if let Some(url) = &self.contact.url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return bad("contact", "a web address starting with https://".into());
        }
        Ok(())
    }

    pub fn speaks(&self, language: &LanguageTag) -> bool {
        self.languages
            .iter()
            .any(|l| l.language() == language.language())
    }
}

/// Whom a service serves, as the matcher checks it.
pub fn serves_kind(e: &Eligibility, kind: &RecipientKind) -> bool {
    match kind {
        RecipientKind::Patient => e.patients,
        RecipientKind::Relative { .. } => e.relatives,
    }
}
