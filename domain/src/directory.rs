//! The service directory, shaped after Open Referral HSDS 3.0. Stream `service-<uuid>`.
//!
//! A service belongs to an organisation and says, in four languages, what it is;
//! which needs of the catalogue it addresses; which languages it works in; where
//! it serves (countries, regions, postal codes); whom it serves (an age range,
//! patients and/or relatives, possibly only people with preferential
//! reimbursement); what it costs; whether it has capacity; how to contact it.
//!
//! Directory events carry free text (names, descriptions, an organisation's contact
//! line): they describe services, never people, so the rule that care events carry
//! no free text does not apply to them.
//!
//! Updates that change nothing decide *no* events, so re-importing an unchanged
//! directory writes nothing.

use crate::aggregate::{Aggregate, Command, TimeRefusal};
use crate::ids::ServiceId;
use crate::recipient::{RecipientKind, RecipientProfile};
use crate::values::{
    Country, Lang, LanguageTag, NeedCode, PostalCode, Region, TextKind, forbidden_char,
};
use chrono::{DateTime, Utc};
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
    pub organisation: String,
    pub name: Localized,
    pub description: Localized,
    /// Catalogue codes of the needs it addresses.
    pub needs: Vec<NeedCode>,
    pub languages: Vec<LanguageTag>,
    pub area: ServiceArea,
    pub eligibility: Eligibility,
    pub cost: Cost,
    pub contact: Contact,
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

// ---------------------------------------------------------------------------
// Commands, events, state
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryAction {
    Register {
        service: ServiceId,
        profile: ServiceProfile,
        capacity: Capacity,
    },
    /// Replaces the profile; deciding it on an unchanged profile records nothing.
    Update {
        profile: ServiceProfile,
    },
    ChangeCapacity {
        capacity: Capacity,
    },
    Retire,
}

impl DirectoryAction {
    pub fn name(&self) -> &'static str {
        match self {
            DirectoryAction::Register { .. } => "registerService",
            DirectoryAction::Update { .. } => "updateService",
            DirectoryAction::ChangeCapacity { .. } => "changeServiceCapacity",
            DirectoryAction::Retire => "retireService",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRegistered {
    pub service: ServiceId,
    pub profile: Box<ServiceProfile>,
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUpdated {
    pub profile: Box<ServiceProfile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCapacityChanged {
    pub capacity: Capacity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRetired {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceEvent {
    ServiceRegistered(ServiceRegistered),
    ServiceUpdated(ServiceUpdated),
    ServiceCapacityChanged(ServiceCapacityChanged),
    ServiceRetired(ServiceRetired),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceData {
    pub id: ServiceId,
    pub profile: ServiceProfile,
    pub capacity: Capacity,
    pub retired: bool,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    data: Option<ServiceData>,
}

impl Service {
    pub fn data(&self) -> Option<&ServiceData> {
        self.data.as_ref()
    }
    pub fn is_active(&self) -> bool {
        self.data.as_ref().is_some_and(|d| !d.retired)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    #[error("service {service} is already registered")]
    AlreadyRegistered { service: ServiceId },
    #[error("the service is not registered")]
    NotRegistered,
    #[error("the service is retired: it takes no further changes")]
    Retired,
    #[error("invalid {field}: expected {rule}")]
    InvalidProfile { field: &'static str, rule: String },
    #[error(
        "{field} holds the control character U+{code_point:04X}: free text may not hold control characters (descriptions may hold line feeds and tabs)"
    )]
    ControlCharacter {
        field: &'static str,
        code_point: u32,
    },
    /// `occurred_at` breaks the time rule every command follows.
    #[error(transparent)]
    Time(#[from] TimeRefusal),
}

impl DirectoryError {
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::AlreadyRegistered { .. } => "SERVICE_EXISTS",
            DirectoryError::NotRegistered => "SERVICE_NOT_FOUND",
            DirectoryError::Retired => "SERVICE_RETIRED",
            DirectoryError::InvalidProfile { .. } => "INVALID_SERVICE",
            DirectoryError::ControlCharacter { .. } => "CONTROL_CHARACTERS",
            DirectoryError::Time(t) => t.code(),
        }
    }
    /// The input field at fault, if one is.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DirectoryError::InvalidProfile { field, .. }
            | DirectoryError::ControlCharacter { field, .. } => Some(field),
            DirectoryError::Time(_) => Some("occurredAt"),
            DirectoryError::AlreadyRegistered { .. } | DirectoryError::NotRegistered => {
                Some("serviceId")
            }
            DirectoryError::Retired => None,
        }
    }
}

impl Aggregate for Service {
    type Action = DirectoryAction;
    type Event = ServiceEvent;
    type Error = DirectoryError;

    fn decide(&self, cmd: &Command<DirectoryAction>) -> Result<Vec<ServiceEvent>, DirectoryError> {
        use DirectoryAction as A;
        use ServiceEvent as E;
        cmd.check_time()?;
        if let A::Register {
            service,
            profile,
            capacity,
        } = &cmd.action
        {
            if self.data.is_some() {
                return Err(DirectoryError::AlreadyRegistered { service: *service });
            }
            let profile = profile.clone().normalised();
            profile.validate()?;
            return Ok(vec![E::ServiceRegistered(ServiceRegistered {
                service: *service,
                profile: Box::new(profile),
                capacity: *capacity,
            })]);
        }
        let d = self.data.as_ref().ok_or(DirectoryError::NotRegistered)?;
        if d.retired {
            return Err(DirectoryError::Retired);
        }
        match &cmd.action {
            A::Register { .. } => unreachable!("handled above"),
            A::Update { profile } => {
                let profile = profile.clone().normalised();
                profile.validate()?;
                if profile == d.profile {
                    return Ok(vec![]);
                }
                Ok(vec![E::ServiceUpdated(ServiceUpdated {
                    profile: Box::new(profile),
                })])
            }
            A::ChangeCapacity { capacity } => {
                if *capacity == d.capacity {
                    return Ok(vec![]);
                }
                Ok(vec![E::ServiceCapacityChanged(ServiceCapacityChanged {
                    capacity: *capacity,
                })])
            }
            A::Retire => Ok(vec![E::ServiceRetired(ServiceRetired {})]),
        }
    }

    fn apply(&mut self, event: &ServiceEvent, at: DateTime<Utc>) {
        match event {
            ServiceEvent::ServiceRegistered(e) => {
                self.data = Some(ServiceData {
                    id: e.service,
                    profile: (*e.profile).clone(),
                    capacity: e.capacity,
                    retired: false,
                    registered_at: at,
                });
            }
            ServiceEvent::ServiceUpdated(e) => {
                if let Some(d) = self.data.as_mut() {
                    d.profile = (*e.profile).clone();
                }
            }
            ServiceEvent::ServiceCapacityChanged(e) => {
                if let Some(d) = self.data.as_mut() {
                    d.capacity = e.capacity;
                }
            }
            ServiceEvent::ServiceRetired(_) => {
                if let Some(d) = self.data.as_mut() {
                    d.retired = true;
                }
            }
        }
    }
}

/// Whom a service serves, as the matcher checks it.
pub fn serves_kind(e: &Eligibility, kind: &RecipientKind) -> bool {
    match kind {
        RecipientKind::Patient => e.patients,
        RecipientKind::Relative { .. } => e.relatives,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregate::testing::given;
    use crate::recipient::tests::t;
    use uuid::Uuid;

    pub(crate) fn text(s: &str) -> Localized {
        Localized {
            en: format!("{s} (en)"),
            fr: format!("{s} (fr)"),
            nl: format!("{s} (nl)"),
            de: format!("{s} (de)"),
        }
    }

    pub(crate) fn profile() -> ServiceProfile {
        ServiceProfile {
            organisation: "Kom op tegen Kanker".into(),
            name: text("Psycho-oncology consultation"),
            description: text("Individual sessions"),
            needs: vec![
                NeedCode::parse("psy.fear-of-recurrence").unwrap(),
                NeedCode::parse("psy.anxiety").unwrap(),
            ],
            languages: vec![
                LanguageTag::parse("nl").unwrap(),
                LanguageTag::parse("fr").unwrap(),
            ],
            area: ServiceArea {
                countries: vec![],
                regions: vec![Region("BE-VBR".into())],
                postal_codes: vec![],
            },
            eligibility: Eligibility::default(),
            cost: Cost::Reimbursed,
            contact: Contact {
                phone: None,
                email: Some("info@example.org".into()),
                url: Some("https://example.org".into()),
            },
        }
    }

    fn sid() -> ServiceId {
        ServiceId::from_uuid(Uuid::from_u128(300))
    }

    fn cmd(action: DirectoryAction) -> Command<DirectoryAction> {
        Command::now(action, t(2))
    }

    fn registered() -> ServiceEvent {
        ServiceEvent::ServiceRegistered(ServiceRegistered {
            service: sid(),
            profile: Box::new(profile().normalised()),
            capacity: Capacity::HasCapacity,
        })
    }

    #[test]
    fn a_service_is_registered_with_its_lists_normalised() {
        let mut p = profile();
        p.needs.reverse();
        p.needs.push(p.needs[0].clone());
        given::<Service>(&[])
            .when(cmd(DirectoryAction::Register {
                service: sid(),
                profile: p,
                capacity: Capacity::HasCapacity,
            }))
            .then_expect_events(vec![registered()]);
    }

    #[test]
    fn an_unchanged_update_or_capacity_records_nothing_and_a_change_records_it() {
        let history = [(registered(), t(1))];
        given::<Service>(&history)
            .when(cmd(DirectoryAction::Update { profile: profile() }))
            .then_expect_events(vec![]);
        given::<Service>(&history)
            .when(cmd(DirectoryAction::ChangeCapacity {
                capacity: Capacity::HasCapacity,
            }))
            .then_expect_events(vec![]);
        let mut p = profile();
        p.cost = Cost::Free;
        given::<Service>(&history)
            .when(cmd(DirectoryAction::Update { profile: p.clone() }))
            .then_expect_events(vec![ServiceEvent::ServiceUpdated(ServiceUpdated {
                profile: Box::new(p.normalised()),
            })]);
        let wait = Capacity::Waitlist {
            estimated_wait_days: 21,
        };
        given::<Service>(&history)
            .when(cmd(DirectoryAction::ChangeCapacity { capacity: wait }))
            .then_expect_events(vec![ServiceEvent::ServiceCapacityChanged(
                ServiceCapacityChanged { capacity: wait },
            )]);
    }

    /// Given no service, when one is registered with a NUL in its organisation, an
    /// ANSI escape in a name, a carriage return in a contact line or a bidi
    /// override in a name, then it is refused naming the field and the code point;
    /// a description may hold line feeds and tabs, but not a carriage return.
    #[test]
    fn control_characters_in_a_services_text_are_refused() {
        let register = |p: ServiceProfile| {
            cmd(DirectoryAction::Register {
                service: sid(),
                profile: p,
                capacity: Capacity::HasCapacity,
            })
        };
        let refused = |p: ServiceProfile, field: &'static str, c: char| {
            given::<Service>(&[]).when(register(p)).then_expect_error(
                DirectoryError::ControlCharacter {
                    field,
                    code_point: c as u32,
                },
            )
        };
        let mut p = profile();
        p.organisation = "Kom op\u{0}".into();
        refused(p, "organisation", '\u{0}');
        let mut p = profile();
        p.name.fr = "\u{1b}[31mConsultation".into();
        refused(p, "name", '\u{1b}');
        let mut p = profile();
        p.name.nl = "Consult\u{202E}".into();
        refused(p, "name", '\u{202E}');
        let mut p = profile();
        p.contact.url = Some("https://example.org/\r\nX-Injected: 1".into());
        refused(p, "contact", '\r');
        let mut p = profile();
        p.description.de = "Zeile\r\nZeile".into();
        refused(p, "description", '\r');
        let mut p = profile();
        p.description.en = "Individual sessions.\n\tOn Mondays.".into();
        assert!(Service::default().decide(&register(p)).is_ok());
    }

    /// Given a registered service, when a directory command is dated after now
    /// (past the skew) or before 2000-01-01 — the finding was `9999-12-31` — then
    /// it is refused with the time rule every command shares, field `occurredAt`.
    #[test]
    fn directory_commands_dated_in_the_future_or_before_the_floor_are_refused() {
        let far = "9999-12-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        given::<Service>(&[(registered(), t(1))])
            .when(Command {
                action: DirectoryAction::Retire,
                occurred_at: far,
                now: t(2),
            })
            .then_expect_error(DirectoryError::Time(TimeRefusal::InFuture {
                occurred_at: far,
                now: t(2),
            }));
        let early = "1999-12-31T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
        given::<Service>(&[])
            .when(Command {
                action: DirectoryAction::Register {
                    service: sid(),
                    profile: profile(),
                    capacity: Capacity::HasCapacity,
                },
                occurred_at: early,
                now: t(2),
            })
            .then_expect_error(DirectoryError::Time(TimeRefusal::BeforeFloor {
                occurred_at: early,
            }));
        assert_eq!(
            DirectoryError::Time(TimeRefusal::BeforeFloor { occurred_at: early }).field(),
            Some("occurredAt")
        );
    }

    #[test]
    fn a_retired_service_takes_no_changes_and_an_unknown_one_none_but_registration() {
        let history = [
            (registered(), t(1)),
            (ServiceEvent::ServiceRetired(ServiceRetired {}), t(2)),
        ];
        given::<Service>(&history)
            .when(cmd(DirectoryAction::Retire))
            .then_expect_error(DirectoryError::Retired);
        given::<Service>(&[])
            .when(cmd(DirectoryAction::Retire))
            .then_expect_error(DirectoryError::NotRegistered);
        given::<Service>(&[(registered(), t(1))])
            .when(cmd(DirectoryAction::Register {
                service: sid(),
                profile: profile(),
                capacity: Capacity::NoCapacity,
            }))
            .then_expect_error(DirectoryError::AlreadyRegistered { service: sid() });
    }

    #[test]
    fn invalid_profiles_are_refused_naming_the_field() {
        type Breaker = Box<dyn Fn(&mut ServiceProfile)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("organisation", Box::new(|p| p.organisation = " ".into())),
            ("name", Box::new(|p| p.name.de = String::new())),
            ("needs", Box::new(|p| p.needs.clear())),
            ("languages", Box::new(|p| p.languages.clear())),
            ("area", Box::new(|p| p.area = ServiceArea::default())),
            (
                "eligibility",
                Box::new(|p| {
                    p.eligibility.patients = false;
                    p.eligibility.relatives = false;
                }),
            ),
            (
                "eligibility",
                Box::new(|p| {
                    p.eligibility.min_age = Some(70);
                    p.eligibility.max_age = Some(18);
                }),
            ),
            (
                "contact",
                Box::new(|p| p.contact.email = Some("nope".into())),
            ),
            (
                "contact",
                Box::new(|p| p.contact.url = Some("ftp://x".into())),
            ),
        ];
        for (field, break_it) in cases {
            let mut p = profile();
            break_it(&mut p);
            match p.validate() {
                Err(DirectoryError::InvalidProfile { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(profile().validate().is_ok());
    }
}
