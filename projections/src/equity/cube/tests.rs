//! Tests of the cube's storage: stratifier indices and the cell time tables
//! checked against a naive count.

use super::*;
use std::collections::BTreeMap;

#[test]
fn stratifier_indices_follow_the_declaration_order() {
    for (i, s) in Stratifier::ALL.iter().enumerate() {
        assert_eq!(s.index(), i, "{s:?}");
    }
    assert_eq!(Stratifier::ALL[DERIVED[0]], Stratifier::Site);
    assert_eq!(Stratifier::ALL[DERIVED[1]], Stratifier::Domain);
}

/// The naive model: (time, observation) → count.
type Naive = BTreeMap<(u32, (u8, i64)), u64>;

fn naive_key(o: TimeObs) -> (u8, i64) {
    match o {
        TimeObs::Event(d) => (0, i64::from(d)),
        TimeObs::Censored(d) => (1, i64::from(d)),
        TimeObs::Open(d) => (2, i64::from(d)),
    }
}

fn as_naive(t: &Times) -> Naive {
    let mut out = Naive::new();
    for (h, hist) in [(0, &t.referral), (1, &t.completion)] {
        for (d, n) in hist.events.iter() {
            out.insert((h, (0, i64::from(*d))), *n);
        }
        for (d, n) in hist.censored.iter() {
            out.insert((h, (1, i64::from(*d))), *n);
        }
        for (d, n) in hist.open.iter() {
            out.insert((h, (2, i64::from(*d))), *n);
        }
    }
    out
}

#[test]
fn cell_times_agree_with_a_naive_count_through_densifying_and_spilling() {
    let start = month_start_day(month_of(2026, 3));
    let mut cell = CellTimes::default();
    let mut naive = Naive::new();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let mut live: Vec<(u32, TimeObs)> = Vec::new();
    for step in 0..20_000 {
        let hist = next(2) as u32;
        // Days below and above the dense range; open cases within the month.
        let obs = match next(3) {
            0 => TimeObs::Event(next(90) as u32),
            1 => TimeObs::Censored(next(90) as u32),
            _ => TimeObs::Open(start + next(31) as i32),
        };
        if step % 3 == 2 && !live.is_empty() {
            // Move one observation (a need case's change), or take it out.
            let (h, before) = live.swap_remove(next(live.len() as u64) as usize);
            let after = (next(4) > 0).then_some(obs);
            cell.swap(h, Some(before), after.filter(|_| h == hist), start);
            *naive.get_mut(&(h, naive_key(before))).unwrap() -= 1;
            if let Some(a) = after.filter(|_| h == hist) {
                *naive.entry((h, naive_key(a))).or_default() += 1;
                live.push((h, a));
            }
        } else {
            cell.swap(hist, None, Some(obs), start);
            *naive.entry((hist, naive_key(obs))).or_default() += 1;
            live.push((hist, obs));
        }
    }
    assert!(cell.dense.is_some(), "the cell grew dense");
    // One observation more than a dense counter holds.
    let many = TimeObs::Event(3);
    for _ in 0..(u32::from(u16::MAX) + 10) {
        cell.swap(0, None, Some(many), start);
    }
    *naive.entry((0, naive_key(many))).or_default() += u64::from(u16::MAX) + 10;
    naive.retain(|_, n| *n > 0);
    let mut merged = Times::default();
    cell.merge_into(&mut merged, start);
    assert_eq!(as_naive(&merged), naive);
    // The queries' dense accumulation gives the same (split over two calls, as
    // two cells of one group are).
    let mut dense = DenseTimes::default();
    cell.visit(|slot, day, n| dense.add(slot, day, start, n / 2));
    cell.visit(|slot, day, n| dense.add(slot, day, start, n - n / 2));
    assert_eq!(as_naive(&dense.into_times()), naive);
    // And back down past the spill.
    for _ in 0..(u32::from(u16::MAX) + 10) {
        cell.swap(0, Some(many), None, start);
    }
    let mut merged = Times::default();
    cell.merge_into(&mut merged, start);
    let mut expected = naive.clone();
    *expected.get_mut(&(0, naive_key(many))).unwrap() -= u64::from(u16::MAX) + 10;
    expected.retain(|_, n| *n > 0);
    assert_eq!(as_naive(&merged), expected);
}
