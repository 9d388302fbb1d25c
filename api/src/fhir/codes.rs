//! The code systems CareLedger defines (canonical URLs under
//! [`CANONICAL`]), and the mapping of its enumerations to FHIR codes: a
//! referral's status to `Task.status` and `ServiceRequest.status`, its end
//! reason to `Task.statusReason`, its outcome to `Task.output`.
//!
//! Canonical URLs name the definitions, not a deployment: they are the same on
//! every server (a resource's own address comes from `--public-url`).

use careledger_app::fhir::referrals::StatusMatch;
use careledger_domain::need_case::{Outcome, ReferralStatus};
use careledger_projections::casework::referral_log::EndReason;
use serde::Serialize;

/// Where CareLedger's definitions live.
pub const CANONICAL: &str = "https://fhir.careledger.eu";
/// The needs catalogue.
pub const NEEDS: &str = "https://fhir.careledger.eu/CodeSystem/needs";
/// The four domains of the catalogue (a `Condition.category`).
pub const NEED_DOMAINS: &str = "https://fhir.careledger.eu/CodeSystem/need-domains";
/// Why a referral was rejected, failed, cancelled or entered in error.
pub const STATUS_REASONS: &str = "https://fhir.careledger.eu/CodeSystem/referral-status-reasons";
/// How a completed referral met the need (`Task.output`).
pub const OUTCOMES: &str = "https://fhir.careledger.eu/CodeSystem/referral-outcomes";
/// `Task.businessStatus`: the states FHIR's Task status has no code for.
pub const BUSINESS_STATUS: &str = "https://fhir.careledger.eu/CodeSystem/referral-business-status";
/// What the recipient agreed to share with the performing organisation.
pub const SHARE_CONSENT: &str = "https://fhir.careledger.eu/CodeSystem/share-consent";
/// Hospital sites (the requesting side's identifier).
pub const SITES: &str = "https://fhir.careledger.eu/sites";
/// The directory's capacity status (a `HealthcareService.characteristic`).
pub const CAPACITY: &str = "https://fhir.careledger.eu/CodeSystem/service-capacity";
/// The waitlisted referral's estimated wait (an extension of `Task`).
pub const ESTIMATED_WAIT: &str = "https://fhir.careledger.eu/StructureDefinition/estimated-wait";
/// The recipient's age band at the need's identification (an extension of
/// `Task`, the performer's minimum necessary).
pub const AGE_BAND: &str = "https://fhir.careledger.eu/StructureDefinition/age-band";
/// The recipient's preferred language, a BCP 47 tag (an extension of `Task`).
pub const PREFERRED_LANGUAGE: &str =
    "https://fhir.careledger.eu/StructureDefinition/preferred-language";
/// Age bands.
pub const AGE_BANDS: &str = "https://fhir.careledger.eu/CodeSystem/age-bands";
/// The type of a `Task.output` holding the outcome.
pub const OUTPUT_TYPE: &str = "https://fhir.careledger.eu/CodeSystem/referral-output-types";

/// A serde-named enumeration's name as a FHIR code (`no_capacity` →
/// `no-capacity`).
pub fn code_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s.replace('_', "-"),
        _ => "unknown".to_string(),
    }
}

/// `Task.status` (the IG's value set): FHIR has no waitlisted status, so a
/// waitlisted referral is `accepted` before it started and `on-hold` after.
pub fn task_status(status: ReferralStatus, started: bool) -> &'static str {
    match status {
        ReferralStatus::OnHold if !started => "accepted",
        s => s.name(),
    }
}

/// `ServiceRequest.status`: what is asked stays active while the referral is
/// open; ends completed, revoked (rejected, cancelled, failed) or entered in
/// error.
pub fn service_request_status(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Requested
        | ReferralStatus::Accepted
        | ReferralStatus::OnHold
        | ReferralStatus::InProgress => "active",
        ReferralStatus::Completed => "completed",
        ReferralStatus::Rejected | ReferralStatus::Cancelled | ReferralStatus::Failed => "revoked",
        ReferralStatus::EnteredInError => "entered-in-error",
    }
}

/// A Task search's `status` code back to the referrals it covers: exactly
/// those shown with that status (`accepted` covers a waitlisted referral not
/// yet started; `on-hold` one waitlisted after it started).
pub fn statuses_for_task_code(code: &str) -> Option<Vec<StatusMatch>> {
    use ReferralStatus as S;
    let any = |status| StatusMatch {
        status,
        started: None,
    };
    Some(match code {
        "requested" => vec![any(S::Requested)],
        "accepted" => vec![
            any(S::Accepted),
            StatusMatch {
                status: S::OnHold,
                started: Some(false),
            },
        ],
        "on-hold" => vec![StatusMatch {
            status: S::OnHold,
            started: Some(true),
        }],
        "in-progress" => vec![any(S::InProgress)],
        "completed" => vec![any(S::Completed)],
        "rejected" => vec![any(S::Rejected)],
        "cancelled" => vec![any(S::Cancelled)],
        "failed" => vec![any(S::Failed)],
        "entered-in-error" => vec![any(S::EnteredInError)],
        // Statuses of the value set a referral never takes.
        "draft" | "received" | "ready" => vec![],
        _ => return None,
    })
}

/// `Task.statusReason`'s code and English display.
pub fn status_reason(reason: &EndReason) -> (String, String) {
    let (kind, code) = match reason {
        EndReason::Rejected(r) => ("rejected", code_of(r)),
        EndReason::Failed(r) => ("failed", code_of(r)),
        EndReason::Cancelled(by, r) => (
            match code_of(by).as_str() {
                "requester" => "cancelled-by-requester",
                "recipient" => "cancelled-by-recipient",
                _ => "cancelled-by-performer",
            },
            code_of(r),
        ),
        EndReason::EnteredInError(r) => ("entered-in-error", code_of(r)),
    };
    let display = format!("{} ({})", kind.replace('-', " "), code.replace('-', " "));
    (format!("{kind}.{code}"), display)
}

/// The outcome's code and English display.
pub fn outcome(o: Outcome) -> (String, &'static str) {
    let display = match o {
        Outcome::NeedMet => "need met",
        Outcome::NeedPartlyMet => "need partly met",
        Outcome::NeedNotMet => "need not met",
    };
    (code_of(&o), display)
}

#[cfg(test)]
mod tests {
    use super::*;
    use careledger_domain::need_case::{CancelReason, CancelledBy, RejectionReason};

    /// The IG's Task status value set (FHIR R4 task-status).
    const TASK_STATUSES: [&str; 12] = [
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    ];

    const ALL: [ReferralStatus; 9] = [
        ReferralStatus::Requested,
        ReferralStatus::Accepted,
        ReferralStatus::OnHold,
        ReferralStatus::InProgress,
        ReferralStatus::Completed,
        ReferralStatus::Rejected,
        ReferralStatus::Cancelled,
        ReferralStatus::Failed,
        ReferralStatus::EnteredInError,
    ];

    #[test]
    fn every_referral_status_is_a_task_status_of_the_value_set_and_searchable_by_it() {
        for s in ALL {
            for started in [false, true] {
                let code = task_status(s, started);
                assert!(TASK_STATUSES.contains(&code), "{s:?} → {code}");
                // Exactly the referrals shown with that code: this one, and no
                // referral of the same status shown with another code.
                let back = statuses_for_task_code(code).unwrap();
                assert!(
                    back.iter()
                        .any(|m| m.status == s && m.started.is_none_or(|x| x == started)),
                    "{code} does not find {s:?} (started {started})"
                );
                for other in TASK_STATUSES.iter().filter(|c| **c != code) {
                    let found = statuses_for_task_code(other).unwrap();
                    assert!(
                        !found
                            .iter()
                            .any(|m| m.status == s && m.started.is_none_or(|x| x == started)),
                        "{other} finds {s:?} (started {started}), shown as {code}"
                    );
                }
            }
        }
        for code in TASK_STATUSES {
            assert!(statuses_for_task_code(code).is_some(), "{code}");
        }
        assert_eq!(statuses_for_task_code("waitlisted"), None);
    }

    #[test]
    fn a_waitlisted_referral_is_accepted_before_it_started_and_on_hold_after() {
        assert_eq!(task_status(ReferralStatus::OnHold, false), "accepted");
        assert_eq!(task_status(ReferralStatus::OnHold, true), "on-hold");
        assert_eq!(task_status(ReferralStatus::InProgress, true), "in-progress");
    }

    #[test]
    fn reasons_are_coded_by_what_ended_the_referral() {
        assert_eq!(
            status_reason(&EndReason::Rejected(RejectionReason::NoCapacity)).0,
            "rejected.no-capacity"
        );
        assert_eq!(
            status_reason(&EndReason::Cancelled(
                CancelledBy::Performer,
                CancelReason::ReferredElsewhere
            ))
            .0,
            "cancelled-by-performer.referred-elsewhere"
        );
    }

    #[test]
    fn service_request_statuses_are_of_fhirs_request_status_value_set() {
        let set = [
            "draft",
            "active",
            "on-hold",
            "revoked",
            "completed",
            "entered-in-error",
            "unknown",
        ];
        for s in ALL {
            assert!(set.contains(&service_request_status(s)));
        }
    }
}
