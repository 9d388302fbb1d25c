//! A referral inside a need case: its status and the moves between statuses that
//! DESIGN §2 draws ([`referral_transition_allowed`]).

use super::reason::{Outcome, ShareConsent};
use crate::ids::{ReferralId, ServiceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Requested,
    Accepted,
    /// Waitlisted.
    OnHold,
    InProgress,
    Completed,
    Rejected,
    Cancelled,
    Failed,
    EnteredInError,
}

impl ReferralStatus {
    /// Open referrals block a new one: one open referral per need case.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::Requested
                | ReferralStatus::Accepted
                | ReferralStatus::OnHold
                | ReferralStatus::InProgress
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            ReferralStatus::Requested => "requested",
            ReferralStatus::Accepted => "accepted",
            ReferralStatus::OnHold => "on-hold",
            ReferralStatus::InProgress => "in-progress",
            ReferralStatus::Completed => "completed",
            ReferralStatus::Rejected => "rejected",
            ReferralStatus::Cancelled => "cancelled",
            ReferralStatus::Failed => "failed",
            ReferralStatus::EnteredInError => "entered-in-error",
        }
    }
}

impl std::fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The referral transitions drawn in DESIGN §2 (entered-in-error aside, which is
/// allowed from every state but itself). Anything not listed is refused.
pub fn referral_transition_allowed(from: ReferralStatus, to: ReferralStatus) -> bool {
    use ReferralStatus::*;
    matches!(
        (from, to),
        (Requested, Accepted | Rejected | Cancelled)
            | (Accepted, InProgress | OnHold | Failed)
            | (OnHold, Accepted | InProgress | Failed)
            | (InProgress, OnHold | Completed | Failed)
    ) || (to == EnteredInError && from != EnteredInError)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    pub service: ServiceId,
    pub status: ReferralStatus,
    #[serde(with = "crate::timestamp::compact")]
    pub requested_at: DateTime<Utc>,
    /// When its status last changed (in care time).
    #[serde(with = "crate::timestamp::compact")]
    pub changed_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub estimated_wait_days: Option<u16>,
    /// What the recipient agreed to share with the performing organisation (as
    /// requested, or referral only once withdrawn). Absent from read-model
    /// snapshots taken before it was kept: referral only, as it was then.
    #[serde(default)]
    pub consent: ShareConsent,
    /// The newest answer link issued for it (the only one that works).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Boxed: few referrals have one, and every referral would carry its room.
    pub answer_link: Option<Box<AnswerLink>>,
}

/// An answer link as the referral keeps it: the newest one issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerLink {
    pub link: crate::ids::AnswerLinkId,
    #[serde(with = "crate::timestamp::compact")]
    pub expires_at: DateTime<Utc>,
    pub lang: crate::values::Lang,
}
