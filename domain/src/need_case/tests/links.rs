//! Answer links (issue 16): the requester issues one for an open referral, valid
//! for a bounded time; a newer one replaces it; none for a closed or unknown
//! referral; issuing moves neither the referral nor the need case.

use super::*;
use crate::ids::AnswerLinkId;
use crate::values::Lang;

fn link(n: u128) -> AnswerLinkId {
    AnswerLinkId::from_uuid(Uuid::from_u128(500 + n))
}

fn issue(referral: ReferralId, n: u128, expires_day: u32) -> NeedCaseAction {
    NeedCaseAction::IssueAnswerLink {
        referral,
        link: link(n),
        expires_at: t(expires_day),
        lang: Lang::Nl,
    }
}

fn issued(n: u128, expires_day: u32) -> NeedCaseEvent {
    NeedCaseEvent::AnswerLinkIssued(AnswerLinkIssued {
        referral: rid(1),
        service: svc(1),
        link: link(n),
        expires_at: t(expires_day),
        lang: Lang::Nl,
    })
}

#[test]
fn a_link_is_issued_for_an_open_referral_and_a_newer_one_replaces_it() {
    let h = history(&[identified(), suggested(), requested(1, true)]);
    let state = given::<NeedCase>(&h)
        .when(cmd(issue(rid(1), 1, 17), 3))
        .then_expect_events(vec![issued(1, 17)]);
    let r = state.referral(rid(1)).unwrap();
    assert_eq!(r.answer_link.as_ref().map(|l| l.link), Some(link(1)));
    assert_eq!(r.status, ReferralStatus::Requested, "issuing moves nothing");
    assert_eq!(r.changed_at, t(3));

    let h = history(&[
        identified(),
        suggested(),
        requested(1, true),
        issued(1, 17),
        accepted(1),
    ]);
    let state = given::<NeedCase>(&h)
        .when(cmd(issue(rid(1), 2, 30), 5))
        .then_expect_events(vec![issued(2, 30)]);
    assert_eq!(
        state
            .referral(rid(1))
            .unwrap()
            .answer_link
            .as_ref()
            .map(|l| (l.link, l.expires_at)),
        Some((link(2), t(30))),
        "the newest link is the one kept"
    );
    assert_eq!(issue(rid(1), 1, 17).side(), Side::Requester);
    assert_eq!(issue(rid(1), 1, 17).name(), "issueAnswerLink");
    assert_eq!(issue(rid(1), 1, 17).referral(), Some(rid(1)));
}

#[test]
fn no_link_for_an_unknown_or_closed_referral_nor_for_a_bad_validity() {
    let open = history(&[identified(), suggested(), requested(1, true)]);
    given::<NeedCase>(&open)
        .when(cmd(issue(rid(9), 1, 17), 3))
        .then_expect_error(NeedCaseError::ReferralNotFound { referral: rid(9) });
    // Expiring when issued, before, or more than 90 days later.
    for expires in [3, 2] {
        given::<NeedCase>(&open)
            .when(cmd(issue(rid(1), 1, expires), 3))
            .then_expect_error(NeedCaseError::AnswerLinkValidity { max_days: 90 });
    }
    let too_long = NeedCaseAction::IssueAnswerLink {
        referral: rid(1),
        link: link(1),
        expires_at: t(3) + Duration::days(90) + Duration::seconds(1),
        lang: Lang::En,
    };
    given::<NeedCase>(&open)
        .when(cmd(too_long, 3))
        .then_expect_error(NeedCaseError::AnswerLinkValidity { max_days: 90 });
    let done = history(&[
        identified(),
        suggested(),
        requested(1, true),
        accepted(1),
        started(1),
        completed(1),
    ]);
    given::<NeedCase>(&done)
        .when(cmd(issue(rid(1), 1, 17), 9))
        .then_expect_error(NeedCaseError::Finished {
            status: NeedStatus::Completed,
        });
    let rejected = history(&[
        identified(),
        suggested(),
        requested(1, true),
        NeedCaseEvent::ReferralRejected(ReferralRejected {
            referral: rid(1),
            service: svc(1),
            reason: RejectionReason::NoCapacity,
        }),
    ]);
    given::<NeedCase>(&rejected)
        .when(cmd(issue(rid(1), 1, 17), 9))
        .then_expect_error(NeedCaseError::ReferralNotOpen {
            referral: rid(1),
            status: ReferralStatus::Rejected,
        });
}
