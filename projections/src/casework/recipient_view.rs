//! A care recipient's view ([`RecipientView`]) and how checkpoints hold it.

use careledger_domain::ids::NeedCaseId;
use careledger_domain::personal::Sealed;
use careledger_domain::recipient::RecipientProfile;
use careledger_domain::store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One care recipient as the API shows it. 64 bytes (a million of them sit in
/// a read model): the version in four bytes, the need cases a boxed slice, and
/// the sealed personal data and the time of erasure in one field, as a
/// recipient has at most one of them ([`PersonalData`]). Serialised as before.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientView {
    /// Shared with the recipient's need cases (see [`careledger_domain::need_case::NeedCase::share_recipient`]).
    pub profile: std::sync::Arc<RecipientProfile>,
    pub registered_at: DateTime<Utc>,
    /// The stream's version (at its ceiling, 2^32 - 1, should one ever reach it).
    pub version: u32,
    pub position: u64,
    /// Their need cases, in the order they were identified.
    pub need_cases: Box<[NeedCaseId]>,
    pub personal: PersonalData,
}

/// A recipient's names and contact details as the read model keeps them.
#[derive(Debug, Clone, PartialEq)]
pub enum PersonalData {
    /// None were recorded.
    None,
    /// Sealed under the recipient's key. Boxed: a million recipients' views
    /// would otherwise each carry its three strings inline.
    Sealed(Box<Sealed>),
    /// The recipient was erased then: their key is destroyed, and the read
    /// model keeps no unreadable copy either.
    Erased(DateTime<Utc>),
}

impl RecipientView {
    /// A new recipient's view, as its registration makes it.
    pub fn registered(
        profile: std::sync::Arc<RecipientProfile>,
        personal: Option<Sealed>,
        e: &RecordedEvent,
    ) -> Self {
        Self {
            profile,
            registered_at: e.metadata.occurred_at,
            version: super::parts::view_version(e.version),
            position: e.position.raw(),
            need_cases: Box::default(),
            personal: personal.map_or(PersonalData::None, |p| PersonalData::Sealed(Box::new(p))),
        }
    }

    /// Their sealed names and contact details; `None` when none were recorded
    /// or they were erased.
    pub fn sealed(&self) -> Option<&Sealed> {
        match &self.personal {
            PersonalData::Sealed(s) => Some(s),
            _ => None,
        }
    }

    /// When they were erased.
    pub fn erased_at(&self) -> Option<DateTime<Utc>> {
        match self.personal {
            PersonalData::Erased(at) => Some(at),
            _ => None,
        }
    }

    /// Adds need case `id` (identified after the ones it has).
    pub(crate) fn add_need_case(&mut self, id: NeedCaseId) {
        let mut ids = std::mem::take(&mut self.need_cases).into_vec();
        ids.reserve_exact(1);
        ids.push(id);
        self.need_cases = ids.into_boxed_slice();
    }
}

/// [`RecipientView`] as checkpoints write it (format 13: the fields it had
/// before the personal data and the erasure were one).
#[derive(Serialize)]
struct RecipientOut<'a> {
    #[serde(with = "careledger_domain::recipient::shared_profile")]
    profile: &'a std::sync::Arc<RecipientProfile>,
    #[serde(with = "careledger_domain::timestamp::compact")]
    registered_at: DateTime<Utc>,
    version: u32,
    position: u64,
    need_cases: &'a [NeedCaseId],
    personal: Option<&'a Sealed>,
    #[serde(with = "careledger_domain::timestamp::compact_opt")]
    erased_at: Option<DateTime<Utc>>,
}

/// [`RecipientView`] as checkpoints hold it.
#[derive(Deserialize)]
struct RecipientIn {
    #[serde(with = "careledger_domain::recipient::shared_profile")]
    profile: std::sync::Arc<RecipientProfile>,
    #[serde(with = "careledger_domain::timestamp::compact")]
    registered_at: DateTime<Utc>,
    #[serde(deserialize_with = "super::parts::saturating_u32")]
    version: u32,
    position: u64,
    need_cases: Box<[NeedCaseId]>,
    personal: Option<Box<Sealed>>,
    #[serde(default, with = "careledger_domain::timestamp::compact_opt")]
    erased_at: Option<DateTime<Utc>>,
}

impl Serialize for RecipientView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RecipientOut {
            profile: &self.profile,
            registered_at: self.registered_at,
            version: self.version,
            position: self.position,
            need_cases: &self.need_cases,
            personal: self.sealed(),
            erased_at: self.erased_at(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecipientView {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RecipientIn::deserialize(d)?;
        Ok(Self {
            profile: r.profile,
            registered_at: r.registered_at,
            version: r.version,
            position: r.position,
            need_cases: r.need_cases,
            // Erasure drops the sealed data: an erased recipient has none.
            personal: match (r.erased_at, r.personal) {
                (Some(at), _) => PersonalData::Erased(at),
                (None, Some(p)) => PersonalData::Sealed(p),
                (None, None) => PersonalData::None,
            },
        })
    }
}
