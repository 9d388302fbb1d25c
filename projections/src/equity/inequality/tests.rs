//! The summary measures against values worked out independently: every expected
//! value below is printed by `expected.py` (beside this file; numpy, following
//! the WHO `healthequal` 1.0.1 R sources step by step — ridits from cumw/cumw1,
//! SII/RII from a weighted linear regression solved with `numpy.linalg.lstsq`,
//! ACI/RCI from healthequal's convenient regression `lhs ~ 0 + rhs + intercept`,
//! the unordered measures as in bgv.R, mdbw.R, mdbu.R, mdmw.R, mdmu.R, ti.R,
//! mld.R without the × 1000). Tolerance 1e-6 throughout.

use super::*;
use crate::equity::cube::{AGE_BANDS, QUINTILES, Stratifier, age_name};
use crate::equity::report::{GroupRow, Released};
use crate::equity::stats::Interval;

const EPS: f64 = 1e-6;

fn points(rates: &[f64], ns: &[f64]) -> Vec<Point> {
    rates
        .iter()
        .zip(ns)
        .map(|(r, n)| Point { rate: *r, n: *n })
        .collect()
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: none, want {want}"));
    assert!((got - want).abs() < EPS, "{what}: {got}, want {want}");
}

/// Case A (expected.py "ordered A"): five quintiles, Q1 first, rate rising.
fn case_a() -> Vec<Point> {
    points(
        &[0.62, 0.68, 0.71, 0.75, 0.80],
        &[400.0, 350.0, 300.0, 250.0, 200.0],
    )
}

/// Case B (expected.py "ordered B"): four ordered groups, rate falling.
fn case_b() -> Vec<Point> {
    points(&[0.30, 0.22, 0.15, 0.11], &[120.0, 480.0, 250.0, 150.0])
}

/// Case C (expected.py "unordered C"): four unordered groups.
fn case_c() -> Vec<Point> {
    points(&[0.55, 0.72, 0.64, 0.80], &[120.0, 300.0, 80.0, 500.0])
}

/// Case D (expected.py "unordered D"): a group with a rate of 0.
fn case_d() -> Vec<Point> {
    points(&[0.0, 0.3, 0.5], &[50.0, 100.0, 150.0])
}

#[test]
fn ridits_are_the_midpoints_of_cumulative_shares() {
    // expected.py "ordered A": rank = (cumw1 + 0.5 (cumw − cumw1)) / sumw.
    let want = [
        0.133333333333,
        0.383333333333,
        0.600000000000,
        0.783333333333,
        0.933333333333,
    ];
    for (got, want) in ridits(&case_a()).into_iter().zip(want) {
        close(Some(got), want, "ridit");
    }
}

#[test]
fn slope_and_relative_index_from_the_weighted_regression_on_ridits() {
    // expected.py "ordered A": lstsq of sqrt(pop)·est on sqrt(pop)·[1, rank].
    let a = slope(&case_a()).unwrap();
    close(Some(a.at_0), 0.592526806527, "A fitted at 0");
    close(Some(a.at_1), 0.802806526807, "A fitted at 1");
    close(Some(a.sii()), 0.210279720280, "A SII");
    close(a.rii(), 1.354886425329, "A RII");
    // expected.py "ordered B": a falling rate gives SII < 0, RII < 1.
    let b = slope(&case_b()).unwrap();
    close(Some(b.sii()), -0.209614587650, "B SII");
    close(b.rii(), 0.302232029785, "B RII");
}

#[test]
fn rii_needs_positive_fitted_values() {
    // A steep fall: the line crosses 0 before rank 1, so no ratio.
    let steep = points(&[0.9, 0.1, 0.0], &[10.0, 10.0, 10.0]);
    let s = slope(&steep).unwrap();
    assert!(s.at_1 < 0.0, "{s:?}");
    assert_eq!(s.rii(), None);
}

#[test]
fn concentration_indices_match_healthequals_regression() {
    // expected.py: coefficient of rhs in lhs1 ~ 0 + rhs + intercept (ACI) and
    // lhs ~ 0 + rhs + intercept (RCI).
    let (aci, rci) = concentration(&case_a()).unwrap();
    close(Some(aci), 0.033411111111, "A ACI");
    close(rci, 0.047889791368, "A RCI");
    let (aci, rci) = concentration(&case_b()).unwrap();
    close(Some(aci), -0.030348000000, "B ACI");
    close(rci, -0.155153374233, "B RCI");
    // No one with the outcome: ACI 0, no relative index.
    let zero = points(&[0.0, 0.0, 0.0], &[5.0, 6.0, 7.0]);
    assert_eq!(concentration(&zero), Some((0.0, None)));
}

#[test]
fn unordered_measures() {
    // expected.py "unordered C (favourable)" and "(adverse)".
    let c = case_c();
    close(bgv(&c), 0.007005760000, "BGV");
    close(mdb(&c, true, true), 0.066800000000, "MDBW favourable");
    close(mdb(&c, true, false), 0.122500000000, "MDBU favourable");
    close(mdb(&c, false, true), 0.183200000000, "MDBW adverse");
    close(mdb(&c, false, false), 0.127500000000, "MDBU adverse");
    close(mdm(&c, true), 0.066800000000, "MDMW");
    close(mdm(&c, false), 0.089100000000, "MDMU");
    close(theil(&c), 0.006843254157, "TI");
    close(mld(&c), 0.007229641033, "MLD");
}

#[test]
fn a_rate_of_zero_counts_as_one_in_a_million_for_the_log_measures() {
    // expected.py "unordered D": est == 0 replaced by 0.000001 (ti.R, mld.R).
    let d = case_d();
    close(theil(&d), 0.210718110288, "TI");
    close(mld(&d), 2.000661303074, "MLD");
    close(bgv(&d), 0.032500000000, "BGV");
    close(mdb(&d, true, false), 0.233333333333, "MDBU");
    close(mdm(&d, false), 0.183333333333, "MDMU");
}

#[test]
fn equal_rates_show_no_inequality() {
    let flat = points(&[0.4, 0.4, 0.4, 0.4], &[10.0, 20.0, 30.0, 40.0]);
    let s = slope(&flat).unwrap();
    close(Some(s.sii()), 0.0, "SII");
    close(s.rii(), 1.0, "RII");
    close(concentration(&flat).unwrap().1, 0.0, "RCI");
    for (m, what) in [
        (bgv(&flat), "BGV"),
        (mdb(&flat, true, true), "MDBW"),
        (mdm(&flat, false), "MDMU"),
        (theil(&flat), "TI"),
        (mld(&flat), "MLD"),
    ] {
        close(m, 0.0, what);
    }
}

#[test]
fn two_groups_or_nobody_give_no_measure() {
    let two = points(&[0.2, 0.5], &[10.0, 10.0]);
    assert_eq!(slope(&two), None);
    assert_eq!(concentration(&two), None);
    assert_eq!(bgv(&two), None);
    assert_eq!(theil(&two), None);
    let nobody = points(&[0.2, 0.5, 0.1], &[0.0, 0.0, 0.0]);
    assert_eq!(mld(&nobody), None);
    assert_eq!(mdb(&nobody, true, true), None);
}

#[test]
fn the_order_is_the_cubes_labels() {
    use careledger_domain::values::AgeBand as A;
    let bands = [
        A::Under18,
        A::From18To39,
        A::From40To64,
        A::From65To74,
        A::From75,
    ];
    assert_eq!(bands.map(age_name), AGE_BANDS);
    assert_eq!(Stratifier::AgeBand.order(), Some(&AGE_BANDS[..]));
    assert_eq!(
        Stratifier::DeprivationQuintile.order(),
        Some(&QUINTILES[..])
    );
    let ordered: Vec<Stratifier> = Stratifier::ALL
        .into_iter()
        .filter(|s| s.order().is_some())
        .collect();
    assert_eq!(
        ordered,
        vec![Stratifier::AgeBand, Stratifier::DeprivationQuintile]
    );
}

fn row(group: &str, rate: f64, n: u64) -> GroupRow {
    GroupRow {
        group: group.to_string(),
        released: Some(Released {
            n,
            numerator: (rate * n as f64).round() as u64,
            rate,
            ci: Interval {
                low: rate,
                high: rate,
            },
            comparison: None,
        }),
        is_reference: false,
    }
}

fn withheld(group: &str) -> GroupRow {
    GroupRow {
        group: group.to_string(),
        released: None,
        is_reference: false,
    }
}

#[test]
fn an_ordered_table_ranks_its_released_groups_and_leaves_out_the_rest() {
    // Case A's quintiles, listed out of order, with an unknown group and a
    // withheld one (a withheld row has no figures, whatever its name).
    let rows = vec![
        row("unknown", 0.10, 900),
        row("Q3", 0.71, 300),
        row("Q1", 0.62, 400),
        withheld("Q9"),
        row("Q5", 0.80, 200),
        row("Q2", 0.68, 350),
        row("Q4", 0.75, 250),
    ];
    let m = Inequality::of_rows(Stratifier::DeprivationQuintile, true, &rows, 2);
    assert!(m.ordered && m.favourable);
    assert_eq!(m.groups, vec!["Q1", "Q2", "Q3", "Q4", "Q5"]);
    assert_eq!(m.outside_order, vec!["unknown"]);
    assert_eq!(m.withheld, 3, "one withheld row and two unnamed groups");
    // expected.py "ordered A" (the unknown group, 900 strong, changed nothing).
    close(m.sii, 0.210279720280, "SII");
    close(m.rii, 1.354886425329, "RII");
    close(m.aci, 0.033411111111, "ACI");
    close(m.rci, 0.047889791368, "RCI");
    assert_eq!((m.bgv, m.theil, m.mdb_weighted), (None, None, None));
    assert_eq!(
        m.note(),
        "Computed from the released figures of 5 group(s); 3 group(s) withheld by suppression left out; left out of the ordered measures: unknown."
    );
}

#[test]
fn an_unordered_table_measures_every_released_group() {
    let rows = vec![
        row("fr", 0.55, 120),
        withheld("de"),
        row("nl", 0.72, 300),
        row("en", 0.64, 80),
        row("tr", 0.80, 500),
    ];
    let m = Inequality::of_rows(Stratifier::Language, false, &rows, 0);
    assert!(!m.ordered);
    assert_eq!(m.withheld, 1);
    // expected.py "unordered C (adverse)".
    close(m.bgv, 0.007005760000, "BGV");
    close(m.mdb_weighted, 0.183200000000, "MDBW");
    close(m.mdb_unweighted, 0.127500000000, "MDBU");
    close(m.mdm_weighted, 0.066800000000, "MDMW");
    close(m.mdm_unweighted, 0.089100000000, "MDMU");
    close(m.theil, 0.006843254157, "TI");
    close(m.mld, 0.007229641033, "MLD");
    assert_eq!((m.sii, m.rii, m.aci, m.rci), (None, None, None, None));
    // Sex has two groups: nothing to summarise beyond D and R, and it says so.
    let two = Inequality::of_rows(
        Stratifier::Sex,
        true,
        &[row("female", 0.5, 100), row("male", 0.6, 100)],
        0,
    );
    assert_eq!((two.bgv, two.theil), (None, None));
    assert!(two.note().contains("fewer than 3 groups"), "{}", two.note());
}

#[test]
fn each_table_links_the_definitions_of_its_measures() {
    let codes = |ordered| -> Vec<&str> { Definition::for_table(ordered).map(|d| d.code).collect() };
    assert_eq!(
        codes(true),
        ["D", "R", "PAR", "PAF", "SII", "RII", "ACI", "RCI"]
    );
    assert_eq!(
        codes(false),
        [
            "D", "R", "PAR", "PAF", "BGV", "MDBW", "MDBU", "MDMW", "MDMU", "TI", "MLD"
        ]
    );
    for d in DEFINITIONS {
        assert!(
            d.url
                .starts_with("https://whoequity.github.io/healthequal/reference/"),
            "{}",
            d.code
        );
        assert!(!d.text.is_empty() && !d.name.is_empty());
    }
}
