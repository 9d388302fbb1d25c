//! Consent to share contact details and notes on a referral (issue 16): what the
//! requester may withdraw, on which referrals a note may be written, and that
//! neither moves the referral or the need case.

use super::*;
use crate::ids::NoteId;
use crate::personal::Sealed;

fn requested_with(consent: ShareConsent) -> NeedCaseEvent {
    NeedCaseEvent::ReferralRequested(ReferralRequested {
        referral: rid(1),
        service: svc(1),
        first: true,
        consent,
    })
}

fn withdrawn() -> NeedCaseEvent {
    NeedCaseEvent::ReferralConsentWithdrawn(ReferralConsentWithdrawn {
        referral: rid(1),
        service: svc(1),
    })
}

fn sealed() -> Sealed {
    Sealed {
        alg: "XChaCha20-Poly1305".into(),
        nonce: "bm9uY2U=".into(),
        ciphertext: "c2VhbGVk".into(),
    }
}

fn note(referral: ReferralId, side: Side) -> NeedCaseAction {
    NeedCaseAction::AddReferralNote {
        referral,
        note: NoteId::from_uuid(Uuid::from_u128(900)),
        side,
        text: sealed(),
    }
}

fn withdraw(referral: ReferralId) -> NeedCaseAction {
    NeedCaseAction::WithdrawConsent { referral }
}

#[test]
fn consent_is_recorded_with_the_request_and_withdrawn_as_an_event() {
    let state = given::<NeedCase>(&history(&[identified(), suggested()]))
        .when(cmd(
            NeedCaseAction::RequestReferral {
                referral: rid(1),
                service: svc(1),
                consent: ShareConsent::ReferralAndContact,
            },
            3,
        ))
        .then_expect_events(vec![requested_with(ShareConsent::ReferralAndContact)]);
    let r = state.referral(rid(1)).unwrap();
    assert_eq!(r.consent, ShareConsent::ReferralAndContact);

    let h = history(&[
        identified(),
        suggested(),
        requested_with(ShareConsent::ReferralAndContact),
        accepted(1),
    ]);
    let state = given::<NeedCase>(&h)
        .when(cmd(withdraw(rid(1)), 10))
        .then_expect_events(vec![withdrawn()]);
    let r = state.referral(rid(1)).unwrap();
    assert_eq!(r.consent, ShareConsent::ReferralOnly);
    assert_eq!(
        r.status,
        ReferralStatus::Accepted,
        "the referral stays where it was"
    );
    assert_eq!(r.changed_at, t(4), "a withdrawal is no status change");
    assert_eq!(withdraw(rid(1)).side(), Side::Requester);
    assert_eq!(withdraw(rid(1)).name(), "withdrawReferralConsent");
}

#[test]
fn consent_can_be_withdrawn_after_the_referral_and_the_need_case_finished() {
    let h = history(&[
        identified(),
        suggested(),
        requested_with(ShareConsent::ReferralAndContact),
        accepted(1),
        started(1),
        completed(1),
    ]);
    given::<NeedCase>(&h)
        .when(cmd(withdraw(rid(1)), 10))
        .then_expect_events(vec![withdrawn()]);
}

#[test]
fn withdrawing_consent_that_is_not_there_is_refused() {
    let h = history(&[identified(), suggested(), requested(1, true)]);
    given::<NeedCase>(&h)
        .when(cmd(withdraw(rid(1)), 10))
        .then_expect_error(NeedCaseError::NoConsentToWithdraw { referral: rid(1) });
    let h = history(&[
        identified(),
        suggested(),
        requested_with(ShareConsent::ReferralAndContact),
        withdrawn(),
    ]);
    given::<NeedCase>(&h)
        .when(cmd(withdraw(rid(1)), 10))
        .then_expect_error(NeedCaseError::NoConsentToWithdraw { referral: rid(1) });
    assert_eq!(
        NeedCaseError::NoConsentToWithdraw { referral: rid(1) }.code(),
        "NO_CONSENT_TO_WITHDRAW"
    );
}

#[test]
fn a_withdrawal_or_a_note_on_an_unknown_or_erroneous_referral_or_dated_before_it_is_refused() {
    let with_consent = [
        identified(),
        suggested(),
        requested_with(ShareConsent::ReferralAndContact),
    ];
    for action in [withdraw(rid(9)), note(rid(9), Side::Performer)] {
        given::<NeedCase>(&history(&with_consent))
            .when(cmd(action, 10))
            .then_expect_error(NeedCaseError::ReferralNotFound { referral: rid(9) });
    }
    let mut erroneous = with_consent.to_vec();
    erroneous.push(NeedCaseEvent::EnteredInError(EnteredInError {
        target: ErrorTarget::Referral { referral: rid(1) },
        reason: ErrorReason::WrongService,
    }));
    for action in [withdraw(rid(1)), note(rid(1), Side::Requester)] {
        let name = action.name();
        given::<NeedCase>(&history(&erroneous))
            .when(cmd(action, 10))
            .then_expect_error(NeedCaseError::TransitionNotAllowed {
                referral: rid(1),
                from: ReferralStatus::EnteredInError,
                command: name,
            });
    }
    // The request is on day 3.
    for action in [withdraw(rid(1)), note(rid(1), Side::Requester)] {
        given::<NeedCase>(&history(&with_consent))
            .when(cmd(action, 2))
            .then_expect_error(NeedCaseError::OccurredBeforePrevious {
                occurred_at: t(2),
                previous: t(3),
                what: "the referral's request",
            });
    }
}

#[test]
fn either_side_writes_notes_on_open_and_closed_referrals_without_moving_them() {
    for side in [Side::Requester, Side::Performer] {
        assert_eq!(note(rid(1), side).side(), side);
        assert_eq!(note(rid(1), side).referral(), Some(rid(1)));
        for status in [ReferralStatus::Requested, ReferralStatus::Completed] {
            let h = to_status(status);
            let before = NeedCase::replay(h.iter().map(|(e, at)| (e, *at)));
            let state = given::<NeedCase>(&h)
                .when(cmd(note(rid(1), side), 20))
                .then_expect_events(vec![NeedCaseEvent::ReferralNoteAdded(ReferralNoteAdded {
                    referral: rid(1),
                    service: svc(1),
                    note: NoteId::from_uuid(Uuid::from_u128(900)),
                    side,
                    text: sealed(),
                })]);
            assert_eq!(state, before, "a note changes nothing the lifecycle keeps");
        }
    }
}

#[test]
fn a_need_case_entered_in_error_takes_no_note_and_no_withdrawal() {
    let h = history(&[
        identified(),
        suggested(),
        requested_with(ShareConsent::ReferralAndContact),
        NeedCaseEvent::EnteredInError(EnteredInError {
            target: ErrorTarget::NeedCase,
            reason: ErrorReason::Duplicate,
        }),
    ]);
    for action in [withdraw(rid(1)), note(rid(1), Side::Performer)] {
        given::<NeedCase>(&h)
            .when(cmd(action, 10))
            .then_expect_error(NeedCaseError::EnteredInError);
    }
}
