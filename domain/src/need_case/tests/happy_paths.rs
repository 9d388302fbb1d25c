//! The happy paths: each drawn move emits its event and sets the status.

use super::*;

#[test]
fn identifying_a_need_records_the_recipient_snapshot_and_age_band() {
    let state = given::<NeedCase>(&[])
        .when(cmd(
            NeedCaseAction::IdentifyNeed {
                need_case: nc(),
                recipient: profile(RecipientId::from_uuid(Uuid::from_u128(7))),
                need: need(),
            },
            1,
        ))
        .then_expect_events(vec![identified()]);
    assert_eq!(state.status(), Some(NeedStatus::Identified));
}

#[test]
fn suggesting_ranks_services_in_the_given_order() {
    let state = given::<NeedCase>(&history(&[identified()]))
        .when(cmd(
            NeedCaseAction::SuggestServices {
                ranked: None,
                services: vec![
                    SuggestedService {
                        score: None,
                        service: svc(1),
                        reasons: vec!["addresses_need".into()],
                    },
                    SuggestedService {
                        score: None,
                        service: svc(2),
                        reasons: vec![],
                    },
                ],
            },
            2,
        ))
        .then_expect_events(vec![suggested()]);
    assert_eq!(state.status(), Some(NeedStatus::Suggested));
}

#[test]
fn suggesting_again_replaces_the_list() {
    let state = given::<NeedCase>(&history(&[identified(), suggested()]))
        .when(cmd(
            NeedCaseAction::SuggestServices {
                ranked: None,
                services: vec![SuggestedService {
                    score: None,
                    service: svc(3),
                    reasons: vec![],
                }],
            },
            3,
        ))
        .then_expect_events(vec![NeedCaseEvent::ServicesSuggested(ServicesSuggested {
            left_out: vec![],
            ranked: None,
            suggestions: vec![Suggestion {
                score: None,
                service: svc(3),
                rank: 1,
                reasons: Box::default(),
            }],
        })]);
    assert_eq!(state.data().unwrap().suggestions.len(), 1);
}

#[test]
fn requesting_a_referral_after_suggestions_moves_the_need_to_referred() {
    let state = given::<NeedCase>(&history(&[identified(), suggested()]))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(1),
                service: svc(1),
                consent: ShareConsent::ReferralOnly,
            },
            3,
        ))
        .then_expect_events(vec![requested(1, true)]);
    assert_eq!(state.status(), Some(NeedStatus::Referred));
    assert_eq!(
        state.open_referral().unwrap().status,
        ReferralStatus::Requested
    );
}

#[test]
fn each_drawn_referral_move_emits_its_event_and_sets_the_status() {
    use ReferralStatus::*;
    let r = rid(1);
    let cases: Vec<(
        ReferralStatus,
        NeedCaseAction,
        NeedCaseEvent,
        ReferralStatus,
    )> = vec![
        (
            Requested,
            NeedCaseAction::AcceptReferral { referral: r },
            accepted(1),
            Accepted,
        ),
        (
            Requested,
            NeedCaseAction::RejectReferral {
                referral: r,
                reason: RejectionReason::NoCapacity,
            },
            rejected(1),
            Rejected,
        ),
        (
            Requested,
            NeedCaseAction::CancelReferral {
                referral: r,
                by: CancelledBy::Requester,
                reason: CancelReason::ReferredElsewhere,
            },
            NeedCaseEvent::ReferralCancelled(ReferralCancelled {
                referral: r,
                service: svc(1),
                by: CancelledBy::Requester,
                reason: CancelReason::ReferredElsewhere,
            }),
            Cancelled,
        ),
        (
            Accepted,
            NeedCaseAction::StartReferral { referral: r },
            started(1),
            InProgress,
        ),
        (
            Accepted,
            NeedCaseAction::WaitlistReferral {
                referral: r,
                estimated_wait_days: Some(21),
            },
            waitlisted(1),
            OnHold,
        ),
        (
            OnHold,
            NeedCaseAction::AcceptReferral { referral: r },
            accepted(1),
            Accepted,
        ),
        (
            OnHold,
            NeedCaseAction::StartReferral { referral: r },
            started(1),
            InProgress,
        ),
        (
            InProgress,
            NeedCaseAction::WaitlistReferral {
                referral: r,
                estimated_wait_days: Some(21),
            },
            waitlisted(1),
            OnHold,
        ),
        (
            InProgress,
            NeedCaseAction::CompleteReferral {
                referral: r,
                outcome: Outcome::NeedMet,
            },
            completed(1),
            Completed,
        ),
    ];
    for (from, action, event, to) in cases {
        let state = given::<NeedCase>(&to_status(from))
            .when(cmd(action, 20))
            .then_expect_events(vec![event]);
        assert_eq!(state.referral(r).unwrap().status, to, "from {from}");
    }
    for from in [Accepted, InProgress, OnHold] {
        for reason in [
            FailureReason::NoShow,
            FailureReason::Unreachable,
            FailureReason::Declined,
        ] {
            let state = given::<NeedCase>(&to_status(from))
                .when(cmd(
                    NeedCaseAction::FailReferral {
                        referral: r,
                        reason,
                    },
                    20,
                ))
                .then_expect_events(vec![NeedCaseEvent::ReferralFailed(ReferralFailed {
                    referral: r,
                    service: svc(1),
                    reason,
                })]);
            assert_eq!(state.referral(r).unwrap().status, Failed);
            assert_eq!(
                state.status(),
                Some(NeedStatus::Referred),
                "a failed referral leaves the need open"
            );
        }
    }
}

#[test]
fn waitlisting_keeps_the_estimated_wait() {
    let state = given::<NeedCase>(&to_status(ReferralStatus::OnHold))
        .when(cmd(NeedCaseAction::StartReferral { referral: rid(1) }, 20));
    let state = state.then_expect_events(vec![started(1)]);
    assert_eq!(
        state.referral(rid(1)).unwrap().estimated_wait_days,
        Some(21)
    );
}

#[test]
fn completing_the_referral_completes_the_need_case_with_every_outcome() {
    for outcome in [
        Outcome::NeedMet,
        Outcome::NeedPartlyMet,
        Outcome::NeedNotMet,
    ] {
        let state = given::<NeedCase>(&to_status(ReferralStatus::InProgress))
            .when(cmd(
                NeedCaseAction::CompleteReferral {
                    referral: rid(1),
                    outcome,
                },
                20,
            ))
            .then_expect_events(vec![NeedCaseEvent::ReferralCompleted(ReferralCompleted {
                referral: rid(1),
                service: svc(1),
                outcome,
            })]);
        assert_eq!(state.status(), Some(NeedStatus::Completed));
        assert_eq!(state.referral(rid(1)).unwrap().outcome, Some(outcome));
    }
}

#[test]
fn after_a_rejected_cancelled_or_failed_referral_the_coordinator_can_refer_again() {
    for from in [
        ReferralStatus::Rejected,
        ReferralStatus::Cancelled,
        ReferralStatus::Failed,
    ] {
        let state = given::<NeedCase>(&to_status(from))
            .when(cmd(
                NeedCaseAction::RequestReferral {
                    referral: rid(2),
                    service: svc(1),
                    consent: ShareConsent::ReferralOnly,
                },
                20,
            ))
            .then_expect_events(vec![requested(2, false)]);
        assert_eq!(state.open_referral().unwrap().id, rid(2), "from {from}");
    }
}

#[test]
fn a_referral_after_the_only_one_was_entered_in_error_counts_as_first() {
    given::<NeedCase>(&to_status(ReferralStatus::EnteredInError))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(2),
                service: svc(1),
                consent: ShareConsent::ReferralOnly,
            },
            20,
        ))
        .then_expect_events(vec![requested(2, true)]);
}

#[test]
fn a_need_can_be_closed_without_referral_for_every_reason_and_from_every_open_milestone() {
    let histories = [
        history(&[identified()]),
        history(&[identified(), suggested()]),
        to_status(ReferralStatus::Rejected),
    ];
    for h in histories {
        for reason in [
            CloseReason::ResolvedWithoutReferral,
            CloseReason::DeclinedByRecipient,
            CloseReason::NoServiceAvailable,
            CloseReason::Deceased,
            CloseReason::Moved,
        ] {
            let state = given::<NeedCase>(&h)
                .when(cmd(NeedCaseAction::CloseNeed { reason }, 20))
                .then_expect_events(vec![NeedCaseEvent::NeedClosed(NeedClosed { reason })]);
            assert_eq!(state.status(), Some(NeedStatus::Closed));
        }
    }
}

#[test]
fn entered_in_error_applies_to_the_need_case_from_any_status_even_finished() {
    for from in [ReferralStatus::Requested, ReferralStatus::Completed] {
        let ev = NeedCaseEvent::EnteredInError(EnteredInError {
            target: ErrorTarget::NeedCase,
            reason: ErrorReason::WrongRecipient,
        });
        let state = given::<NeedCase>(&to_status(from))
            .when(cmd(
                NeedCaseAction::MarkEnteredInError {
                    target: ErrorTarget::NeedCase,
                    reason: ErrorReason::WrongRecipient,
                },
                20,
            ))
            .then_expect_events(vec![ev]);
        assert_eq!(state.status(), Some(NeedStatus::EnteredInError));
    }
}

#[test]
fn marking_an_open_referral_in_error_frees_the_need_case_for_a_new_referral() {
    let target = ErrorTarget::Referral { referral: rid(1) };
    let state = given::<NeedCase>(&to_status(ReferralStatus::Accepted))
        .when(cmd(
            NeedCaseAction::MarkEnteredInError {
                target,
                reason: ErrorReason::WrongService,
            },
            20,
        ))
        .then_expect_events(vec![NeedCaseEvent::EnteredInError(EnteredInError {
            target,
            reason: ErrorReason::WrongService,
        })]);
    assert!(state.open_referral().is_none());
    assert_eq!(
        state.status(),
        Some(NeedStatus::Suggested),
        "no live referral is left"
    );
}

#[test]
fn marking_the_completing_referral_in_error_reopens_the_need_case() {
    let target = ErrorTarget::Referral { referral: rid(1) };
    let state = given::<NeedCase>(&to_status(ReferralStatus::Completed))
        .when(cmd(
            NeedCaseAction::MarkEnteredInError {
                target,
                reason: ErrorReason::Duplicate,
            },
            20,
        ))
        .then_expect_events(vec![NeedCaseEvent::EnteredInError(EnteredInError {
            target,
            reason: ErrorReason::Duplicate,
        })]);
    assert_eq!(state.status(), Some(NeedStatus::Suggested));
}
