//! Care recipients: patients and their relatives. Stream `recipient-<uuid>`.
//!
//! A recipient carries the stratifiers of the equity audits. Names and contact
//! details travel only sealed under the recipient's own key ([`crate::personal`]);
//! erasure destroys that key and records `CareRecipientErased`.

use crate::aggregate::{Aggregate, Command, TimeRefusal, check_occurred_at_for};
use crate::ids::RecipientId;
use crate::personal::Sealed;
use crate::values::{
    AgeBand, BirthYear, CancerSiteGroup, Country, DeprivationDecile, LanguageTag, PostalCode,
    PreferentialReimbursement, Region, Sex, SiteId,
};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecipientKind {
    Patient,
    /// A relative (partner, child, carer) of a patient.
    Relative {
        patient: RecipientId,
    },
}

impl RecipientKind {
    pub fn name(&self) -> &'static str {
        match self {
            RecipientKind::Patient => "patient",
            RecipientKind::Relative { .. } => "relative",
        }
    }
}

/// Order: register a care recipient at a site.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterCareRecipient {
    pub recipient: RecipientId,
    pub site: SiteId,
    pub kind: RecipientKind,
    pub birth_year: BirthYear,
    pub sex: Sex,
    pub postal_code: PostalCode,
    pub language: LanguageTag,
    pub preferential_reimbursement: PreferentialReimbursement,
    pub deprivation_decile: Option<DeprivationDecile>,
    pub cancer_site_group: CancerSiteGroup,
    /// Names and contact details, sealed under the recipient's key.
    pub personal: Option<Sealed>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecipientAction {
    Register(RegisterCareRecipient),
    /// Record that the recipient's key was destroyed (an erasure request). Erasing
    /// an erased recipient changes nothing.
    Erase {
        recipient: RecipientId,
    },
}

/// The stratifiers of one recipient, as recorded at registration. Need cases copy it
/// into `NeedIdentified` so that no projection has to look a recipient up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientProfile {
    pub recipient: RecipientId,
    pub site: SiteId,
    pub kind: RecipientKind,
    pub birth_year: BirthYear,
    pub sex: Sex,
    pub postal_code: PostalCode,
    pub region: Region,
    pub country: Country,
    pub language: LanguageTag,
    pub preferential_reimbursement: PreferentialReimbursement,
    pub deprivation_decile: Option<DeprivationDecile>,
    pub cancer_site_group: CancerSiteGroup,
}

/// Serialises an `Arc<RecipientProfile>` as the profile itself (read models
/// share one profile per recipient; their checkpoints write each copy out and
/// share them again when loaded).
pub mod shared_profile {
    use super::RecipientProfile;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(p: &Arc<RecipientProfile>, s: S) -> Result<S::Ok, S::Error> {
        (**p).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<RecipientProfile>, D::Error> {
        RecipientProfile::deserialize(d).map(Arc::new)
    }
}

impl RecipientProfile {
    pub fn age_band_at(&self, at: DateTime<Utc>) -> AgeBand {
        self.birth_year.age_band_at(at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRecipientRegistered {
    pub profile: RecipientProfile,
    /// Names and contact details, sealed (absent in events written before they
    /// were recorded, and when none were given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<Sealed>,
}

/// The recipient's key was destroyed: their sealed personal data is unreadable for
/// good. Their stratifiers and need cases stay (statistics still count them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareRecipientErased {}

// The registration carries the whole profile and erasure nothing; boxing the
// profile would cost an allocation per registration event folded.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientEvent {
    CareRecipientRegistered(CareRecipientRegistered),
    CareRecipientErased(CareRecipientErased),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecipientError {
    #[error("care recipient {recipient} is already registered")]
    AlreadyRegistered { recipient: RecipientId },
    #[error("care recipient {recipient} is not registered")]
    NotRegistered { recipient: RecipientId },
    #[error("care recipient {recipient} was erased")]
    Erased { recipient: RecipientId },
    #[error("a relative cannot be registered as the relative of themself")]
    RelativeOfThemself,
    #[error("birth year {birth_year} lies after the year the registration happened ({year})")]
    BirthYearInFuture { birth_year: i32, year: i32 },
    /// `occurred_at` breaks the time rule every command follows.
    #[error(transparent)]
    Time(#[from] TimeRefusal),
}

impl RecipientError {
    /// A stable machine-readable code for the API's `userErrors.code`.
    pub fn code(&self) -> &'static str {
        match self {
            RecipientError::AlreadyRegistered { .. } => "RECIPIENT_EXISTS",
            RecipientError::NotRegistered { .. } => "RECIPIENT_NOT_FOUND",
            RecipientError::Erased { .. } => "RECIPIENT_ERASED",
            RecipientError::RelativeOfThemself => "RELATIVE_OF_THEMSELF",
            RecipientError::BirthYearInFuture { .. } => "BIRTH_YEAR_IN_FUTURE",
            RecipientError::Time(t) => t.code(),
        }
    }
}

/// State of a recipient stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CareRecipient {
    profile: Option<RecipientProfile>,
    registered_at: Option<DateTime<Utc>>,
    erased_at: Option<DateTime<Utc>>,
}

impl CareRecipient {
    pub fn profile(&self) -> Option<&RecipientProfile> {
        self.profile.as_ref()
    }
    pub fn registered_at(&self) -> Option<DateTime<Utc>> {
        self.registered_at
    }
    pub fn erased_at(&self) -> Option<DateTime<Utc>> {
        self.erased_at
    }
    /// The profile, or the refusal a command about an unregistered recipient gets.
    pub fn require(&self, id: RecipientId) -> Result<&RecipientProfile, RecipientError> {
        self.profile
            .as_ref()
            .ok_or(RecipientError::NotRegistered { recipient: id })
    }
}

impl Aggregate for CareRecipient {
    type Action = RecipientAction;
    type Event = RecipientEvent;
    type Error = RecipientError;

    fn decide(
        &self,
        cmd: &Command<RecipientAction>,
    ) -> Result<Vec<RecipientEvent>, RecipientError> {
        cmd.check_time()?;
        match &cmd.action {
            RecipientAction::Register(r) => {
                if self.profile.is_some() {
                    return Err(RecipientError::AlreadyRegistered {
                        recipient: r.recipient,
                    });
                }
                if r.kind
                    == (RecipientKind::Relative {
                        patient: r.recipient,
                    })
                {
                    return Err(RecipientError::RelativeOfThemself);
                }
                if r.birth_year.year() > cmd.occurred_at.year() {
                    return Err(RecipientError::BirthYearInFuture {
                        birth_year: r.birth_year.year(),
                        year: cmd.occurred_at.year(),
                    });
                }
                let profile = RecipientProfile {
                    recipient: r.recipient,
                    site: r.site.clone(),
                    kind: r.kind,
                    birth_year: r.birth_year,
                    sex: r.sex,
                    region: r.postal_code.region(),
                    country: r.postal_code.country(),
                    postal_code: r.postal_code.clone(),
                    language: r.language.clone(),
                    preferential_reimbursement: r.preferential_reimbursement,
                    deprivation_decile: r.deprivation_decile,
                    cancer_site_group: r.cancer_site_group,
                };
                Ok(vec![RecipientEvent::CareRecipientRegistered(
                    CareRecipientRegistered {
                        profile,
                        personal: r.personal.clone(),
                    },
                )])
            }
            RecipientAction::Erase { recipient } => {
                let Some(p) = &self.profile else {
                    return Err(RecipientError::NotRegistered {
                        recipient: *recipient,
                    });
                };
                check_occurred_at_for(cmd.occurred_at, cmd.now, p.birth_year.year())?;
                if self.erased_at.is_some() {
                    return Ok(vec![]);
                }
                Ok(vec![RecipientEvent::CareRecipientErased(
                    CareRecipientErased {},
                )])
            }
        }
    }

    fn apply(&mut self, event: &RecipientEvent, occurred_at: DateTime<Utc>) {
        match event {
            RecipientEvent::CareRecipientRegistered(e) => {
                self.profile = Some(e.profile.clone());
                self.registered_at = Some(occurred_at);
            }
            RecipientEvent::CareRecipientErased(_) => {
                self.erased_at = Some(occurred_at);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregate::testing::given;
    use chrono::TimeZone;
    use uuid::Uuid;

    pub(crate) fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 9, 0, 0).unwrap()
    }

    pub(crate) fn register(id: RecipientId) -> RegisterCareRecipient {
        RegisterCareRecipient {
            recipient: id,
            site: SiteId::parse("be-leuven").unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1958).unwrap(),
            sex: Sex::Female,
            postal_code: PostalCode::parse(Country::BE, "3000").unwrap(),
            language: LanguageTag::parse("nl").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::Yes,
            deprivation_decile: Some(DeprivationDecile::parse(3).unwrap()),
            cancer_site_group: CancerSiteGroup::Breast,
            personal: None,
        }
    }

    pub(crate) fn profile(id: RecipientId) -> RecipientProfile {
        let cmd = Command::now(RecipientAction::Register(register(id)), t(1));
        let events = CareRecipient::default().decide(&cmd).unwrap();
        let RecipientEvent::CareRecipientRegistered(e) = &events[0] else {
            unreachable!()
        };
        e.profile.clone()
    }

    fn id() -> RecipientId {
        RecipientId::from_uuid(Uuid::from_u128(7))
    }

    #[test]
    fn registering_records_the_profile_with_region_and_country_derived() {
        let state = given::<CareRecipient>(&[])
            .when(Command::now(
                RecipientAction::Register(register(id())),
                t(1),
            ))
            .then_expect_events(vec![RecipientEvent::CareRecipientRegistered(
                CareRecipientRegistered {
                    profile: profile(id()),
                    personal: None,
                },
            )]);
        let p = state.profile().unwrap();
        assert_eq!(p.region.as_str(), "BE-VBR");
        assert_eq!(p.country, Country::BE);
        assert_eq!(p.age_band_at(t(1)), AgeBand::From65To74);
    }

    #[test]
    fn registering_twice_is_refused() {
        let first = RecipientEvent::CareRecipientRegistered(CareRecipientRegistered {
            profile: profile(id()),
            personal: None,
        });
        given::<CareRecipient>(&[(first, t(1))])
            .when(Command::now(
                RecipientAction::Register(register(id())),
                t(2),
            ))
            .then_expect_error(RecipientError::AlreadyRegistered { recipient: id() });
    }

    #[test]
    fn a_relative_of_themself_is_refused() {
        let mut r = register(id());
        r.kind = RecipientKind::Relative { patient: id() };
        given::<CareRecipient>(&[])
            .when(Command::now(RecipientAction::Register(r), t(1)))
            .then_expect_error(RecipientError::RelativeOfThemself);
    }

    #[test]
    fn a_birth_year_after_the_registration_is_refused() {
        let mut r = register(id());
        r.birth_year = BirthYear::parse(2027).unwrap();
        given::<CareRecipient>(&[])
            .when(Command::now(RecipientAction::Register(r), t(1)))
            .then_expect_error(RecipientError::BirthYearInFuture {
                birth_year: 2027,
                year: 2026,
            });
    }

    #[test]
    fn a_registration_in_the_future_is_refused() {
        let cmd = Command {
            action: RecipientAction::Register(register(id())),
            occurred_at: t(3),
            now: t(1),
        };
        given::<CareRecipient>(&[])
            .when(cmd)
            .then_expect_error(RecipientError::Time(TimeRefusal::InFuture {
                occurred_at: t(3),
                now: t(1),
            }));
    }

    /// Given no recipient, when a registration is dated before 2000-01-01, then it
    /// is refused with the floor every command shares; given a registered
    /// recipient born in 1958, an erasure dated 1957 is refused as before birth.
    #[test]
    fn a_registration_before_the_floor_and_an_erasure_before_birth_are_refused() {
        let at = Utc.with_ymd_and_hms(1999, 6, 1, 0, 0, 0).unwrap();
        given::<CareRecipient>(&[])
            .when(Command {
                action: RecipientAction::Register(register(id())),
                occurred_at: at,
                now: t(1),
            })
            .then_expect_error(RecipientError::Time(TimeRefusal::BeforeFloor {
                occurred_at: at,
            }));
        let registered = RecipientEvent::CareRecipientRegistered(CareRecipientRegistered {
            profile: profile(id()),
            personal: None,
        });
        let mut old = profile(id());
        old.birth_year = BirthYear::parse(2005).unwrap();
        let young = RecipientEvent::CareRecipientRegistered(CareRecipientRegistered {
            profile: old,
            personal: None,
        });
        let at = Utc.with_ymd_and_hms(2004, 6, 1, 0, 0, 0).unwrap();
        let erase = Command {
            action: RecipientAction::Erase { recipient: id() },
            occurred_at: at,
            now: t(2),
        };
        given::<CareRecipient>(&[(young, t(1))])
            .when(erase.clone())
            .then_expect_error(RecipientError::Time(TimeRefusal::BeforeBirthYear {
                occurred_at: at,
                birth_year: 2005,
            }));
        // The same date is fine for a recipient born in 1958.
        given::<CareRecipient>(&[(registered, t(1))])
            .when(erase)
            .then_expect_events(vec![RecipientEvent::CareRecipientErased(
                CareRecipientErased {},
            )]);
    }

    #[test]
    fn erasure_is_recorded_once_and_only_for_a_registered_recipient() {
        let registered = RecipientEvent::CareRecipientRegistered(CareRecipientRegistered {
            profile: profile(id()),
            personal: None,
        });
        let erase = || Command::now(RecipientAction::Erase { recipient: id() }, t(2));
        given::<CareRecipient>(&[])
            .when(erase())
            .then_expect_error(RecipientError::NotRegistered { recipient: id() });
        let erased = RecipientEvent::CareRecipientErased(CareRecipientErased {});
        let state = given::<CareRecipient>(&[(registered.clone(), t(1))])
            .when(erase())
            .then_expect_events(vec![erased.clone()]);
        assert_eq!(state.erased_at(), Some(t(2)));
        assert!(state.profile().is_some(), "the stratifiers stay");
        given::<CareRecipient>(&[(registered, t(1)), (erased, t(2))])
            .when(erase())
            .then_expect_events(vec![]);
    }
}
