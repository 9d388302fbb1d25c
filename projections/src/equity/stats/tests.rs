//! Against values worked out independently, to 1e-6. Sources (Python 3.11):
//! scipy 1.x `stats.fisher_exact`; statsmodels `proportion_confint(method="wilson")`,
//! `confint_proportions_2indep(method="newcomb", compare="diff")`,
//! `confint_proportions_2indep(method="log", compare="ratio")`, `proportions_ztest`;
//! lifelines `KaplanMeierFitter` (exponential Greenwood = log–log interval) with
//! `median_survival_times(confidence_interval_)`. PAR/PAF by hand from the WHO HEAT
//! definitions.

use super::*;

const EPS: f64 = 1e-6;

#[track_caller]
fn close(a: f64, b: f64) {
    assert!((a - b).abs() < EPS, "{a} != {b}");
}

#[test]
fn wilson_intervals() {
    for (x, n, lo, hi) in [
        (7, 30, 0.117923881445, 0.409283261581),
        (0, 12, 0.0, 0.242494006655),
        (45, 50, 0.786397685625, 0.956524235068),
    ] {
        let w = wilson(x, n).unwrap();
        close(w.low, lo);
        close(w.high, hi);
    }
    assert_eq!(wilson(0, 0), None);
}

#[test]
fn newcombe_differences() {
    for (x1, n1, x2, n2, d, lo, hi) in [
        (56, 70, 48, 80, 0.2, 0.052431472402, 0.333872654037),
        (9, 10, 3, 10, 0.6, 0.170522723935, 0.809017973535),
    ] {
        let (dd, i) = difference(x1, n1, x2, n2).unwrap();
        close(dd, d);
        close(i.low, lo);
        close(i.high, hi);
    }
}

#[test]
fn katz_log_ratios() {
    for (x1, n1, x2, n2, r, lo, hi) in [
        (20, 100, 40, 100, 0.5, 0.315751591101, 0.791761647593),
        (
            56,
            70,
            48,
            80,
            1.333333333333,
            1.076626422763,
            1.651248511266,
        ),
    ] {
        let (rr, i) = ratio(x1, n1, x2, n2).unwrap();
        close(rr, r);
        close(i.low, lo);
        close(i.high, hi);
    }
    assert_eq!(
        ratio(0, 10, 3, 10),
        None,
        "no log interval with a zero count"
    );
}

#[test]
fn fisher_exact_two_sided() {
    for (t, p) in [
        ((3, 1, 1, 3), 4.857142857143e-01),
        ((8, 2, 1, 5), 3.496503496503e-02),
        ((10, 0, 0, 10), 1.082508822447e-05),
        ((2, 7, 8, 2), 2.301413756522e-02),
    ] {
        close(fisher_exact(t.0, t.1, t.2, t.3), p);
    }
}

#[test]
fn pooled_z_tests_and_the_choice_of_test() {
    close(z_test(56, 70, 48, 80).unwrap(), 8.045081368197e-03);
    close(z_test(120, 400, 90, 380).unwrap(), 4.684547279749e-02);
    assert_eq!(compare(56, 70, 48, 80).unwrap().1, Test::ZTest);
    // 9/10 vs 3/10: expected failures are 4 in each row, below 5: Fisher.
    let (p, test) = compare(9, 10, 3, 10).unwrap();
    assert_eq!(test, Test::FisherExact);
    close(p, fisher_exact(9, 1, 3, 7));
}

#[test]
fn parity_and_heat_summary_measures() {
    assert!(parity(0.8) && parity(1.25) && parity(1.0));
    assert!(!parity(0.79) && !parity(1.26));
    // Reference 80 % against an overall 64 %: PAR 16 points, PAF 25 %.
    let (par, paf) = par_paf(0.8, 0.64);
    close(par, 0.16);
    close(paf.unwrap(), 0.25);
    assert_eq!(par_paf(0.5, 0.0).1, None);
}

/// 14 observations, 5 censored (lifelines, see the module doc).
fn km() -> KaplanMeier {
    let t = [1., 2., 2., 3., 4., 4., 5., 6., 7., 8., 9., 10., 12., 15.];
    let e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0];
    KaplanMeier::fit(t.iter().zip(e).map(|(t, e)| (*t, e == 1)))
}

#[test]
fn kaplan_meier_survival_and_its_log_log_band() {
    let k = km();
    assert_eq!((k.n, k.events), (14, 9));
    for (t, s, lo, hi) in [
        (1., 0.928571428571, 0.590766867427, 0.989619823137),
        (3., 0.779220779221, 0.458960422408, 0.923202384874),
        (4., 0.623376623377, 0.316576547851, 0.823501787485),
        (8., 0.427458256030, 0.151358044514, 0.682108103120),
        (12., 0.160296846011, 0.011191006181, 0.474254358714),
    ] {
        let step = k.steps.iter().find(|x| x.time == t).unwrap();
        close(step.survival, s);
        let (l, h) = KaplanMeier::band(step);
        close(l, lo);
        close(h, hi);
    }
}

#[test]
fn kaplan_meier_median_and_quartiles_with_censoring() {
    let k = km();
    let m = k.quantile(0.5);
    assert_eq!(
        (m.estimate, m.low, m.high),
        (Some(8.0), Some(3.0), Some(12.0))
    );
    assert_eq!(k.quantile(0.25).estimate, Some(4.0));
    assert_eq!(k.quantile(0.75).estimate, Some(12.0));
    // Nobody has had the event: the median is not reached.
    let none = KaplanMeier::fit([(3.0, false), (5.0, false)]);
    assert_eq!(none.quantile(0.5).estimate, None);
}

#[test]
fn weighted_observations_fit_as_their_expansion() {
    let plain = km();
    let t = [1., 2., 2., 3., 4., 4., 5., 6., 7., 8., 9., 10., 12., 15.];
    let e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0];
    let mut counts: std::collections::BTreeMap<(u64, bool), u64> = Default::default();
    for (t, e) in t.iter().zip(e) {
        *counts.entry((*t as u64, e == 1)).or_default() += 1;
    }
    let weighted = KaplanMeier::fit_weighted(counts.iter().map(|((t, e), n)| (*t as f64, *e, *n)));
    assert_eq!(weighted, plain);
}

/// Numbers at risk, counted by hand from the observations of [`km`]: everyone
/// at 0; 13 at day 2 (one event at day 1); at day 4.5 the eight observed at 5
/// or later; none after the last.
#[test]
fn kaplan_meier_numbers_at_risk() {
    let k = km();
    for (t, n) in [
        (0.0, 14.0),
        (1.0, 14.0),
        (2.0, 13.0),
        (4.5, 8.0),
        (15.0, 1.0),
        (16.0, 0.0),
    ] {
        assert_eq!(k.at_risk(t), n, "at {t}");
    }
}
