//! What happened to a need case: one struct per event and their union
//! [`NeedCaseEvent`], as stored in stream `need-<uuid>`.

use super::command::{LeftOutService, RankingBasis, Side};
use super::reason::{
    CancelReason, CancelledBy, CloseReason, ErrorReason, ErrorTarget, FailureReason, Outcome,
    RejectionReason, ShareConsent,
};
use crate::ids::{AnswerLinkId, NeedCaseId, NoteId, ReferralId, ServiceId};
use crate::personal::Sealed;
use crate::recipient::RecipientProfile;
use crate::values::{AgeBand, Lang, NeedCode, NeedDomain};
use chrono::{DateTime, Utc};
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
    /// Reason codes, interned (a read model keeps every need case's latest list:
    /// an 8-byte atom a reason instead of a 24-byte string and its copy).
    pub reasons: Box<[crate::values::Atom]>,
    /// The matcher's score (none for a list a coordinator made by hand). Schema v2.
    #[serde(default)]
    pub score: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesSuggested {
    pub suggestions: Vec<Suggestion>,
    /// The services the matcher left out, with why, as schema v2 stored them
    /// (shown as stored). Since v3 a ranking records `ranked` instead: empty,
    /// and not encoded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOutService>,
    /// Schema v3: what the ranking was computed from (none for a hand-made list
    /// and for a ranking recorded before v3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranked: Option<RankingBasis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRequested {
    pub referral: ReferralId,
    pub service: ServiceId,
    /// Whether this is the need case's first referral (time to referral counts from it).
    pub first: bool,
    /// What the recipient agreed to share with the service's organisation. Left
    /// out when referral only: events recorded before consent was (no key) read
    /// as referral only, and such an event encodes as before (no version bump).
    #[serde(default, skip_serializing_if = "ShareConsent::is_referral_only")]
    pub consent: ShareConsent,
}

/// The requester issued an answer link for the referral: a service without an
/// account answers through it until `expires_at`, unless a newer link replaced
/// it or the referral closed. The link's token is signed by the server and
/// never stored; the event records who issued which link, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerLinkIssued {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub link: AnswerLinkId,
    pub expires_at: DateTime<Utc>,
    /// The language its page opens in.
    pub lang: Lang,
}

/// The recipient withdrew their consent to share contact details: the referral's
/// consent is referral only from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralConsentWithdrawn {
    pub referral: ReferralId,
    pub service: ServiceId,
}

/// A note on a referral. Its text is sealed under the recipient's key (the
/// associated data binds the recipient and the note id), so erasing the
/// recipient makes it unreadable; no event carries a note in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralNoteAdded {
    pub referral: ReferralId,
    pub service: ServiceId,
    pub note: NoteId,
    /// Who wrote it: the requester (coordinators) or the performer (provider).
    pub side: Side,
    pub text: Sealed,
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
    ReferralConsentWithdrawn(ReferralConsentWithdrawn),
    AnswerLinkIssued(AnswerLinkIssued),
    ReferralNoteAdded(ReferralNoteAdded),
}
