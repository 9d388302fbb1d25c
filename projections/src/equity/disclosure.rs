//! Disclosure control that survives differencing: the cell-key method (DESIGN §4;
//! as in the ABS TableBuilder, Eurostat's recommendation for the 2021 census and
//! sdcTools' `ptable`/`cellKey`).
//!
//! Small-cell suppression works table by table: two overlapping tables (all sites
//! and one site, two periods, a trend and its total) subtract to a withheld cell.
//! So every count released to a caller who may not read the records is perturbed,
//! *consistently*:
//!
//! * every need case has a **record key** ([`record_key`], 32 bits from its id);
//! * each count of the cube carries the wrapping sum of the keys of the records it
//!   counts (see [`Counts::keys`]), so a **cell's key** depends only on which
//!   records are in it — never on the query that gathered them;
//! * the released count is `n + noise`, the noise read from the published
//!   [perturbation table](PTABLE_ONE) at a uniform draw that is a keyed hash
//!   (HMAC-SHA256 under the deployment's secret) of the cell key.
//!
//! The same records always get the same noise, so asking twice, or through two
//! different queries, returns the same figure, and subtracting two released
//! figures yields truth plus a difference of noises. The secret enters only at
//! release: the cube (and its checkpoints) are the same whatever the secret, and
//! replicas sharing the secret release the same figures.
//!
//! **The table** (maximum deviation 2): a count of 1 becomes 0, 1, 2 or 3 with
//! probabilities 0.35, 0.35, 0.25, 0.05 (mean 0, variance 0.8); a count of 2 or
//! more moves by −2…+2 with probabilities 0.05, 0.30, 0.30, 0.30, 0.05 (mean 0,
//! variance 1). A zero stays zero (no record, nothing to hide) and no count
//! becomes negative. Small-cell suppression applies to the released counts
//! afterwards, and rates, intervals and tests are computed from them, so no
//! released figure contradicts another. A numerator is kept at most its
//! denominator.

use super::cube::Counts;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The largest change the perturbation makes to a count.
pub const MAX_DEVIATION: u64 = 2;

/// Noise for a count of 1: (noise, probability).
pub const PTABLE_ONE: [(i64, f64); 4] = [(-1, 0.35), (0, 0.35), (1, 0.25), (2, 0.05)];
/// Noise for a count of 2 or more: (noise, probability).
pub const PTABLE_MANY: [(i64, f64); 5] = [(-2, 0.05), (-1, 0.30), (0, 0.30), (1, 0.30), (2, 0.05)];

/// The noise variance of the table for counts of 2 or more (1 has 0.8).
pub const VARIANCE: f64 = 1.0;

/// A need case's record key (defined with the cube, which folds the keys).
pub use super::cube::record_key;

/// The noise the table gives a count at a uniform draw `u` in [0, 1).
pub fn noise(count: u64, u: f64) -> i64 {
    let row: &[(i64, f64)] = match count {
        0 => return 0,
        1 => &PTABLE_ONE,
        _ => &PTABLE_MANY,
    };
    let mut acc = 0.0;
    for (j, p) in row {
        acc += p;
        if u < acc {
            return *j;
        }
    }
    row[row.len() - 1].0
}

/// How released counts are protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Exact counts (the caller may read the records themselves).
    None,
    /// Cell-key perturbation.
    CellKey,
}

/// The cell-key method under one deployment's secret.
#[derive(Clone)]
pub struct CellKeyMethod {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for CellKeyMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CellKeyMethod(..)")
    }
}

impl CellKeyMethod {
    /// The method under `secret` (configuration; at least 32 bytes is wise).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length"),
        }
    }

    /// The uniform draw of a cell key, in [0, 1).
    pub fn draw(&self, cell_key: u32) -> f64 {
        let mut mac = self.mac.clone();
        mac.update(b"careledger cell key v1");
        mac.update(&cell_key.to_le_bytes());
        let bytes = mac.finalize().into_bytes();
        let x = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One day's count of a Kaplan–Meier curve released: the cell is the group's
    /// records (its identified key sum) on that day, of that kind (event, censoring,
    /// open), so the same group always gets the same curve and two overlapping
    /// groups independent noise.
    pub fn day_count(&self, group_key: u32, kind: u8, day: i64, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut mac = self.mac.clone();
        mac.update(b"careledger survival day v1");
        mac.update(&group_key.to_le_bytes());
        mac.update(&[kind]);
        mac.update(&day.to_le_bytes());
        let bytes = mac.finalize().into_bytes();
        let x = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        n.saturating_add_signed(noise(n, u))
    }

    /// One count released: `n` plus the noise its cell key draws (never negative).
    pub fn count(&self, n: u64, cell_key: u32) -> u64 {
        if n == 0 {
            return 0;
        }
        n.saturating_add_signed(noise(n, self.draw(cell_key)))
    }

    /// Every count released, numerators kept within their denominators
    /// (referred ≤ identified, completed ≤ referred, unmet ≤ identified, the
    /// rejections together ≤ referrals). The keys are kept (they identify cells,
    /// not people).
    pub fn perturb(&self, c: &Counts) -> Counts {
        let mut f = c.fields();
        for (n, k) in f.iter_mut().zip(c.keys) {
            *n = self.count(*n, k);
        }
        f[1] = f[1].min(f[0]);
        f[2] = f[2].min(f[1]);
        f[3] = f[3].min(f[0]);
        // Rejections over the referrals: take one at a time from the reason that
        // was raised the most (so none moves more than the table allows).
        let orig = c.fields();
        let mut excess = f[5..].iter().sum::<u64>().saturating_sub(f[4]);
        while excess > 0 {
            let Some(i) = (5..10)
                .filter(|i| f[*i] > 0)
                .max_by_key(|i| (f[*i] as i64 - orig[*i] as i64, *i))
            else {
                break;
            };
            f[i] -= 1;
            excess -= 1;
        }
        c.with_fields(f)
    }
}

/// What a caller is told about the disclosure control of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub method: Method,
    /// The largest change made to any count (0 when exact).
    pub max_deviation: u64,
    /// Counts from 1 to k − 1 are withheld.
    pub k: u64,
}

impl Applied {
    pub fn new(method: Method, k: u64) -> Self {
        Self {
            method,
            max_deviation: if method == Method::CellKey {
                MAX_DEVIATION
            } else {
                0
            },
            k,
        }
    }

    /// One line for a CSV file's readers.
    pub fn describe(&self) -> String {
        match self.method {
            Method::CellKey => format!(
                "counts perturbed by the cell-key method (zero-mean noise, at most {} either way); counts from 1 to {} withheld",
                self.max_deviation,
                self.k.saturating_sub(1)
            ),
            Method::None => format!(
                "exact counts; counts from 1 to {} withheld",
                self.k.saturating_sub(1)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn moments(row: &[(i64, f64)]) -> (f64, f64, f64) {
        let total: f64 = row.iter().map(|(_, p)| p).sum();
        let mean: f64 = row.iter().map(|(j, p)| *j as f64 * p).sum();
        let var: f64 = row.iter().map(|(j, p)| (*j as f64).powi(2) * p).sum();
        (total, mean, var)
    }

    /// The published table: each row a distribution with mean 0, the documented
    /// variance, no deviation beyond the maximum, and no count below zero.
    #[test]
    fn the_perturbation_table_is_zero_mean_bounded_and_keeps_counts_non_negative() {
        let (t1, m1, v1) = moments(&PTABLE_ONE);
        let (t2, m2, v2) = moments(&PTABLE_MANY);
        assert!((t1 - 1.0).abs() < 1e-12 && (t2 - 1.0).abs() < 1e-12);
        assert!(m1.abs() < 1e-12 && m2.abs() < 1e-12, "zero mean: {m1} {m2}");
        assert!((v1 - 0.8).abs() < 1e-12, "{v1}");
        assert!((v2 - VARIANCE).abs() < 1e-12, "{v2}");
        for (j, _) in PTABLE_ONE.iter().chain(&PTABLE_MANY) {
            assert!(j.unsigned_abs() <= MAX_DEVIATION);
        }
        assert!(PTABLE_ONE.iter().all(|(j, _)| 1 + j >= 0));
        assert!(PTABLE_MANY.iter().all(|(j, _)| 2 + j >= 0));
        for u in [0.0, 0.2, 0.5, 0.999_999] {
            assert_eq!(noise(0, u), 0, "a zero stays zero");
        }
    }

    /// Drawn over many cells, the released counts have the table's mean and
    /// variance; the same cell always draws the same noise; another secret draws
    /// other noise.
    #[test]
    fn released_counts_follow_the_table_and_the_same_cell_gets_the_same_noise() {
        let m = CellKeyMethod::new(b"a deployment's secret, 32 bytes!");
        let n = 40u64;
        let draws: Vec<i64> = (0..200_000u32)
            .map(|k| m.count(n, k.wrapping_mul(2_654_435_761)) as i64 - n as i64)
            .collect();
        let mean = draws.iter().sum::<i64>() as f64 / draws.len() as f64;
        let var = draws
            .iter()
            .map(|d| (*d as f64 - mean).powi(2))
            .sum::<f64>()
            / draws.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - VARIANCE).abs() < 0.02, "{var}");
        assert!(draws.iter().all(|d| d.unsigned_abs() <= MAX_DEVIATION));
        for k in [0u32, 1, 77, u32::MAX] {
            assert_eq!(m.count(n, k), m.count(n, k));
        }
        let other = CellKeyMethod::new(b"another deployment's secret.....");
        let differ = (0..1_000u32)
            .filter(|k| m.count(n, *k) != other.count(n, *k))
            .count();
        assert!(differ > 500, "{differ}");
        assert_eq!(m.count(0, 12345), 0);
    }

    /// Perturbed counts keep every numerator within its denominator.
    #[test]
    fn perturbed_numerators_stay_within_their_denominators() {
        let m = CellKeyMethod::new(b"a deployment's secret, 32 bytes!");
        for seed in 0..5_000u32 {
            let c = Counts {
                identified: 5,
                referred: 5,
                completed: 4,
                unmet: 1,
                referrals: 6,
                rejected: [2, 0, 1, 3, 0],
                keys: std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u32 * 7919)),
            };
            let p = m.perturb(&c);
            assert!(p.referred <= p.identified);
            assert!(p.completed <= p.referred);
            assert!(p.unmet <= p.identified);
            assert!(p.rejected_total() <= p.referrals);
            for (a, b) in p.fields().iter().zip(c.fields()) {
                assert!(a.abs_diff(b) <= MAX_DEVIATION, "{a} vs {b}");
            }
            assert_eq!(p.keys, c.keys);
        }
    }

    /// A random cohort: (record key, [site, month, need], group, referred) per need
    /// case.
    type Case = (u32, [u8; 3], u8, bool);

    fn cohort() -> impl Strategy<Value = Vec<Case>> {
        proptest::collection::vec(
            (
                any::<u32>(),
                [0u8..3, 0u8..3, 0u8..3],
                0u8..12,
                any::<bool>(),
            ),
            300..900,
        )
    }

    /// The released counts of the groups of the cases `keep` selects.
    fn table(
        m: &CellKeyMethod,
        cases: &[Case],
        keep: impl Fn(&[u8; 3]) -> bool,
    ) -> Vec<(u8, Counts, Counts)> {
        (0..12u8)
            .map(|g| {
                let exact = cases
                    .iter()
                    .filter(|c| c.2 == g && keep(&c.1))
                    .map(|c| {
                        Counts {
                            identified: 1,
                            referred: u64::from(c.3),
                            ..Counts::default()
                        }
                        .keyed(c.0)
                    })
                    .fold(Counts::default(), |a, c| a.plus(&c));
                (g, exact, m.perturb(&exact))
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// For random cohorts and two overlapping queries — all cases, and all
        /// but one site, one month (a trend's point) or one need — the same
        /// query releases the same figures, and subtracting the two released
        /// tables recovers the left-out part's true counts no more often than the
        /// noise allows by chance (exact counts: always).
        #[test]
        fn differencing_overlapping_queries_does_not_recover_the_hidden_counts(
            cases in cohort(),
            secret in any::<[u8; 32]>(),
            dimension in 0usize..3,
            value in 0u8..3,
        ) {
            let m = CellKeyMethod::new(&secret);
            let all = table(&m, &cases, |_| true);
            prop_assert_eq!(&all, &table(&m, &cases, |_| true));
            let rest = table(&m, &cases, |d| d[dimension] != value);
            let hidden = table(&m, &cases, |d| d[dimension] == value);
            let (mut recovered, mut compared) = (0, 0);
            for ((a, r), h) in all.iter().zip(&rest).zip(&hidden) {
                for (fa, fr, fh) in [
                    (a.2.identified, r.2.identified, h.1.identified),
                    (a.2.referred, r.2.referred, h.1.referred),
                ] {
                    if fh > 0 {
                        compared += 1;
                        recovered += usize::from(fa as i64 - fr as i64 == fh as i64);
                    }
                }
                // Every released count is within the table's bound of the truth.
                prop_assert!(a.2.identified.abs_diff(a.1.identified) <= MAX_DEVIATION);
            }
            // By chance a difference of two noises is zero ~28% of the time.
            prop_assert!(compared == 0 || recovered * 10 < compared * 8, "{recovered} of {compared}");
        }

        /// Statistics over released counts are the statistics of those counts: a
        /// Wilson interval recomputed independently from the released numerator and
        /// denominator agrees to 1e-9.
        #[test]
        fn figures_are_computed_from_the_released_counts(cases in cohort(), secret in any::<[u8; 32]>()) {
            let m = CellKeyMethod::new(&secret);
            let groups: Vec<(String, Counts)> = table(&m, &cases, |_| true)
                .into_iter()
                .map(|(g, _, released)| (format!("g{g}"), released))
                .collect();
            let t = crate::equity::report::table(&groups, crate::equity::report::OutcomeKind::ReferralRate, &crate::equity::report::Reference::Largest, 5);
            for row in t.rows.iter().filter_map(|r| r.released.as_ref().map(|x| (r, x))) {
                let (r, x) = row;
                let c = &groups.iter().find(|g| g.0 == r.group).unwrap().1;
                prop_assert_eq!((x.n, x.numerator), (c.identified, c.referred));
                let (p, n) = (c.referred as f64 / c.identified as f64, c.identified as f64);
                let z = 1.959_963_984_540_054_f64;
                let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
                let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
                prop_assert!((x.ci.low - (centre - half).max(0.0)).abs() < 1e-9);
                prop_assert!((x.ci.high - (centre + half).min(1.0)).abs() < 1e-9);
                prop_assert!((x.rate - p).abs() < 1e-12);
            }
        }
    }

    /// A survival curve's day counts: the same group, kind and day always get
    /// the same count, within the table's bound; zeros stay zero; other groups or
    /// days draw independently.
    #[test]
    fn survival_day_counts_are_consistent_and_bounded() {
        let m = CellKeyMethod::new(b"a deployment's secret, 32 bytes!");
        for day in 0..200i64 {
            let a = m.day_count(77, 0, day, 10);
            assert_eq!(a, m.day_count(77, 0, day, 10));
            assert!(a.abs_diff(10) <= MAX_DEVIATION);
            assert_eq!(m.day_count(77, 0, day, 0), 0);
        }
        let differ = (0..200i64)
            .filter(|d| m.day_count(77, 0, *d, 10) != m.day_count(78, 0, *d, 10))
            .count();
        assert!(differ > 80, "{differ}");
    }

    #[test]
    fn record_keys_spread_over_their_range() {
        let keys: Vec<u32> = (0..10_000)
            .map(|_| record_key(uuid::Uuid::now_v7()))
            .collect();
        let high = keys.iter().filter(|k| **k >= 1 << 31).count();
        assert!((4_500..5_500).contains(&high), "{high}");
    }
}
