//! The log facts kept per referral (what FHIR's `meta` and `statusReason` show):
//! the version and server time of the referral's last change, whether it ever
//! started, its end reason, and its consent's last change — the same folded
//! live or from a history.

use super::*;
use crate::casework::referral_log::EndReason;
use careledger_domain::need_case::{FailureReason, RejectionReason};

#[test]
fn a_referrals_version_start_end_reason_and_consent_change_are_kept() {
    let mut log = Log::default();
    let p = log.register(1, "be-leuven");
    log.need_case(
        nc(1),
        vec![
            (identify(1, &p), 1, "c1"),
            (suggest(), 2, "c1"),
            (request_with_contact(1), 3, "c1"),
            (
                NeedCaseAction::AcceptReferral { referral: refid(1) },
                4,
                "p1",
            ),
            (
                NeedCaseAction::WaitlistReferral {
                    referral: refid(1),
                    estimated_wait_days: Some(9),
                },
                5,
                "p1",
            ),
            (
                NeedCaseAction::WithdrawConsent { referral: refid(1) },
                6,
                "c1",
            ),
            (
                sealed_note(1, careledger_domain::need_case::Side::Requester),
                7,
                "c1",
            ),
        ],
    );
    let m = fold(&log);
    let v = m.need_case(nc(1)).unwrap();
    let l = v.referral_log(refid(1)).unwrap();
    // Versions count from 0: waitlisted at 4 (day 5), never started; consent
    // withdrawn at 5; the note (6) changed neither.
    assert_eq!((l.version, l.recorded_at, l.started), (4, day(5), false));
    assert_eq!((l.consent_version, l.consent_recorded_at), (5, day(6)));
    assert_eq!(l.end_reason, None);
    assert_eq!((v.version, v.recorded_at), (6, day(7)));

    log.need_case(
        nc(1),
        vec![
            (
                NeedCaseAction::StartReferral { referral: refid(1) },
                8,
                "p1",
            ),
            (
                NeedCaseAction::FailReferral {
                    referral: refid(1),
                    reason: FailureReason::NoShow,
                },
                9,
                "p1",
            ),
            (request(2), 10, "c1"),
            (
                NeedCaseAction::RejectReferral {
                    referral: refid(2),
                    reason: RejectionReason::OutOfArea,
                },
                11,
                "p2",
            ),
        ],
    );
    let m = fold(&log);
    let v = m.need_case(nc(1)).unwrap();
    let first = v.referral_log(refid(1)).unwrap();
    assert!(first.started);
    assert_eq!(
        first.end_reason,
        Some(EndReason::Failed(FailureReason::NoShow))
    );
    assert_eq!(first.version, 8);
    let second = v.referral_log(refid(2)).unwrap();
    assert_eq!((second.version, second.started), (10, false));
    assert_eq!(
        second.end_reason,
        Some(EndReason::Rejected(RejectionReason::OutOfArea))
    );
    assert_eq!(
        second.consent_version, 9,
        "its consent was recorded with its request"
    );
    // The same facts from the need case's history alone.
    let stream = StreamName::need_case(nc(1));
    let replayed = NeedCaseView::from_history(log.events.iter().filter(|e| e.stream == stream));
    assert_eq!(replayed.referral_log, v.referral_log);
}

/// The two-way tables and the time tables from the cube's per-case rows equal
/// those computed from the need cases themselves, for every pair of stratifiers, also after a
/// checkpoint's round trip and after a case's counts changed (a referral
/// rejected).
#[test]
fn two_way_tables_from_the_rows_equal_those_from_the_need_cases() {
    use crate::equity::cube::{CubeFilter, Stratifier, TimeObs, labels, measures};
    type Naive = std::collections::BTreeMap<(String, usize, u8, i64), u64>;
    let mut log = sample();
    let p = log.register(9, "be-leuven");
    log.need_case(
        nc(9),
        vec![
            (identify(9, &p), 1, "c1"),
            (suggest(), 2, "c1"),
            (request(9), 3, "c1"),
            (
                NeedCaseAction::RejectReferral {
                    referral: refid(9),
                    reason: RejectionReason::NoCapacity,
                },
                4,
                "p1",
            ),
        ],
    );
    let check = |m: &Casework| {
        for by in Stratifier::ALL {
            let f = CubeFilter::default();
            // The naive count: (group, time, kind, day) → need cases, from
            // each need case's own labels and measures.
            let mut expected: Naive = Naive::new();
            for v in m.need_cases_from(None) {
                let (Some(l), Some(ms)) =
                    (labels(&v.state), measures(&v.state, v.rejections.counts()))
                else {
                    continue;
                };
                let group = match by {
                    Stratifier::Site => l.site.to_string(),
                    _ => {
                        let i = Stratifier::ALL.iter().position(|s| *s == by).unwrap();
                        l.values[i].to_string()
                    }
                };
                for (t, o) in [ms.to_referral, ms.to_completion].into_iter().enumerate() {
                    let (kind, day) = match o {
                        TimeObs::Event(d) => (0, i64::from(d)),
                        TimeObs::Censored(d) => (1, i64::from(d)),
                        TimeObs::Open(d) => (2, i64::from(d)),
                    };
                    *expected.entry((group.clone(), t, kind, day)).or_default() += 1;
                }
            }
            let mut got: Naive = Naive::new();
            for (g, times) in m.equity().times(by, &f) {
                for (t, h) in [&times.referral, &times.completion].into_iter().enumerate() {
                    for (d, n) in h.events.iter() {
                        *got.entry((g.clone(), t, 0, i64::from(*d))).or_default() += n;
                    }
                    for (d, n) in h.censored.iter() {
                        *got.entry((g.clone(), t, 1, i64::from(*d))).or_default() += n;
                    }
                    for (d, n) in h.open.iter() {
                        *got.entry((g.clone(), t, 2, i64::from(*d))).or_default() += n;
                    }
                }
            }
            assert!(!expected.is_empty());
            assert_eq!(got, expected, "times by {by:?}");
        }
        for rows in Stratifier::ALL {
            for columns in Stratifier::ALL {
                if rows == columns {
                    continue;
                }
                let f = CubeFilter::default();
                let keys: Vec<_> = m
                    .need_cases_from(None)
                    .filter_map(|v| {
                        Some((
                            m.equity().case_key(v.equity_row()?)?,
                            measures(&v.state, v.rejections.counts())?,
                        ))
                    })
                    .collect();
                let cases = keys.iter().map(|(k, measures)| (k, *measures));
                let expected = m.equity().two_way_of_cases(rows, columns, &f, cases);
                assert!(!expected.is_empty());
                assert_eq!(
                    m.equity().two_way(rows, columns, &f),
                    expected,
                    "{rows:?} × {columns:?}"
                );
            }
        }
    };
    let m = fold(&log);
    check(&m);
    check(&Casework::from_snapshot(&m.to_snapshot()).unwrap());
}

/// A cube nothing was folded into answers empty tables, not a panic.
#[test]
fn an_empty_cube_answers_empty_two_way_and_time_tables() {
    use crate::equity::cube::{CubeFilter, Stratifier};
    let m = Casework::default();
    let f = CubeFilter::default();
    assert!(
        m.equity_two_way(Stratifier::Language, Stratifier::Sex, &f)
            .is_empty()
    );
    assert!(m.equity().times(Stratifier::Site, &f).is_empty());
}
