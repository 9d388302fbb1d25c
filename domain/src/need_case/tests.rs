use super::*;
use crate::aggregate::TimeRefusal;
use crate::aggregate::testing::given;
use crate::ids::RecipientId;
use crate::recipient::tests::{profile, t};
use chrono::Duration;
use uuid::Uuid;

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
        suggestions: vec![
            Suggestion {
                score: None,
                service: svc(1),
                rank: 1,
                reasons: vec!["addresses_need".into()],
            },
            Suggestion {
                score: None,
                service: svc(2),
                rank: 2,
                reasons: vec![],
            },
        ],
    })
}
fn requested(n: u128, first: bool) -> NeedCaseEvent {
    NeedCaseEvent::ReferralRequested(ReferralRequested {
        referral: rid(n),
        service: svc(1),
        first,
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

// --- the happy paths ------------------------------------------------------

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
                left_out: vec![],
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
                left_out: vec![],
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
            suggestions: vec![Suggestion {
                score: None,
                service: svc(3),
                rank: 1,
                reasons: vec![],
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

// --- the refusals ---------------------------------------------------------

#[test]
fn commands_before_identification_are_refused() {
    given::<NeedCase>(&[])
        .when(cmd(
            NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: vec![],
            },
            1,
        ))
        .then_expect_error(NeedCaseError::NotIdentified);
}

#[test]
fn identifying_the_same_need_case_twice_is_refused() {
    given::<NeedCase>(&history(&[identified()]))
        .when(cmd(
            NeedCaseAction::IdentifyNeed {
                need_case: nc(),
                recipient: profile(RecipientId::from_uuid(Uuid::from_u128(7))),
                need: need(),
            },
            2,
        ))
        .then_expect_error(NeedCaseError::AlreadyIdentified { need_case: nc() });
}

#[test]
fn a_referral_before_any_suggestion_is_refused() {
    given::<NeedCase>(&history(&[identified()]))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(1),
                service: svc(1),
            },
            2,
        ))
        .then_expect_error(NeedCaseError::NotSuggested);
}

#[test]
fn a_second_open_referral_is_refused() {
    given::<NeedCase>(&to_status(ReferralStatus::Accepted))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(2),
                service: svc(2),
            },
            20,
        ))
        .then_expect_error(NeedCaseError::ReferralAlreadyOpen { open: rid(1) });
}

#[test]
fn reusing_a_referral_id_is_refused() {
    given::<NeedCase>(&to_status(ReferralStatus::Rejected))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(1),
                service: svc(2),
            },
            20,
        ))
        .then_expect_error(NeedCaseError::ReferralIdTaken { referral: rid(1) });
}

#[test]
fn moving_an_unknown_referral_is_refused() {
    given::<NeedCase>(&to_status(ReferralStatus::Requested))
        .when(cmd(NeedCaseAction::AcceptReferral { referral: rid(9) }, 20))
        .then_expect_error(NeedCaseError::ReferralNotFound { referral: rid(9) });
}

/// Every (status, move) pair not drawn in DESIGN §2 is refused, naming the rule.
/// The allowed set is written out here independently of the code under test.
#[test]
fn every_undrawn_referral_move_is_refused() {
    use ReferralStatus::*;
    let drawn: &[(ReferralStatus, &str)] = &[
        (Requested, "accept"),
        (Requested, "reject"),
        (Requested, "cancel"),
        (Accepted, "start"),
        (Accepted, "waitlist"),
        (Accepted, "fail"),
        (OnHold, "accept"),
        (OnHold, "start"),
        (OnHold, "fail"),
        (InProgress, "waitlist"),
        (InProgress, "complete"),
        (InProgress, "fail"),
    ];
    let r = rid(1);
    let moves: Vec<(&str, NeedCaseAction)> = vec![
        ("accept", NeedCaseAction::AcceptReferral { referral: r }),
        (
            "reject",
            NeedCaseAction::RejectReferral {
                referral: r,
                reason: RejectionReason::OutOfArea,
            },
        ),
        (
            "waitlist",
            NeedCaseAction::WaitlistReferral {
                referral: r,
                estimated_wait_days: None,
            },
        ),
        ("start", NeedCaseAction::StartReferral { referral: r }),
        (
            "complete",
            NeedCaseAction::CompleteReferral {
                referral: r,
                outcome: Outcome::NeedMet,
            },
        ),
        (
            "fail",
            NeedCaseAction::FailReferral {
                referral: r,
                reason: FailureReason::Unreachable,
            },
        ),
        (
            "cancel",
            NeedCaseAction::CancelReferral {
                referral: r,
                by: CancelledBy::Recipient,
                reason: CancelReason::Other,
            },
        ),
    ];
    let mut refused = 0;
    for from in [
        Requested,
        Accepted,
        OnHold,
        InProgress,
        Rejected,
        Cancelled,
        Failed,
        EnteredInError,
    ] {
        for (name, action) in &moves {
            let state = NeedCase::replay(to_status(from).iter().map(|(e, t)| (e, *t)));
            let result = state.decide(&cmd(action.clone(), 20));
            if drawn.contains(&(from, name)) {
                assert!(
                    result.is_ok(),
                    "{name} from {from} should be allowed: {result:?}"
                );
            } else {
                refused += 1;
                assert_eq!(
                    result.unwrap_err(),
                    NeedCaseError::TransitionNotAllowed {
                        referral: r,
                        from,
                        command: action.name()
                    },
                    "{name} from {from}"
                );
            }
        }
    }
    assert_eq!(refused, 8 * 7 - drawn.len());
}

#[test]
fn a_finished_need_case_refuses_everything_but_a_correction() {
    let completed_case = to_status(ReferralStatus::Completed);
    let mut closed_case = history(&[identified()]);
    closed_case.push((
        NeedCaseEvent::NeedClosed(NeedClosed {
            reason: CloseReason::Moved,
        }),
        t(2),
    ));
    for (h, status) in [
        (completed_case, NeedStatus::Completed),
        (closed_case, NeedStatus::Closed),
    ] {
        for action in [
            NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: vec![SuggestedService {
                    score: None,
                    service: svc(1),
                    reasons: vec![],
                }],
            },
            NeedCaseAction::RequestReferral {
                referral: rid(5),
                service: svc(1),
            },
            NeedCaseAction::CloseNeed {
                reason: CloseReason::Moved,
            },
        ] {
            given::<NeedCase>(&h)
                .when(cmd(action, 20))
                .then_expect_error(NeedCaseError::Finished { status });
        }
    }
}

#[test]
fn a_need_case_entered_in_error_refuses_everything() {
    let mut h = history(&[identified()]);
    h.push((
        NeedCaseEvent::EnteredInError(EnteredInError {
            target: ErrorTarget::NeedCase,
            reason: ErrorReason::Other,
        }),
        t(2),
    ));
    for action in [
        NeedCaseAction::CloseNeed {
            reason: CloseReason::Moved,
        },
        NeedCaseAction::MarkEnteredInError {
            target: ErrorTarget::NeedCase,
            reason: ErrorReason::Other,
        },
    ] {
        given::<NeedCase>(&h)
            .when(cmd(action, 20))
            .then_expect_error(NeedCaseError::EnteredInError);
    }
}

#[test]
fn marking_a_referral_in_error_twice_is_refused() {
    let target = ErrorTarget::Referral { referral: rid(1) };
    given::<NeedCase>(&to_status(ReferralStatus::EnteredInError))
        .when(cmd(
            NeedCaseAction::MarkEnteredInError {
                target,
                reason: ErrorReason::Other,
            },
            20,
        ))
        .then_expect_error(NeedCaseError::TransitionNotAllowed {
            referral: rid(1),
            from: ReferralStatus::EnteredInError,
            command: "markEnteredInError",
        });
}

#[test]
fn closing_with_an_open_referral_is_refused() {
    given::<NeedCase>(&to_status(ReferralStatus::OnHold))
        .when(cmd(
            NeedCaseAction::CloseNeed {
                reason: CloseReason::Deceased,
            },
            20,
        ))
        .then_expect_error(NeedCaseError::OpenReferralBlocksClose { open: rid(1) });
}

#[test]
fn bad_suggestion_lists_are_refused() {
    let h = history(&[identified()]);
    let s = |n| SuggestedService {
        score: None,
        service: svc(n),
        reasons: vec![],
    };
    given::<NeedCase>(&h)
        .when(cmd(
            NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: vec![],
            },
            2,
        ))
        .then_expect_error(NeedCaseError::NoSuggestions);
    given::<NeedCase>(&h)
        .when(cmd(
            NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: vec![s(1), s(2), s(1)],
            },
            2,
        ))
        .then_expect_error(NeedCaseError::DuplicateSuggestion { service: svc(1) });
    given::<NeedCase>(&h)
        .when(cmd(
            NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: (0..51).map(s).collect(),
            },
            2,
        ))
        .then_expect_error(NeedCaseError::TooManySuggestions {
            count: 51,
            max: MAX_SUGGESTIONS,
        });
}

#[test]
fn times_in_the_future_or_before_what_they_follow_are_refused() {
    let future = Command {
        action: NeedCaseAction::CloseNeed {
            reason: CloseReason::Moved,
        },
        occurred_at: t(28) + Duration::minutes(6),
        now: t(28),
    };
    given::<NeedCase>(&history(&[identified()]))
        .when(future)
        .then_expect_error(NeedCaseError::Time(TimeRefusal::InFuture {
            occurred_at: t(28) + Duration::minutes(6),
            now: t(28),
        }));
    // Accepted on day 4 (see to_status); starting it on day 3 is out of order.
    given::<NeedCase>(&to_status(ReferralStatus::Accepted))
        .when(cmd(NeedCaseAction::StartReferral { referral: rid(1) }, 3))
        .then_expect_error(NeedCaseError::OccurredBeforePrevious {
            occurred_at: t(3),
            previous: t(4),
            what: "referral's last change",
        });
    given::<NeedCase>(&history(&[identified(), suggested()]))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(1),
                service: svc(1),
            },
            1,
        ))
        .then_expect_error(NeedCaseError::OccurredBeforePrevious {
            occurred_at: t(1),
            previous: t(2),
            what: "suggestion",
        });
    // A correction cannot be dated before the record it corrects (the lifecycle
    // property test once found a referral entered in error before its request).
    given::<NeedCase>(&to_status(ReferralStatus::Requested))
        .when(cmd(
            NeedCaseAction::MarkEnteredInError {
                target: ErrorTarget::Referral { referral: rid(1) },
                reason: ErrorReason::Other,
            },
            2,
        ))
        .then_expect_error(NeedCaseError::OccurredBeforePrevious {
            occurred_at: t(2),
            previous: t(3),
            what: "the referral's request",
        });
    let within_skew = Command {
        action: NeedCaseAction::CloseNeed {
            reason: CloseReason::Moved,
        },
        occurred_at: t(28) + Duration::minutes(4),
        now: t(28),
    };
    assert!(
        NeedCase::replay(history(&[identified()]).iter().map(|(e, t)| (e, *t)))
            .decide(&within_skew)
            .is_ok()
    );
}

/// Given no need case yet, when a need is identified on a date before the floor
/// (year −1, as a hostile client sent it) or before the recipient's birth year,
/// then it is refused: such a date would put the need in the 0–17 age band and
/// its trend month in year 0000.
#[test]
fn a_need_dated_before_the_floor_or_before_the_recipients_birth_is_refused() {
    let identify = |at: DateTime<Utc>| Command {
        action: NeedCaseAction::IdentifyNeed {
            need_case: nc(),
            recipient: profile(RecipientId::from_uuid(Uuid::from_u128(7))),
            need: need(),
        },
        occurred_at: at,
        now: t(28),
    };
    let year_minus_one = "-0001-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    given::<NeedCase>(&[])
        .when(identify(year_minus_one))
        .then_expect_error(NeedCaseError::Time(TimeRefusal::BeforeFloor {
            occurred_at: year_minus_one,
        }));
    let just_before = crate::aggregate::earliest_occurred_at() - Duration::seconds(1);
    given::<NeedCase>(&[])
        .when(identify(just_before))
        .then_expect_error(NeedCaseError::Time(TimeRefusal::BeforeFloor {
            occurred_at: just_before,
        }));
    let mut young = profile(RecipientId::from_uuid(Uuid::from_u128(7)));
    young.birth_year = crate::values::BirthYear::parse(2010).unwrap();
    let before_birth = "2009-12-31T23:00:00Z".parse::<DateTime<Utc>>().unwrap();
    given::<NeedCase>(&[])
        .when(Command {
            action: NeedCaseAction::IdentifyNeed {
                need_case: nc(),
                recipient: young.clone(),
                need: need(),
            },
            occurred_at: before_birth,
            now: t(28),
        })
        .then_expect_error(NeedCaseError::Time(TimeRefusal::BeforeBirthYear {
            occurred_at: before_birth,
            birth_year: 2010,
        }));
    // The floor itself and the first day of the birth year are accepted.
    let floor = crate::aggregate::earliest_occurred_at();
    assert!(NeedCase::default().decide(&identify(floor)).is_ok());
    let born = "2010-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    assert!(
        NeedCase::default()
            .decide(&Command {
                action: NeedCaseAction::IdentifyNeed {
                    need_case: nc(),
                    recipient: young,
                    need: need(),
                },
                occurred_at: born,
                now: t(28),
            })
            .is_ok()
    );
}

/// Given an identified need case, when a correction (which may be dated before
/// the identification) names a time before the floor, then it is refused too:
/// the time rule holds for every command, not only the first.
#[test]
fn a_correction_dated_before_the_floor_is_refused() {
    let at = "1999-12-31T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
    given::<NeedCase>(&history(&[identified()]))
        .when(Command {
            action: NeedCaseAction::MarkEnteredInError {
                target: ErrorTarget::NeedCase,
                reason: ErrorReason::WrongRecipient,
            },
            occurred_at: at,
            now: t(28),
        })
        .then_expect_error(NeedCaseError::Time(TimeRefusal::BeforeFloor {
            occurred_at: at,
        }));
}

#[test]
fn every_error_has_a_distinct_stable_code() {
    let errors = [
        NeedCaseError::NotIdentified,
        NeedCaseError::AlreadyIdentified { need_case: nc() },
        NeedCaseError::Finished {
            status: NeedStatus::Closed,
        },
        NeedCaseError::EnteredInError,
        NeedCaseError::NotSuggested,
        NeedCaseError::ReferralAlreadyOpen { open: rid(1) },
        NeedCaseError::ReferralIdTaken { referral: rid(1) },
        NeedCaseError::ReferralNotFound { referral: rid(1) },
        NeedCaseError::TransitionNotAllowed {
            referral: rid(1),
            from: ReferralStatus::Completed,
            command: "x",
        },
        NeedCaseError::OpenReferralBlocksClose { open: rid(1) },
        NeedCaseError::NoSuggestions,
        NeedCaseError::TooManySuggestions { count: 1, max: 1 },
        NeedCaseError::DuplicateSuggestion { service: svc(1) },
        NeedCaseError::Time(TimeRefusal::InFuture {
            occurred_at: t(1),
            now: t(1),
        }),
        NeedCaseError::Time(TimeRefusal::BeforeFloor { occurred_at: t(1) }),
        NeedCaseError::Time(TimeRefusal::BeforeBirthYear {
            occurred_at: t(1),
            birth_year: 1,
        }),
        NeedCaseError::OccurredBeforePrevious {
            occurred_at: t(1),
            previous: t(1),
            what: "x",
        },
    ];
    let codes: std::collections::HashSet<_> = errors.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), errors.len());
}

// --- properties -----------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The referral moves drawn in DESIGN §2, restated independently of the code.
    fn drawn(from: ReferralStatus, to: ReferralStatus) -> bool {
        use ReferralStatus::*;
        let table: &[(ReferralStatus, ReferralStatus)] = &[
            (Requested, Accepted),
            (Requested, Rejected),
            (Requested, Cancelled),
            (Accepted, InProgress),
            (Accepted, OnHold),
            (OnHold, Accepted),
            (OnHold, InProgress),
            (InProgress, OnHold),
            (InProgress, Completed),
            (Accepted, Failed),
            (InProgress, Failed),
            (OnHold, Failed),
        ];
        table.contains(&(from, to)) || (to == EnteredInError && from != EnteredInError)
    }

    fn action() -> impl Strategy<Value = NeedCaseAction> {
        let r = (0u128..3).prop_map(rid);
        let s = (0u128..3).prop_map(svc);
        prop_oneof![
            Just(NeedCaseAction::IdentifyNeed {
                need_case: nc(),
                recipient: profile(RecipientId::from_uuid(Uuid::from_u128(7))),
                need: need()
            }),
            prop::collection::vec(s.clone(), 0..4).prop_map(|v| NeedCaseAction::SuggestServices {
                left_out: vec![],
                services: v
                    .into_iter()
                    .map(|service| SuggestedService {
                        score: None,
                        service,
                        reasons: vec![]
                    })
                    .collect(),
            }),
            (r.clone(), s).prop_map(|(referral, service)| NeedCaseAction::RequestReferral {
                referral,
                service
            }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::AcceptReferral { referral }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::RejectReferral {
                    referral,
                    reason: RejectionReason::NotEligible
                }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::WaitlistReferral {
                    referral,
                    estimated_wait_days: Some(7)
                }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::StartReferral { referral }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::CompleteReferral {
                    referral,
                    outcome: Outcome::NeedPartlyMet
                }),
            r.clone().prop_map(|referral| NeedCaseAction::FailReferral {
                referral,
                reason: FailureReason::Declined
            }),
            r.clone()
                .prop_map(|referral| NeedCaseAction::CancelReferral {
                    referral,
                    by: CancelledBy::Requester,
                    reason: CancelReason::Other
                }),
            Just(NeedCaseAction::CloseNeed {
                reason: CloseReason::NoServiceAvailable
            }),
            Just(NeedCaseAction::MarkEnteredInError {
                target: ErrorTarget::NeedCase,
                reason: ErrorReason::Other
            }),
            r.prop_map(|referral| NeedCaseAction::MarkEnteredInError {
                target: ErrorTarget::Referral { referral },
                reason: ErrorReason::Other
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// No command sequence reaches a state the lifecycle forbids, and replaying the
        /// emitted events rebuilds exactly the same state.
        #[test]
        fn random_command_sequences_stay_inside_the_lifecycle(
            steps in prop::collection::vec((action(), 0i64..48, -6i64..0), 1..40)
        ) {
            let base = t(1);
            let mut state = NeedCase::default();
            let mut log: Vec<(NeedCaseEvent, DateTime<Utc>)> = Vec::new();
            let mut clock = base;
            for (action, advance_h, back_h) in steps {
                // Mostly forward in time; now and then a command dated in the past.
                clock += Duration::hours(advance_h);
                let occurred_at = if advance_h % 7 == 0 { clock + Duration::hours(back_h) } else { clock };
                let command = Command { action, occurred_at, now: clock };
                let before = state.clone();
                match state.decide(&command) {
                    Err(_) => { /* a refusal writes nothing: the state stays `before` */ }
                    Ok(events) => {
                        prop_assert!(!events.is_empty());
                        if let Some(status) = before.status()
                            && status.is_finished() {
                                prop_assert!(matches!(command.action, NeedCaseAction::MarkEnteredInError { .. }),
                                    "a {status} need case accepted {:?}", command.action);
                                prop_assert_ne!(status, NeedStatus::EnteredInError);
                        }
                        for e in &events {
                            state.apply(e, occurred_at);
                            log.push((e.clone(), occurred_at));
                        }
                    }
                }
                // Invariants of every reachable state.
                if let Some(d) = state.data() {
                    let open = d.referrals.iter().filter(|r| r.status.is_open()).count();
                    prop_assert!(open <= 1, "{open} open referrals");
                    prop_assert!(d.referrals.is_empty() || d.suggested_at.is_some(), "referral without suggestion");
                    for r in &d.referrals {
                        let old = before.referral(r.id).map(|o| o.status).unwrap_or(ReferralStatus::Requested);
                        if old != r.status {
                            prop_assert!(drawn(old, r.status), "undrawn move {old} -> {}", r.status);
                        }
                        prop_assert!(r.changed_at >= r.requested_at && r.requested_at >= d.identified_at);
                    }
                    if d.closed.is_some() {
                        prop_assert!(open == 0, "closed with an open referral");
                    }
                }
            }
            let replayed = NeedCase::replay(log.iter().map(|(e, t)| (e, *t)));
            prop_assert_eq!(replayed, state);
        }
    }
}
