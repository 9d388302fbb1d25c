//! What a need case can be asked to do ([`NeedCaseAction`]) and the suggestion
//! lists a command carries.

use super::reason::{
    CancelReason, CancelledBy, CloseReason, ErrorReason, ErrorTarget, FailureReason, Outcome,
    RejectionReason, ShareConsent,
};
use crate::ids::{NeedCaseId, NoteId, ReferralId, ServiceId};
use crate::personal::Sealed;
use crate::recipient::RecipientProfile;
use crate::values::NeedCode;
use serde::{Deserialize, Serialize};

/// At most this many services in one suggestion list.
/// The longest an answer link may be valid, in days.
pub const MAX_ANSWER_LINK_DAYS: i64 = 90;

pub const MAX_SUGGESTIONS: usize = 50;

/// One service in a suggestion list, with why it was suggested (reason codes) and,
/// when the matcher ranked it, its score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedService {
    pub service: ServiceId,
    pub reasons: Vec<String>,
    pub score: Option<u32>,
}

/// A service the matcher left out, with every reason (codes), so an auditor can see
/// why it was not proposed (stored in `ServicesSuggested` up to schema v2,
/// recomputed since).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOutService {
    pub service: ServiceId,
    pub reasons: Vec<String>,
}

/// What a ranking was computed from: with it, the services the ranking left out
/// (and why) are recomputed on demand from the directory as it was, instead of
/// being stored (they grow with the directory). Schema v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingBasis {
    /// The global log position the directory's read model had reached when it
    /// was ranked: every service event up to it counted, none after.
    pub directory_position: u64,
    /// `matching::MATCHER_VERSION` of the build that ranked.
    pub matcher_version: u32,
    /// The matcher's today (the recipient's age is counted at it).
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NeedCaseAction {
    /// Opens the need case. The caller resolves the recipient (must be registered)
    /// and the need code (must be in the catalogue) first.
    IdentifyNeed {
        need_case: NeedCaseId,
        recipient: RecipientProfile,
        need: NeedCode,
    },
    /// Records a list of services, best first; a ranking the matcher made says
    /// what it was computed from (its left-out services are recomputed from it).
    SuggestServices {
        services: Vec<SuggestedService>,
        ranked: Option<RankingBasis>,
    },
    RequestReferral {
        referral: ReferralId,
        service: ServiceId,
        /// What the recipient agreed to share with the service's organisation.
        consent: ShareConsent,
    },
    /// Issues an answer link for an open referral (requester side), valid until
    /// `expires_at` (after the command's time, at most
    /// [`MAX_ANSWER_LINK_DAYS`] later); it replaces any earlier link.
    IssueAnswerLink {
        referral: ReferralId,
        link: crate::ids::AnswerLinkId,
        expires_at: chrono::DateTime<chrono::Utc>,
        lang: crate::values::Lang,
    },
    /// The recipient withdrew their consent to share contact details with the
    /// organisation the referral is addressed to (requester side only).
    WithdrawConsent {
        referral: ReferralId,
    },
    /// A note on a referral, between the requester and the performer: its text
    /// sealed under the recipient's key by the caller (never in clear here).
    AddReferralNote {
        referral: ReferralId,
        note: NoteId,
        /// Who writes it: the coordinators (requester) or the provider (performer).
        side: Side,
        text: Sealed,
    },
    AcceptReferral {
        referral: ReferralId,
    },
    RejectReferral {
        referral: ReferralId,
        reason: RejectionReason,
    },
    WaitlistReferral {
        referral: ReferralId,
        estimated_wait_days: Option<u16>,
    },
    StartReferral {
        referral: ReferralId,
    },
    CompleteReferral {
        referral: ReferralId,
        outcome: Outcome,
    },
    FailReferral {
        referral: ReferralId,
        reason: FailureReason,
    },
    CancelReferral {
        referral: ReferralId,
        by: CancelledBy,
        reason: CancelReason,
    },
    CloseNeed {
        reason: CloseReason,
    },
    MarkEnteredInError {
        target: ErrorTarget,
        reason: ErrorReason,
    },
}

/// The side of a referral a command acts for (HL7 FHIR SDOH Clinical Care IG,
/// *Task for referral management*, "Set By"): the requester asks, cancels and
/// marks errors; the performer — the organisation the referral is addressed to —
/// accepts, rejects, waitlists, starts, completes and fails; either cancels.
/// Who recorded it (a provider, or a coordinator on the performer's behalf, e.g.
/// an answer given by phone) is the event's actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Requester,
    Performer,
}

impl NeedCaseAction {
    /// The side this command acts for (see [`Side`]).
    pub fn side(&self) -> Side {
        use NeedCaseAction as A;
        match self {
            A::AcceptReferral { .. }
            | A::RejectReferral { .. }
            | A::WaitlistReferral { .. }
            | A::StartReferral { .. }
            | A::CompleteReferral { .. }
            | A::FailReferral { .. }
            | A::CancelReferral {
                by: CancelledBy::Performer,
                ..
            } => Side::Performer,
            A::AddReferralNote { side, .. } => *side,
            A::IdentifyNeed { .. }
            | A::WithdrawConsent { .. }
            | A::IssueAnswerLink { .. }
            | A::SuggestServices { .. }
            | A::RequestReferral { .. }
            | A::CancelReferral { .. }
            | A::CloseNeed { .. }
            | A::MarkEnteredInError { .. } => Side::Requester,
        }
    }

    /// The referral a command acts on, if it acts on one that exists.
    pub fn referral(&self) -> Option<ReferralId> {
        use NeedCaseAction as A;
        match self {
            A::AcceptReferral { referral }
            | A::RejectReferral { referral, .. }
            | A::WaitlistReferral { referral, .. }
            | A::StartReferral { referral }
            | A::CompleteReferral { referral, .. }
            | A::FailReferral { referral, .. }
            | A::CancelReferral { referral, .. }
            | A::WithdrawConsent { referral }
            | A::IssueAnswerLink { referral, .. }
            | A::AddReferralNote { referral, .. } => Some(*referral),
            A::MarkEnteredInError {
                target: ErrorTarget::Referral { referral },
                ..
            } => Some(*referral),
            _ => None,
        }
    }

    /// The command's name as used in error messages and the API.
    pub fn name(&self) -> &'static str {
        match self {
            NeedCaseAction::IdentifyNeed { .. } => "identifyNeed",
            NeedCaseAction::SuggestServices { .. } => "suggestServices",
            NeedCaseAction::RequestReferral { .. } => "requestReferral",
            NeedCaseAction::AcceptReferral { .. } => "acceptReferral",
            NeedCaseAction::RejectReferral { .. } => "rejectReferral",
            NeedCaseAction::WaitlistReferral { .. } => "waitlistReferral",
            NeedCaseAction::StartReferral { .. } => "startReferral",
            NeedCaseAction::CompleteReferral { .. } => "completeReferral",
            NeedCaseAction::FailReferral { .. } => "failReferral",
            NeedCaseAction::CancelReferral { .. } => "cancelReferral",
            NeedCaseAction::CloseNeed { .. } => "closeNeed",
            NeedCaseAction::MarkEnteredInError { .. } => "markEnteredInError",
            NeedCaseAction::WithdrawConsent { .. } => "withdrawReferralConsent",
            NeedCaseAction::IssueAnswerLink { .. } => "issueAnswerLink",
            NeedCaseAction::AddReferralNote { .. } => "addReferralNote",
        }
    }
}
