//! The refusals: every command the lifecycle does not allow is refused, with a
//! stable code, and writes nothing.

use super::*;

#[test]
fn commands_before_identification_are_refused() {
    given::<NeedCase>(&[])
        .when(cmd(
            NeedCaseAction::SuggestServices {
                ranked: None,
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
                consent: ShareConsent::ReferralOnly,
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
                consent: ShareConsent::ReferralOnly,
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
                consent: ShareConsent::ReferralOnly,
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
                ranked: None,
                services: vec![SuggestedService {
                    score: None,
                    service: svc(1),
                    reasons: vec![],
                }],
            },
            NeedCaseAction::RequestReferral {
                referral: rid(5),
                service: svc(1),
                consent: ShareConsent::ReferralOnly,
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
                ranked: None,
                services: vec![],
            },
            2,
        ))
        .then_expect_error(NeedCaseError::NoSuggestions);
    given::<NeedCase>(&h)
        .when(cmd(
            NeedCaseAction::SuggestServices {
                ranked: None,
                services: vec![s(1), s(2), s(1)],
            },
            2,
        ))
        .then_expect_error(NeedCaseError::DuplicateSuggestion { service: svc(1) });
    given::<NeedCase>(&h)
        .when(cmd(
            NeedCaseAction::SuggestServices {
                ranked: None,
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
                consent: ShareConsent::ReferralOnly,
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
