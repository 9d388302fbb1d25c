//! The need case folded from its events ([`NeedCase`], [`NeedCaseData`]) and its
//! milestone ([`NeedStatus`]), derived from what it holds.

use super::event::Suggestion;
use super::reason::CloseReason;
use super::referral::{Referral, ReferralStatus};
use crate::ids::{NeedCaseId, ReferralId};
use crate::recipient::RecipientProfile;
use crate::values::{NeedCode, NeedDomain};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The need case's milestone, derived from what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedStatus {
    Identified,
    Suggested,
    Referred,
    Completed,
    Closed,
    EnteredInError,
}

impl NeedStatus {
    /// Finished need cases take no command but entered-in-error.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            NeedStatus::Completed | NeedStatus::Closed | NeedStatus::EnteredInError
        )
    }
    pub fn name(self) -> &'static str {
        match self {
            NeedStatus::Identified => "identified",
            NeedStatus::Suggested => "suggested",
            NeedStatus::Referred => "referred",
            NeedStatus::Completed => "completed",
            NeedStatus::Closed => "closed",
            NeedStatus::EnteredInError => "entered-in-error",
        }
    }
}

impl std::fmt::Display for NeedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeedCaseData {
    pub id: NeedCaseId,
    pub need: NeedCode,
    pub domain: NeedDomain,
    /// The recipient's profile at identification. Shared: a read model points
    /// every need case of a recipient at one copy ([`NeedCase::share_recipient`]).
    #[serde(with = "crate::recipient::shared_profile")]
    pub recipient: Arc<RecipientProfile>,
    #[serde(with = "crate::timestamp::compact")]
    pub identified_at: DateTime<Utc>,
    /// The latest suggestion list (empty before the first). Boxed slices, not
    /// `Vec`s: 8 bytes less each in a million read-model views, and a list
    /// is replaced or grown by one, never pushed to in a loop.
    pub suggestions: Box<[Suggestion]>,
    #[serde(default, with = "crate::timestamp::compact_opt")]
    pub suggested_at: Option<DateTime<Utc>>,
    pub referrals: Box<[Referral]>,
    pub closed: Option<(CloseReason, DateTime<Utc>)>,
    pub entered_in_error: bool,
}

/// Serialisable so read models can keep it in their snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NeedCase {
    pub(super) data: Option<NeedCaseData>,
}

impl NeedCase {
    pub fn data(&self) -> Option<&NeedCaseData> {
        self.data.as_ref()
    }

    /// `None` before the need was identified.
    pub fn status(&self) -> Option<NeedStatus> {
        let d = self.data.as_ref()?;
        let live = || {
            d.referrals
                .iter()
                .filter(|r| r.status != ReferralStatus::EnteredInError)
        };
        Some(if d.entered_in_error {
            NeedStatus::EnteredInError
        } else if d.closed.is_some() {
            NeedStatus::Closed
        } else if live().any(|r| r.status == ReferralStatus::Completed) {
            NeedStatus::Completed
        } else if live().next().is_some() {
            NeedStatus::Referred
        } else if !d.suggestions.is_empty() {
            NeedStatus::Suggested
        } else {
            NeedStatus::Identified
        })
    }

    pub fn open_referral(&self) -> Option<&Referral> {
        self.data
            .as_ref()?
            .referrals
            .iter()
            .find(|r| r.status.is_open())
    }

    /// Points the need case at `profile` when it equals the recipient profile the
    /// need case holds (one copy per recipient instead of one per need case).
    pub fn share_recipient(&mut self, profile: &Arc<RecipientProfile>) {
        if let Some(d) = self.data.as_mut()
            && !Arc::ptr_eq(&d.recipient, profile)
            && *d.recipient == **profile
        {
            d.recipient = profile.clone();
        }
    }

    pub fn referral(&self, id: ReferralId) -> Option<&Referral> {
        self.data.as_ref()?.referrals.iter().find(|r| r.id == id)
    }
}
