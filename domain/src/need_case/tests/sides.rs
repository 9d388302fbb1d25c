//! The HL7 FHIR SDOH Clinical Care IG's "Set By" column (Task for referral
//! management), restated independently: which side of a referral each command
//! acts for.

use crate::ids::{ReferralId, ServiceId};
use crate::need_case::*;
use uuid::Uuid;

#[test]
fn each_command_acts_for_the_side_the_ig_names() {
    let referral = ReferralId::from_uuid(Uuid::now_v7());
    let cancel = |by| NeedCaseAction::CancelReferral {
        referral,
        by,
        reason: CancelReason::NoLongerNeeded,
    };
    let performer = [
        NeedCaseAction::AcceptReferral { referral },
        NeedCaseAction::RejectReferral {
            referral,
            reason: RejectionReason::NoCapacity,
        },
        NeedCaseAction::WaitlistReferral {
            referral,
            estimated_wait_days: Some(10),
        },
        NeedCaseAction::StartReferral { referral },
        NeedCaseAction::CompleteReferral {
            referral,
            outcome: Outcome::NeedMet,
        },
        NeedCaseAction::FailReferral {
            referral,
            reason: FailureReason::NoShow,
        },
        cancel(CancelledBy::Performer),
    ];
    for a in &performer {
        assert_eq!(a.side(), Side::Performer, "{}", a.name());
        assert_eq!(a.referral(), Some(referral), "{}", a.name());
    }
    let requester = [
        NeedCaseAction::RequestReferral {
            referral,
            service: ServiceId::from_uuid(Uuid::now_v7()),
            consent: ShareConsent::ReferralOnly,
        },
        cancel(CancelledBy::Requester),
        cancel(CancelledBy::Recipient),
        NeedCaseAction::CloseNeed {
            reason: CloseReason::Moved,
        },
        NeedCaseAction::MarkEnteredInError {
            target: ErrorTarget::Referral { referral },
            reason: ErrorReason::Duplicate,
        },
        NeedCaseAction::MarkEnteredInError {
            target: ErrorTarget::NeedCase,
            reason: ErrorReason::Duplicate,
        },
        NeedCaseAction::SuggestServices {
            services: vec![],
            ranked: None,
        },
    ];
    for a in &requester {
        assert_eq!(a.side(), Side::Requester, "{}", a.name());
    }
}
