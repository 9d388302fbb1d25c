//! What the log knows of each referral that the domain's state does not keep:
//! the stream version and server time of its latest change, whether it was ever
//! started, why it ended (the coded reason of a rejection, failure,
//! cancellation or correction) and when its consent last changed. The FHIR
//! interface shows these as `meta.versionId`, `meta.lastUpdated`,
//! `Task.statusReason` and the waitlisted referral's Task status (`accepted`
//! before it started, `on-hold` after).

use careledger_domain::ids::ReferralId;
use careledger_domain::need_case::{
    CancelReason, CancelledBy, ErrorReason, FailureReason, NeedCaseEvent, RejectionReason,
};
use careledger_domain::store::RecordedEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a referral ended, as its last event coded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Rejected(RejectionReason),
    Failed(FailureReason),
    Cancelled(CancelledBy, CancelReason),
    EnteredInError(ErrorReason),
}

/// One referral's log facts (see the module's doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralLog {
    pub referral: ReferralId,
    /// The need case stream's version at the referral's latest change.
    pub version: u64,
    /// The server's time of that change (when it became readable).
    #[serde(with = "careledger_domain::timestamp::compact")]
    pub recorded_at: DateTime<Utc>,
    /// It was started (in progress) at least once.
    pub started: bool,
    pub end_reason: Option<EndReason>,
    /// Version and server time of the latest change to its consent (the
    /// request, or a withdrawal).
    pub consent_version: u64,
    #[serde(with = "careledger_domain::timestamp::compact")]
    pub consent_recorded_at: DateTime<Utc>,
}

/// The referral an event changes, for the log facts: its lifecycle moves and
/// its consent (notes and answer links change neither the Task nor the Consent).
fn touched(ev: &NeedCaseEvent) -> Option<ReferralId> {
    match ev {
        NeedCaseEvent::ReferralConsentWithdrawn(e) => Some(e.referral),
        _ => super::fold::referral_of(ev),
    }
}

/// Folds `ev` (the domain event of `e`) into `logs`. Returns the referral whose
/// Task changed, if one did (a consent withdrawal changes only the Consent).
pub fn record(
    logs: &mut Box<[ReferralLog]>,
    ev: &NeedCaseEvent,
    e: &RecordedEvent,
) -> Option<ReferralId> {
    let referral = touched(ev)?;
    let at = match logs.iter().position(|l| l.referral == referral) {
        Some(i) => i,
        None => {
            // Exactly one more (a push would make room for four).
            let mut grown = std::mem::take(logs).into_vec();
            grown.reserve_exact(1);
            grown.push(ReferralLog {
                referral,
                version: e.version,
                recorded_at: e.recorded_at,
                started: false,
                end_reason: None,
                consent_version: e.version,
                consent_recorded_at: e.recorded_at,
            });
            *logs = grown.into_boxed_slice();
            logs.len() - 1
        }
    };
    let log = &mut logs[at];
    use NeedCaseEvent as E;
    match ev {
        E::ReferralConsentWithdrawn(_) => {
            log.consent_version = e.version;
            log.consent_recorded_at = e.recorded_at;
            return None;
        }
        E::ReferralStarted(_) => log.started = true,
        E::ReferralRejected(r) => log.end_reason = Some(EndReason::Rejected(r.reason)),
        E::ReferralFailed(r) => log.end_reason = Some(EndReason::Failed(r.reason)),
        E::ReferralCancelled(r) => log.end_reason = Some(EndReason::Cancelled(r.by, r.reason)),
        E::EnteredInError(r) => log.end_reason = Some(EndReason::EnteredInError(r.reason)),
        _ => {}
    }
    log.version = e.version;
    log.recorded_at = e.recorded_at;
    Some(referral)
}
