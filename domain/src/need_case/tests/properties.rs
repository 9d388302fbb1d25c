//! Properties: random command sequences against an independent restatement of
//! the referral table, and replay rebuilding the same state.

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
            ranked: None,
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
            service,
            consent: ShareConsent::ReferralOnly
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
