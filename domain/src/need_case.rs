//! Need cases and the referrals inside them. Stream `need-<uuid>`.
//!
//! ```text
//! need case:  Identified ──suggest──▶ Suggested ──refer──▶ Referred ──(referral completes)──▶ Completed
//!                  └─────────────── close (with reason) ─────────────────────────────────────▶ Closed
//! referral:   requested ─▶ accepted ─▶ in-progress ─▶ completed (met / partly met / not met)
//!             accepted ⇄ on-hold ⇄ in-progress;  requested ─▶ rejected | cancelled;
//!             accepted | in-progress | on-hold ─▶ failed;  any ─▶ entered-in-error
//! ```
//!
//! The need case's status is *derived* from what it holds (see [`NeedCase::status`]),
//! so correcting a referral with entered-in-error reopens a need case that referral
//! had completed, without a special case.
//!
//! Events carry no free text in clear: the log is immutable, and free text invites
//! personal data that crypto-shredding could not erase. Every reason is an
//! enumeration; the one free text, a note on a referral, is sealed under the
//! recipient's key before its event is decided (`ReferralNoteAdded`).

mod command;
mod error;
mod event;
mod lifecycle;
mod note;
mod reason;
mod referral;
mod state;

pub use command::{
    LeftOutService, MAX_ANSWER_LINK_DAYS, MAX_SUGGESTIONS, NeedCaseAction, RankingBasis, Side,
    SuggestedService,
};
pub use error::NeedCaseError;
pub use event::{
    AnswerLinkIssued, EnteredInError, NeedCaseEvent, NeedClosed, NeedIdentified, ReferralAccepted,
    ReferralCancelled, ReferralCompleted, ReferralConsentWithdrawn, ReferralFailed,
    ReferralNoteAdded, ReferralRejected, ReferralRequested, ReferralStarted, ReferralWaitlisted,
    ServicesSuggested, Suggestion,
};
pub use note::{MAX_NOTE_CHARS, NoteText, NoteTextError};
pub use reason::{
    CancelReason, CancelledBy, CloseReason, ErrorReason, ErrorTarget, FailureReason, Outcome,
    RejectionReason, ShareConsent,
};
pub use referral::{AnswerLink, Referral, ReferralStatus, referral_transition_allowed};
pub use state::{NeedCase, NeedCaseData, NeedStatus};

#[cfg(test)]
mod tests;
