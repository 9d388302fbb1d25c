//! What happened to a need case: one struct per event and their union
//! [`NeedCaseEvent`], as stored in stream `need-<uuid>`.

use super::command::LeftOutService;
use super::reason::{
    CancelReason, CancelledBy, CloseReason, ErrorReason, ErrorTarget, FailureReason, Outcome,
    RejectionReason,
};
use crate::ids::{NeedCaseId, ReferralId, ServiceId};
use crate::recipient::RecipientProfile;
use crate::values::{AgeBand, NeedCode, NeedDomain};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedIdentified {
    pub need_case: NeedCaseId,
    pub need: NeedCode,
    pub domain: NeedDomain,
    /// The recipient's stratifiers at identification (copied, so projections never look up).
    /// Boxed: it is by far the largest field of any event, and inline it would make
    /// every event of every kind as large as this one.
    pub recipient: Box<RecipientProfile>,
    /// Age band at identification.
    pub age_band: AgeBand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub service: ServiceId,
    /// 1 = best.
    pub rank: u16,
    pub reasons: Vec<String>,
    /// The matcher's score (none for a list a coordinator made by hand). Schema v2.
    #[serde(default)]
    pub score: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesSuggested {
    pub suggestions: Vec<Suggestion>,
    /// The services the matcher left out, with why. Schema v2.
    #[serde(default)]
    pub left_out: Vec<LeftOutService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRequested {
    pub referral: ReferralId,
    pub service: ServiceId,
    /// Whether this is the need case's first referral (time to referral counts from it).
    pub first: bool,
}

/// The referral events that only move a referral carry its service, so per-service
/// read models need no referral → service map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralAccepted {
    pub referral: ReferralId,
    pub service: ServiceId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRejected {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub reason: RejectionReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralWaitlisted {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub estimated_wait_days: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralStarted {
    pub referral: ReferralId,
    pub service: ServiceId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralCompleted {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralFailed {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub reason: FailureReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralCancelled {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub by: CancelledBy,
    pub reason: CancelReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedClosed {
    pub reason: CloseReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteredInError {
    pub target: ErrorTarget,
    pub reason: ErrorReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NeedCaseEvent {
    NeedIdentified(NeedIdentified),
    ServicesSuggested(ServicesSuggested),
    ReferralRequested(ReferralRequested),
    ReferralAccepted(ReferralAccepted),
    ReferralRejected(ReferralRejected),
    ReferralWaitlisted(ReferralWaitlisted),
    ReferralStarted(ReferralStarted),
    ReferralCompleted(ReferralCompleted),
    ReferralFailed(ReferralFailed),
    ReferralCancelled(ReferralCancelled),
    NeedClosed(NeedClosed),
    EnteredInError(EnteredInError),
}
