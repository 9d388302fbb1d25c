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
//! Events carry no free text: the log is immutable, and free text invites personal
//! data that crypto-shredding could not erase. Every reason is an enumeration.

use crate::aggregate::{Aggregate, Command, EARLIEST_YEAR, TimeRefusal, check_occurred_at_for};
use crate::ids::{NeedCaseId, ReferralId, ServiceId};
use crate::recipient::RecipientProfile;
use crate::values::{AgeBand, NeedCode, NeedDomain};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// At most this many services in one suggestion list.
pub const MAX_SUGGESTIONS: usize = 50;

// ---------------------------------------------------------------------------
// Reasons and outcomes
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    NoCapacity,
    NotEligible,
    OutOfArea,
    MissingInformation,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    NoShow,
    Unreachable,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    Requester,
    Recipient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    NoLongerNeeded,
    ReferredElsewhere,
    RecipientUnwell,
    RecipientChangedMind,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NeedMet,
    NeedPartlyMet,
    NeedNotMet,
}

/// Why a need case was closed without (further) referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    ResolvedWithoutReferral,
    DeclinedByRecipient,
    NoServiceAvailable,
    Deceased,
    Moved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorReason {
    Duplicate,
    WrongRecipient,
    WrongNeed,
    WrongService,
    Other,
}

/// What an entered-in-error correction applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum ErrorTarget {
    NeedCase,
    Referral { referral: ReferralId },
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// One service in a suggestion list, with why it was suggested (reason codes) and,
/// when the matcher ranked it, its score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedService {
    pub service: ServiceId,
    pub reasons: Vec<String>,
    pub score: Option<u32>,
}

/// A service the matcher left out, with every reason (codes), so an auditor can see
/// why it was not proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOutService {
    pub service: ServiceId,
    pub reasons: Vec<String>,
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
    /// Records a ranked list of services, best first, and the services left out.
    SuggestServices {
        services: Vec<SuggestedService>,
        left_out: Vec<LeftOutService>,
    },
    RequestReferral {
        referral: ReferralId,
        service: ServiceId,
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

impl NeedCaseAction {
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
        }
    }
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

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
    pub requested_at: DateTime<Utc>,
    /// When its status last changed (in care time).
    pub changed_at: DateTime<Utc>,
    pub outcome: Option<Outcome>,
    pub estimated_wait_days: Option<u16>,
}

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
    pub recipient: RecipientProfile,
    pub identified_at: DateTime<Utc>,
    /// The latest suggestion list (empty before the first).
    pub suggestions: Vec<Suggestion>,
    /// The services the latest suggestion left out, with why.
    #[serde(default)]
    pub left_out: Vec<LeftOutService>,
    pub suggested_at: Option<DateTime<Utc>>,
    pub referrals: Vec<Referral>,
    pub closed: Option<(CloseReason, DateTime<Utc>)>,
    pub entered_in_error: bool,
}

/// Serialisable so read models can keep it in their snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NeedCase {
    data: Option<NeedCaseData>,
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

    pub fn referral(&self, id: ReferralId) -> Option<&Referral> {
        self.data.as_ref()?.referrals.iter().find(|r| r.id == id)
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

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
            NoSuggestions => "EMPTY_SUGGESTIONS",
            TooManySuggestions { .. } => "TOO_MANY_SUGGESTIONS",
            DuplicateSuggestion { .. } => "DUPLICATE_SUGGESTION",
            Time(t) => t.code(),
            OccurredBeforePrevious { .. } => "OCCURRED_OUT_OF_ORDER",
        }
    }
}

// ---------------------------------------------------------------------------
// Decide and apply
// ---------------------------------------------------------------------------

fn not_before(
    cmd_at: DateTime<Utc>,
    previous: DateTime<Utc>,
    what: &'static str,
) -> Result<(), NeedCaseError> {
    if cmd_at < previous {
        Err(NeedCaseError::OccurredBeforePrevious {
            occurred_at: cmd_at,
            previous,
            what,
        })
    } else {
        Ok(())
    }
}

impl NeedCase {
    /// Checks and builds the event for a command that moves one referral.
    fn move_referral(
        &self,
        d: &NeedCaseData,
        id: ReferralId,
        to: ReferralStatus,
        cmd: &Command<NeedCaseAction>,
        build: impl FnOnce(ServiceId) -> NeedCaseEvent,
    ) -> Result<Vec<NeedCaseEvent>, NeedCaseError> {
        let r = d
            .referrals
            .iter()
            .find(|r| r.id == id)
            .ok_or(NeedCaseError::ReferralNotFound { referral: id })?;
        if !referral_transition_allowed(r.status, to) {
            return Err(NeedCaseError::TransitionNotAllowed {
                referral: id,
                from: r.status,
                command: cmd.action.name(),
            });
        }
        not_before(cmd.occurred_at, r.changed_at, "referral's last change")?;
        Ok(vec![build(r.service)])
    }
}

impl Aggregate for NeedCase {
    type Action = NeedCaseAction;
    type Event = NeedCaseEvent;
    type Error = NeedCaseError;

    fn decide(&self, cmd: &Command<NeedCaseAction>) -> Result<Vec<NeedCaseEvent>, NeedCaseError> {
        use NeedCaseAction as A;
        use NeedCaseEvent as E;
        let birth_year = match (&cmd.action, &self.data) {
            (A::IdentifyNeed { recipient, .. }, _) => recipient.birth_year.year(),
            (_, Some(d)) => d.recipient.birth_year.year(),
            (_, None) => EARLIEST_YEAR,
        };
        check_occurred_at_for(cmd.occurred_at, cmd.now, birth_year)?;

        if let A::IdentifyNeed {
            need_case,
            recipient,
            need,
        } = &cmd.action
        {
            if self.data.is_some() {
                return Err(NeedCaseError::AlreadyIdentified {
                    need_case: *need_case,
                });
            }
            return Ok(vec![E::NeedIdentified(NeedIdentified {
                need_case: *need_case,
                need: need.clone(),
                domain: need.domain(),
                recipient: Box::new(recipient.clone()),
                age_band: recipient.age_band_at(cmd.occurred_at),
            })]);
        }

        let d = self.data.as_ref().ok_or(NeedCaseError::NotIdentified)?;
        let status = self.status().expect("identified");
        if status == NeedStatus::EnteredInError {
            return Err(NeedCaseError::EnteredInError);
        }
        let is_correction = matches!(cmd.action, A::MarkEnteredInError { .. });
        if status.is_finished() && !is_correction {
            return Err(NeedCaseError::Finished { status });
        }
        // A correction too cannot be dated before the record it corrects.
        not_before(cmd.occurred_at, d.identified_at, "need identification")?;

        match &cmd.action {
            A::IdentifyNeed { .. } => unreachable!("handled above"),
            A::SuggestServices { services, left_out } => {
                if services.is_empty() {
                    return Err(NeedCaseError::NoSuggestions);
                }
                if services.len() > MAX_SUGGESTIONS {
                    return Err(NeedCaseError::TooManySuggestions {
                        count: services.len(),
                        max: MAX_SUGGESTIONS,
                    });
                }
                for (i, s) in services.iter().enumerate() {
                    if services[..i].iter().any(|p| p.service == s.service) {
                        return Err(NeedCaseError::DuplicateSuggestion { service: s.service });
                    }
                }
                Ok(vec![E::ServicesSuggested(ServicesSuggested {
                    suggestions: services
                        .iter()
                        .enumerate()
                        .map(|(i, s)| Suggestion {
                            service: s.service,
                            rank: (i + 1) as u16,
                            reasons: s.reasons.clone(),
                            score: s.score,
                        })
                        .collect(),
                    left_out: left_out.clone(),
                })])
            }
            A::RequestReferral { referral, service } => {
                if d.suggestions.is_empty() {
                    return Err(NeedCaseError::NotSuggested);
                }
                if let Some(open) = self.open_referral() {
                    return Err(NeedCaseError::ReferralAlreadyOpen { open: open.id });
                }
                if d.referrals.iter().any(|r| r.id == *referral) {
                    return Err(NeedCaseError::ReferralIdTaken {
                        referral: *referral,
                    });
                }
                if let Some(at) = d.suggested_at {
                    not_before(cmd.occurred_at, at, "suggestion")?;
                }
                let first = !d
                    .referrals
                    .iter()
                    .any(|r| r.status != ReferralStatus::EnteredInError);
                Ok(vec![E::ReferralRequested(ReferralRequested {
                    referral: *referral,
                    service: *service,
                    first,
                })])
            }
            A::AcceptReferral { referral } => {
                self.move_referral(d, *referral, ReferralStatus::Accepted, cmd, |service| {
                    E::ReferralAccepted(ReferralAccepted {
                        referral: *referral,
                        service,
                    })
                })
            }
            A::RejectReferral { referral, reason } => {
                self.move_referral(d, *referral, ReferralStatus::Rejected, cmd, |service| {
                    E::ReferralRejected(ReferralRejected {
                        referral: *referral,
                        service,
                        reason: *reason,
                    })
                })
            }
            A::WaitlistReferral {
                referral,
                estimated_wait_days,
            } => self.move_referral(d, *referral, ReferralStatus::OnHold, cmd, |service| {
                E::ReferralWaitlisted(ReferralWaitlisted {
                    referral: *referral,
                    service,
                    estimated_wait_days: *estimated_wait_days,
                })
            }),
            A::StartReferral { referral } => {
                self.move_referral(d, *referral, ReferralStatus::InProgress, cmd, |service| {
                    E::ReferralStarted(ReferralStarted {
                        referral: *referral,
                        service,
                    })
                })
            }
            A::CompleteReferral { referral, outcome } => {
                self.move_referral(d, *referral, ReferralStatus::Completed, cmd, |service| {
                    E::ReferralCompleted(ReferralCompleted {
                        referral: *referral,
                        service,
                        outcome: *outcome,
                    })
                })
            }
            A::FailReferral { referral, reason } => {
                self.move_referral(d, *referral, ReferralStatus::Failed, cmd, |service| {
                    E::ReferralFailed(ReferralFailed {
                        referral: *referral,
                        service,
                        reason: *reason,
                    })
                })
            }
            A::CancelReferral {
                referral,
                by,
                reason,
            } => self.move_referral(d, *referral, ReferralStatus::Cancelled, cmd, |service| {
                E::ReferralCancelled(ReferralCancelled {
                    referral: *referral,
                    service,
                    by: *by,
                    reason: *reason,
                })
            }),
            A::CloseNeed { reason } => {
                if let Some(open) = self.open_referral() {
                    return Err(NeedCaseError::OpenReferralBlocksClose { open: open.id });
                }
                Ok(vec![E::NeedClosed(NeedClosed { reason: *reason })])
            }
            A::MarkEnteredInError { target, reason } => {
                if let ErrorTarget::Referral { referral } = target {
                    let r = self
                        .referral(*referral)
                        .ok_or(NeedCaseError::ReferralNotFound {
                            referral: *referral,
                        })?;
                    not_before(cmd.occurred_at, r.requested_at, "the referral's request")?;
                    if !referral_transition_allowed(r.status, ReferralStatus::EnteredInError) {
                        return Err(NeedCaseError::TransitionNotAllowed {
                            referral: *referral,
                            from: r.status,
                            command: cmd.action.name(),
                        });
                    }
                }
                Ok(vec![E::EnteredInError(EnteredInError {
                    target: *target,
                    reason: *reason,
                })])
            }
        }
    }

    fn apply(&mut self, event: &NeedCaseEvent, at: DateTime<Utc>) {
        use NeedCaseEvent as E;
        if let E::NeedIdentified(e) = event {
            self.data = Some(NeedCaseData {
                id: e.need_case,
                need: e.need.clone(),
                domain: e.domain,
                recipient: (*e.recipient).clone(),
                identified_at: at,
                suggestions: Vec::new(),
                left_out: Vec::new(),
                suggested_at: None,
                referrals: Vec::new(),
                closed: None,
                entered_in_error: false,
            });
            return;
        }
        let Some(d) = self.data.as_mut() else {
            // A stream that does not start with NeedIdentified is not one `decide`
            // could have written; ignoring the event keeps `apply` total.
            return;
        };
        fn set(
            d: &mut NeedCaseData,
            id: ReferralId,
            status: ReferralStatus,
            at: DateTime<Utc>,
        ) -> Option<&mut Referral> {
            let r = d.referrals.iter_mut().find(|r| r.id == id)?;
            r.status = status;
            r.changed_at = at;
            Some(r)
        }
        match event {
            E::NeedIdentified(_) => unreachable!("handled above"),
            E::ServicesSuggested(e) => {
                d.suggestions = e.suggestions.clone();
                d.left_out = e.left_out.clone();
                d.suggested_at = Some(at);
            }
            E::ReferralRequested(e) => {
                // A need case seldom has more than one referral: grow one at a time
                // (read models keep a million of these).
                d.referrals.reserve_exact(1);
                d.referrals.push(Referral {
                    id: e.referral,
                    service: e.service,
                    status: ReferralStatus::Requested,
                    requested_at: at,
                    changed_at: at,
                    outcome: None,
                    estimated_wait_days: None,
                });
            }
            E::ReferralAccepted(e) => {
                set(d, e.referral, ReferralStatus::Accepted, at);
            }
            E::ReferralRejected(e) => {
                set(d, e.referral, ReferralStatus::Rejected, at);
            }
            E::ReferralWaitlisted(e) => {
                if let Some(r) = set(d, e.referral, ReferralStatus::OnHold, at) {
                    r.estimated_wait_days = e.estimated_wait_days;
                }
            }
            E::ReferralStarted(e) => {
                set(d, e.referral, ReferralStatus::InProgress, at);
            }
            E::ReferralCompleted(e) => {
                if let Some(r) = set(d, e.referral, ReferralStatus::Completed, at) {
                    r.outcome = Some(e.outcome);
                }
            }
            E::ReferralFailed(e) => {
                set(d, e.referral, ReferralStatus::Failed, at);
            }
            E::ReferralCancelled(e) => {
                set(d, e.referral, ReferralStatus::Cancelled, at);
            }
            E::NeedClosed(e) => d.closed = Some((e.reason, at)),
            E::EnteredInError(e) => match e.target {
                ErrorTarget::NeedCase => d.entered_in_error = true,
                ErrorTarget::Referral { referral } => {
                    set(d, referral, ReferralStatus::EnteredInError, at);
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
