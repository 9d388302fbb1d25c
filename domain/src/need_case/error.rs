//! Why a need-case command was refused, each with a stable machine-readable code.

use super::referral::ReferralStatus;
use super::state::NeedStatus;
use crate::aggregate::TimeRefusal;
use crate::ids::{NeedCaseId, ReferralId, ServiceId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NeedCaseError {
    #[error("the need case does not exist: identify the need first")]
    NotIdentified,
    #[error("need case {need_case} already exists")]
    AlreadyIdentified { need_case: NeedCaseId },
    #[error("the need case is {status}: it takes no further changes but markEnteredInError")]
    Finished { status: NeedStatus },
    #[error("the need case is entered-in-error: it takes no further changes")]
    EnteredInError,
    #[error("services must be suggested before a referral is requested")]
    NotSuggested,
    #[error("referral {open} is still open: a need case holds one open referral at a time")]
    ReferralAlreadyOpen { open: ReferralId },
    #[error("referral {referral} already exists in this need case")]
    ReferralIdTaken { referral: ReferralId },
    #[error("referral {referral} does not exist in this need case")]
    ReferralNotFound { referral: ReferralId },
    #[error("{command} is not allowed on referral {referral}: it is {from}")]
    TransitionNotAllowed {
        referral: ReferralId,
        from: ReferralStatus,
        command: &'static str,
    },
    #[error(
        "referral {referral} carries no consent to share contact details: there is nothing to withdraw"
    )]
    NoConsentToWithdraw { referral: ReferralId },
    #[error("an answer link is issued for an open referral only: referral {referral} is {status}")]
    ReferralNotOpen {
        referral: ReferralId,
        status: super::ReferralStatus,
    },
    #[error("an answer link must expire after it is issued and at most {max_days} days later")]
    AnswerLinkValidity { max_days: i64 },
    #[error("referral {open} is still open: close, cancel or fail it before closing the need case")]
    OpenReferralBlocksClose { open: ReferralId },
    #[error("a suggestion list needs at least one service")]
    NoSuggestions,
    #[error("a suggestion list holds at most {max} services, got {count}")]
    TooManySuggestions { count: usize, max: usize },
    #[error("service {service} is suggested twice")]
    DuplicateSuggestion { service: ServiceId },
    /// `occurred_at` breaks the time rule every command follows (future, floor,
    /// before the recipient's birth year).
    #[error(transparent)]
    Time(#[from] TimeRefusal),
    #[error(
        "occurred_at {occurred_at} lies before {previous}, when the {what} it follows happened"
    )]
    OccurredBeforePrevious {
        occurred_at: DateTime<Utc>,
        previous: DateTime<Utc>,
        what: &'static str,
    },
}

impl NeedCaseError {
    /// A stable machine-readable code for the API's `userErrors.code`.
    pub fn code(&self) -> &'static str {
        use NeedCaseError::*;
        match self {
            NotIdentified => "NEED_CASE_NOT_FOUND",
            AlreadyIdentified { .. } => "NEED_CASE_EXISTS",
            Finished { .. } => "NEED_CASE_FINISHED",
            EnteredInError => "NEED_CASE_ENTERED_IN_ERROR",
            NotSuggested => "SERVICES_NOT_SUGGESTED",
            ReferralAlreadyOpen { .. } => "REFERRAL_ALREADY_OPEN",
            ReferralIdTaken { .. } => "REFERRAL_EXISTS",
            ReferralNotFound { .. } => "REFERRAL_NOT_FOUND",
            TransitionNotAllowed { .. } => "TRANSITION_NOT_ALLOWED",
            OpenReferralBlocksClose { .. } => "OPEN_REFERRAL",
            NoConsentToWithdraw { .. } => "NO_CONSENT_TO_WITHDRAW",
            ReferralNotOpen { .. } => "REFERRAL_NOT_OPEN",
            AnswerLinkValidity { .. } => "ANSWER_LINK_VALIDITY",
            NoSuggestions => "EMPTY_SUGGESTIONS",
            TooManySuggestions { .. } => "TOO_MANY_SUGGESTIONS",
            DuplicateSuggestion { .. } => "DUPLICATE_SUGGESTION",
            Time(t) => t.code(),
            OccurredBeforePrevious { .. } => "OCCURRED_OUT_OF_ORDER",
        }
    }
}
