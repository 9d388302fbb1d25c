//! Decide and apply: the rules that turn a command into events (or a refusal) and
//! fold each event into the state.

use super::command::{MAX_ANSWER_LINK_DAYS, MAX_SUGGESTIONS, NeedCaseAction};
use super::error::NeedCaseError;
use super::event::{
    AnswerLinkIssued, EnteredInError, NeedCaseEvent, NeedClosed, NeedIdentified, ReferralAccepted,
    ReferralCancelled, ReferralCompleted, ReferralConsentWithdrawn, ReferralFailed,
    ReferralNoteAdded, ReferralRejected, ReferralRequested, ReferralStarted, ReferralWaitlisted,
    ServicesSuggested, Suggestion,
};
use super::reason::{ErrorTarget, ShareConsent};
use super::referral::{Referral, ReferralStatus, referral_transition_allowed};
use super::state::{NeedCase, NeedCaseData, NeedStatus};
use crate::aggregate::{Aggregate, Command, EARLIEST_YEAR, check_occurred_at_for};
use crate::ids::{ReferralId, ServiceId};
use chrono::{DateTime, Utc};

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

    /// The referral a consent withdrawal or a note is about: it must exist, not
    /// be entered-in-error, and the command may not be dated before its request.
    /// Its status does not matter otherwise (a recipient withdraws consent, and
    /// the two sides write notes, after a referral closed too).
    fn referral_to_share<'a>(
        d: &'a NeedCaseData,
        id: ReferralId,
        cmd: &Command<NeedCaseAction>,
    ) -> Result<&'a Referral, NeedCaseError> {
        let r = d
            .referrals
            .iter()
            .find(|r| r.id == id)
            .ok_or(NeedCaseError::ReferralNotFound { referral: id })?;
        if r.status == ReferralStatus::EnteredInError {
            return Err(NeedCaseError::TransitionNotAllowed {
                referral: id,
                from: r.status,
                command: cmd.action.name(),
            });
        }
        not_before(cmd.occurred_at, r.requested_at, "the referral's request")?;
        Ok(r)
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
        // A correction, a consent withdrawal and a note apply to finished need
        // cases too.
        let after_finish = matches!(
            cmd.action,
            A::MarkEnteredInError { .. } | A::WithdrawConsent { .. } | A::AddReferralNote { .. }
        );
        if status.is_finished() && !after_finish {
            return Err(NeedCaseError::Finished { status });
        }
        // A correction too cannot be dated before the record it corrects.
        not_before(cmd.occurred_at, d.identified_at, "need identification")?;

        match &cmd.action {
            A::IdentifyNeed { .. } => unreachable!("handled above"),
            A::SuggestServices { services, ranked } => {
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
                            reasons: s.reasons.iter().map(|r| r.as_str().into()).collect(),
                            score: s.score,
                        })
                        .collect(),
                    left_out: Vec::new(),
                    ranked: *ranked,
                })])
            }
            A::RequestReferral {
                referral,
                service,
                consent,
            } => {
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
                    consent: *consent,
                })])
            }
            A::IssueAnswerLink {
                referral,
                link,
                expires_at,
                lang,
            } => {
                let r = Self::referral_to_share(d, *referral, cmd)?;
                if !r.status.is_open() {
                    return Err(NeedCaseError::ReferralNotOpen {
                        referral: *referral,
                        status: r.status,
                    });
                }
                let latest = cmd.occurred_at + chrono::Duration::days(MAX_ANSWER_LINK_DAYS);
                if *expires_at <= cmd.occurred_at || *expires_at > latest {
                    return Err(NeedCaseError::AnswerLinkValidity {
                        max_days: MAX_ANSWER_LINK_DAYS,
                    });
                }
                Ok(vec![E::AnswerLinkIssued(AnswerLinkIssued {
                    referral: *referral,
                    service: r.service,
                    link: *link,
                    expires_at: *expires_at,
                    lang: *lang,
                })])
            }
            A::WithdrawConsent { referral } => {
                let r = Self::referral_to_share(d, *referral, cmd)?;
                if r.consent != ShareConsent::ReferralAndContact {
                    return Err(NeedCaseError::NoConsentToWithdraw {
                        referral: *referral,
                    });
                }
                Ok(vec![E::ReferralConsentWithdrawn(
                    ReferralConsentWithdrawn {
                        referral: *referral,
                        service: r.service,
                    },
                )])
            }
            A::AddReferralNote {
                referral,
                note,
                side,
                text,
            } => {
                let r = Self::referral_to_share(d, *referral, cmd)?;
                Ok(vec![E::ReferralNoteAdded(ReferralNoteAdded {
                    referral: *referral,
                    service: r.service,
                    note: *note,
                    side: *side,
                    text: text.clone(),
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
                recipient: std::sync::Arc::new((*e.recipient).clone()),
                identified_at: at,
                suggestions: Box::default(),
                suggested_at: None,
                referrals: Box::default(),
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
                d.suggestions = e.suggestions.as_slice().into();
                d.suggested_at = Some(at);
            }
            E::ReferralRequested(e) => {
                // Exactly one more: a need case has a referral or two, and a
                // read model holds a million of them (a push would make room
                // for four; a boxed slice keeps no room at all).
                let mut referrals = std::mem::take(&mut d.referrals).into_vec();
                referrals.reserve_exact(1);
                referrals.push(Referral {
                    id: e.referral,
                    service: e.service,
                    status: ReferralStatus::Requested,
                    requested_at: at,
                    changed_at: at,
                    outcome: None,
                    estimated_wait_days: None,
                    consent: e.consent,
                    answer_link: None,
                });
                d.referrals = referrals.into_boxed_slice();
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
            E::ReferralConsentWithdrawn(e) => {
                // Not a status change: `changed_at` stays.
                if let Some(r) = d.referrals.iter_mut().find(|r| r.id == e.referral) {
                    r.consent = ShareConsent::ReferralOnly;
                }
            }
            E::AnswerLinkIssued(e) => {
                // Not a status change: `changed_at` stays.
                if let Some(r) = d.referrals.iter_mut().find(|r| r.id == e.referral) {
                    r.answer_link = Some(Box::new(super::referral::AnswerLink {
                        link: e.link,
                        expires_at: e.expires_at,
                        lang: e.lang,
                    }));
                }
            }
            // Notes are kept by the read models (sealed), not by the state `decide` needs.
            E::ReferralNoteAdded(_) => {}
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
