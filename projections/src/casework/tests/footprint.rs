//! What the read models keep once per recipient, and the benchmark's view of
//! the model's parts.

use super::*;
use std::sync::Arc;

#[test]
fn the_need_cases_of_a_recipient_share_one_copy_of_their_profile_also_after_a_checkpoint() {
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    for n in 0..3 {
        log.need_case(nc(n), vec![(identify(n, &p), 1, "c1")]);
    }
    let check = |m: &Casework| {
        let shared = &m.recipient(p.recipient).unwrap().profile;
        assert_eq!(**shared, p);
        for n in 0..3 {
            let own = &m.need_case(nc(n)).unwrap().data().unwrap().recipient;
            assert!(Arc::ptr_eq(own, shared), "need case {n} keeps its own copy");
        }
    };
    let m = fold(&log);
    check(&m);
    check(&Casework::from_snapshot(&m.to_snapshot()).unwrap());
}

#[test]
fn a_need_case_identified_with_another_profile_than_the_recipient_s_keeps_its_own() {
    // A need case records the profile it was identified with; one that differs
    // from the registered one (say, an older snapshot) is not overwritten.
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    let mut other = p.clone();
    other.language = LanguageTag::parse("fr").unwrap();
    log.need_case(nc(1), vec![(identify(1, &other), 1, "c1")]);
    let m = fold(&log);
    let own = &m.need_case(nc(1)).unwrap().data().unwrap().recipient;
    assert_eq!(**own, other);
    assert!(!Arc::ptr_eq(
        own,
        &m.recipient(p.recipient).unwrap().profile
    ));
}

#[test]
fn dropping_the_model_in_parts_names_every_part_once() {
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    log.need_case(nc(1), vec![(identify(1, &p), 1, "c1")]);
    let mut parts = Vec::new();
    fold(&log).drop_in_parts(|part| parts.push(part));
    let unique: std::collections::BTreeSet<_> = parts.iter().collect();
    assert_eq!(unique.len(), parts.len());
    assert!(parts.contains(&"equity cube"));
    assert!(parts.contains(&"care recipients"));
}

#[test]
fn lists_of_one_hold_room_for_one_after_a_fold_and_after_a_checkpoint() {
    // A push onto an empty list makes room for four: at a million need cases
    // that was ~290 bytes per referred need case in referrals and their log facts.
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    log.need_case(
        nc(1),
        vec![
            (identify(1, &p), 1, "c1"),
            (suggest(), 2, "c1"),
            (request(1), 3, "c1"),
        ],
    );
    let check = |m: &Casework| {
        let v = m.need_case(nc(1)).unwrap();
        let d = v.data().unwrap();
        // The state's lists are boxed slices: no room beyond what they keep.
        assert_eq!(d.referrals.len(), 1);
        assert_eq!(v.referral_log.len(), 1);
        let r = m.recipient(p.recipient).unwrap();
        assert_eq!(r.need_cases.len(), 1);
    };
    let m = fold(&log);
    check(&m);
    check(&Casework::from_snapshot(&m.to_snapshot()).unwrap());
}

#[test]
fn a_need_case_view_stays_small() {
    // A guard on what each of a million need cases costs inline: the profile
    // is shared (a pointer), the equity cube's key is the cube's (a row number).
    // Interned vocabulary (site, need, language, region, postal code, actor
    // subjects: one pointer each, see `careledger_domain::values::Atom`) and the
    // referral log facts in a boxed slice brought a view into the allocator's
    // 224-byte size class (it was 288 bytes, in the 320 class); the state's
    // lists as boxed slices, the stream version in four bytes, the cube row
    // as a `u32` and the (rare) rejection counts boxed, into its 192 one.
    // A shared profile keeps within 80 bytes (96 with its reference counts;
    // it was 176, then 88 with the postal code's country beside its atom) and
    // a referral within 72 (its rare answer link boxed; it was 96).
    assert!(std::mem::size_of::<NeedCaseView>() <= 192);
    assert!(std::mem::size_of::<careledger_domain::need_case::NeedCaseData>() <= 112);
    assert!(std::mem::size_of::<careledger_domain::recipient::RecipientProfile>() <= 80);
    assert!(std::mem::size_of::<careledger_domain::need_case::Referral>() <= 72);
    // A suggestion's reason codes are a boxed slice of atoms: 48 bytes with no
    // string of its own (it was 64, and a string per reason).
    assert!(std::mem::size_of::<careledger_domain::need_case::Suggestion>() <= 48);
    // The sealed personal data (three strings) is boxed in a recipient's view,
    // in one field with the time of erasure (a recipient has at most one of
    // them); the version is four bytes: 64 (the allocator's 64-byte class; 80
    // before).
    assert!(std::mem::size_of::<RecipientView>() <= 64);
}

mod random_histories {
    //! The compact read models (shared profiles, the cube's row in place of its
    //! key, lists with room for what they keep) answer as each stream folded
    //! alone, and the same after a checkpoint taken anywhere in the log.
    use super::*;
    use crate::equity::cube::{CubeFilter, Stratifier};
    use careledger_domain::need_case::{Outcome, RejectionReason};
    use proptest::prelude::*;

    /// One step of need case `n` (a step its state refuses is skipped).
    fn step(log: &mut Log, n: u128, k: u8, i: usize, d: i64) {
        let stream = StreamName::need_case(nc(n));
        let mine = || log.events.iter().filter(|e| e.stream == stream);
        let view = NeedCaseView::from_history(mine());
        let version = mine().count() as u64;
        let open = view.open_referral().map(|r| r.id);
        let action = match (k % 8, open) {
            (0, _) => suggest(),
            (1, _) => request(n * 1_000 + i as u128),
            (2, Some(referral)) => NeedCaseAction::AcceptReferral { referral },
            (3, Some(referral)) => NeedCaseAction::StartReferral { referral },
            (4, Some(referral)) => NeedCaseAction::CompleteReferral {
                referral,
                outcome: Outcome::NeedMet,
            },
            (5, Some(referral)) => NeedCaseAction::RejectReferral {
                referral,
                reason: RejectionReason::NoCapacity,
            },
            (6, _) => NeedCaseAction::CloseNeed {
                reason: CloseReason::DeclinedByRecipient,
            },
            _ => return,
        };
        let decided = view.state.decide(&Command {
            action,
            occurred_at: day(d),
            now: day(400),
        });
        for (j, e) in decided.into_iter().flatten().enumerate() {
            let who = if k.is_multiple_of(2) { "c1" } else { "c2" };
            log.record(stream.clone(), version + j as u64, e.into(), day(d), who);
        }
    }

    /// Every answer the comparison covers, of `m`.
    fn answers(m: &Casework, log: &Log, cases: u128, recipients: u128) {
        for n in 0..cases {
            let stream = StreamName::need_case(nc(n));
            let alone =
                NeedCaseView::from_history(log.events.iter().filter(|e| e.stream == stream));
            let mut got = m.need_case(nc(n)).unwrap().clone();
            assert!(got.equity_row().is_some());
            got.equity_row = CubeRow::default();
            assert_eq!(got, alone, "need case {n}");
        }
        for r in 0..recipients {
            let id = RecipientId::from_uuid(Uuid::from_u128(r + 1));
            let view = m.recipient(id).unwrap();
            let expected: Vec<_> = (0..cases)
                .filter(|n| {
                    m.need_case(nc(*n))
                        .and_then(|v| v.data())
                        .is_some_and(|d| d.recipient.recipient == id)
                })
                .collect();
            assert_eq!(view.need_cases.len(), expected.len());
        }
    }

    fn equity(m: &Casework) -> Vec<String> {
        let f = CubeFilter::default();
        Stratifier::ALL
            .iter()
            .map(|by| {
                format!(
                    "{:?} {:?} {:?}",
                    m.equity().groups(*by, &f),
                    m.equity().times(*by, &f),
                    m.equity_two_way(*by, Stratifier::Site, &f)
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_compact_model_answers_as_each_stream_folded_alone(
            owners in proptest::collection::vec(0u128..4, 1..10),
            steps in proptest::collection::vec((0usize..10, 0u8..8), 0..40),
            cut in 0.0f64..1.0,
        ) {
            let mut log = Log::default();
            let sites = ["be-leuven", "de-koeln", "nl-maastricht", "be-liege"];
            let profiles: Vec<_> = (0..4u128)
                .map(|r| log.register(r + 1, sites[r as usize]))
                .collect();
            let cases = owners.len() as u128;
            for (n, owner) in owners.iter().enumerate() {
                let stream = StreamName::need_case(nc(n as u128));
                let events = NeedCase::default()
                    .decide(&Command {
                        action: identify(n as u128, &profiles[*owner as usize]),
                        occurred_at: day(1),
                        now: day(400),
                    })
                    .unwrap();
                for e in events {
                    log.record(stream.clone(), 0, e.into(), day(1), "c1");
                }
            }
            for (i, (which, k)) in steps.iter().enumerate() {
                step(&mut log, *which as u128 % cases, *k, i, 2 + i as i64);
            }
            let whole = fold(&log);
            answers(&whole, &log, cases, 4);
            // A checkpoint taken somewhere in the log, loaded, then the rest folded.
            let at = (log.events.len() as f64 * cut) as usize;
            let mut first = Casework::default();
            for e in &log.events[..at] {
                first.apply(e);
            }
            let mut resumed = Casework::from_snapshot(&first.to_snapshot()).unwrap();
            for e in &log.events[at..] {
                resumed.apply(e);
            }
            answers(&resumed, &log, cases, 4);
            prop_assert_eq!(equity(&resumed), equity(&whole));
            // Indexes compacted at the cut (as a start does once caught up), then
            // the rest folded: the same model.
            let mut compacted = Casework::default();
            for e in &log.events[..at] {
                compacted.apply(e);
            }
            compacted.compact_indexes();
            for e in &log.events[at..] {
                compacted.apply(e);
            }
            prop_assert!(compacted == whole, "compacting the indexes changed the model");
            answers(&compacted, &log, cases, 4);
            // Profiles shared with the recipient's view, in both.
            for m in [&whole, &resumed] {
                for n in 0..cases {
                    let d = m.need_case(nc(n)).unwrap().data().unwrap();
                    let r = m.recipient(d.recipient.recipient).unwrap();
                    prop_assert!(Arc::ptr_eq(&d.recipient, &r.profile));
                }
            }
        }
    }
}

/// A start rebuilds the indexes once it has folded an eighth or more of the
/// need cases it ends with (a cold start), not after a checkpoint it added
/// little to, nor with nothing folded; the model is the same either way.
#[test]
fn the_indexes_are_rebuilt_after_a_cold_start_not_after_a_checkpoint() {
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    for n in 0..17 {
        log.need_case(nc(n), vec![(identify(n, &p), 1, "c1")]);
    }
    let (first, last) = log.events.split_at(log.events.len() - 1);
    let cold = crate::runner::Projector::new(Casework::default());
    assert!(!cold.compact_if_grown(), "nothing folded yet");
    for e in first {
        cold.apply(e);
    }
    assert!(
        cold.compact_if_grown(),
        "sixteen need cases folded from none"
    );
    let loaded = crate::runner::Projector::new(cold.read().clone());
    loaded.apply(&last[0]);
    assert!(
        !loaded.compact_if_grown(),
        "one need case on sixteen loaded"
    );
    assert_eq!(*loaded.read(), fold(&log));
}
