//! Tests of the need-case lifecycle, by feature: the happy paths, the refusals and
//! the properties (random command sequences against an independent restatement of
//! the referral table). The helpers below build commands and events for all three.

use super::*;
use crate::aggregate::TimeRefusal;
use crate::aggregate::testing::given;
use crate::aggregate::{Aggregate, Command};
use crate::ids::RecipientId;
use crate::ids::{NeedCaseId, ReferralId, ServiceId};
use crate::recipient::tests::{profile, t};
use crate::values::{AgeBand, NeedCode, NeedDomain};
use chrono::Duration;
use chrono::{DateTime, Utc};
use uuid::Uuid;

mod happy_paths;
mod links;
mod properties;
mod refusals;
mod sharing;
mod sides;

fn nc() -> NeedCaseId {
    NeedCaseId::from_uuid(Uuid::from_u128(1))
}
fn rid(n: u128) -> ReferralId {
    ReferralId::from_uuid(Uuid::from_u128(100 + n))
}
fn svc(n: u128) -> ServiceId {
    ServiceId::from_uuid(Uuid::from_u128(200 + n))
}
fn need() -> NeedCode {
    NeedCode::parse("psy.fear-of-recurrence").unwrap()
}
fn cmd(action: NeedCaseAction, day: u32) -> Command<NeedCaseAction> {
    Command {
        action,
        occurred_at: t(day),
        now: t(28),
    }
}

fn identified() -> NeedCaseEvent {
    NeedCaseEvent::NeedIdentified(NeedIdentified {
        need_case: nc(),
        need: need(),
        domain: NeedDomain::Psychosocial,
        recipient: Box::new(profile(RecipientId::from_uuid(Uuid::from_u128(7)))),
        age_band: AgeBand::From65To74,
    })
}
fn suggested() -> NeedCaseEvent {
    NeedCaseEvent::ServicesSuggested(ServicesSuggested {
        left_out: vec![],
        ranked: None,
        suggestions: vec![
            Suggestion {
                score: None,
                service: svc(1),
                rank: 1,
                reasons: ["addresses_need".into()].into(),
            },
            Suggestion {
                score: None,
                service: svc(2),
                rank: 2,
                reasons: Box::default(),
            },
        ],
    })
}
fn requested(n: u128, first: bool) -> NeedCaseEvent {
    NeedCaseEvent::ReferralRequested(ReferralRequested {
        referral: rid(n),
        service: svc(1),
        first,
        consent: ShareConsent::ReferralOnly,
    })
}
fn accepted(n: u128) -> NeedCaseEvent {
    NeedCaseEvent::ReferralAccepted(ReferralAccepted {
        referral: rid(n),
        service: svc(1),
    })
}
fn started(n: u128) -> NeedCaseEvent {
    NeedCaseEvent::ReferralStarted(ReferralStarted {
        referral: rid(n),
        service: svc(1),
    })
}
fn waitlisted(n: u128) -> NeedCaseEvent {
    NeedCaseEvent::ReferralWaitlisted(ReferralWaitlisted {
        referral: rid(n),
        service: svc(1),
        estimated_wait_days: Some(21),
    })
}
fn rejected(n: u128) -> NeedCaseEvent {
    NeedCaseEvent::ReferralRejected(ReferralRejected {
        referral: rid(n),
        service: svc(1),
        reason: RejectionReason::NoCapacity,
    })
}
fn completed(n: u128) -> NeedCaseEvent {
    NeedCaseEvent::ReferralCompleted(ReferralCompleted {
        referral: rid(n),
        service: svc(1),
        outcome: Outcome::NeedMet,
    })
}

/// History up to a referral in a given status, each event a day apart from day 1.
fn history(upto: &[NeedCaseEvent]) -> Vec<(NeedCaseEvent, DateTime<Utc>)> {
    upto.iter()
        .enumerate()
        .map(|(i, e)| (e.clone(), t(1 + i as u32)))
        .collect()
}

fn to_status(status: ReferralStatus) -> Vec<(NeedCaseEvent, DateTime<Utc>)> {
    use ReferralStatus::*;
    let mut ev = vec![identified(), suggested(), requested(1, true)];
    match status {
        Requested => {}
        Accepted => ev.push(accepted(1)),
        OnHold => ev.extend([accepted(1), waitlisted(1)]),
        InProgress => ev.extend([accepted(1), started(1)]),
        Completed => ev.extend([accepted(1), started(1), completed(1)]),
        Rejected => ev.push(rejected(1)),
        Cancelled => ev.push(NeedCaseEvent::ReferralCancelled(ReferralCancelled {
            referral: rid(1),
            service: svc(1),
            by: CancelledBy::Recipient,
            reason: CancelReason::NoLongerNeeded,
        })),
        Failed => ev.extend([
            accepted(1),
            NeedCaseEvent::ReferralFailed(ReferralFailed {
                referral: rid(1),
                service: svc(1),
                reason: FailureReason::NoShow,
            }),
        ]),
        EnteredInError => ev.push(NeedCaseEvent::EnteredInError(super::EnteredInError {
            target: ErrorTarget::Referral { referral: rid(1) },
            reason: ErrorReason::Duplicate,
        })),
    }
    history(&ev)
}
