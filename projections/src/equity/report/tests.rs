use super::*;
use proptest::prelude::*;

fn counts(identified: u64, referred: u64) -> Counts {
    Counts {
        identified,
        referred,
        ..Counts::default()
    }
}

#[test]
fn a_planted_disparity_shows_as_a_significant_ratio_near_one_half() {
    let groups = vec![
        ("fr".to_string(), counts(1000, 400)),
        ("nl".to_string(), counts(1000, 800)),
    ];
    let t = table(
        &groups,
        OutcomeKind::ReferralRate,
        &Reference::MostFavourable,
        5,
    );
    assert_eq!(t.reference.as_deref(), Some("nl"));
    assert!(t.suppressed.is_empty());
    let fr = t
        .rows
        .iter()
        .find(|r| r.group == "fr")
        .unwrap()
        .released
        .as_ref()
        .unwrap();
    let c = fr.comparison.as_ref().unwrap();
    let (ratio, ci) = c.ratio.unwrap();
    assert!((ratio - 0.5).abs() < 1e-12);
    assert!(ci.low > 0.45 && ci.high < 0.56, "{ci:?}");
    assert!(c.p_value < 1e-50, "{}", c.p_value);
    assert_eq!(c.test, Test::ZTest);
    assert_eq!(c.parity, Some(false));
    let s = t.summary.clone().unwrap();
    assert!((s.overall_rate - 0.6).abs() < 1e-12);
    assert!((s.max_min_ratio.unwrap() - 2.0).abs() < 1e-12);
    // HEAT: reference 0.8 against overall 0.6: PAR 0.2, PAF 1/3.
    assert!((s.par.unwrap() - 0.2).abs() < 1e-12);
    assert!((s.paf.unwrap() - 1.0 / 3.0).abs() < 1e-12);
    let csv = t.to_csv("language");
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .starts_with("language,n,numerator,rate")
    );
    assert!(csv.contains("fr,1000,400,0.400000,"), "{csv}");
}

#[test]
fn a_small_group_is_withheld_with_a_complementary_one() {
    let groups = vec![
        ("a".to_string(), counts(100, 50)),
        ("b".to_string(), counts(60, 30)),
        ("c".to_string(), counts(3, 1)),
    ];
    let t = table(&groups, OutcomeKind::ReferralRate, &Reference::Largest, 5);
    assert_eq!(
        t.suppressed,
        vec![
            ("b".to_string(), SuppressionRule::Complementary),
            ("c".to_string(), SuppressionRule::DenominatorBelowK)
        ]
    );
    assert!(
        t.rows
            .iter()
            .filter(|r| r.group != "a")
            .all(|r| r.released.is_none())
    );
    assert_eq!(t.reference.as_deref(), Some("a"));
    let csv = t.to_csv("sex");
    assert!(
        csv.contains("c,,,,,,,,,,,,,,,false,DenominatorBelowK"),
        "{csv}"
    );
    // Totals below k: everything withheld.
    let tiny = table(
        &[
            ("a".to_string(), counts(2, 1)),
            ("b".to_string(), counts(1, 1)),
        ],
        OutcomeKind::ReferralRate,
        &Reference::Largest,
        5,
    );
    assert!(tiny.summary.is_none() && tiny.rows.iter().all(|r| r.released.is_none()));
}

proptest! {
    /// No released cell is below k, and no withheld cell can be recovered from the
    /// released totals: when the totals are released, either nothing is withheld or
    /// at least two groups are.
    #[test]
    fn suppression_releases_no_small_cell_and_no_recoverable_one(
        cells in prop::collection::vec((0u64..40, 0u64..40), 1..8),
        k in 1u64..10,
    ) {
        let groups: Vec<(String, Counts)> = cells
            .iter()
            .enumerate()
            .map(|(i, (a, b))| (format!("g{i}"), counts(a + b, *a)))
            .collect();
        let t = table(&groups, OutcomeKind::ReferralRate, &Reference::Largest, k);
        for r in &t.rows {
            if let Some(x) = &r.released {
                for c in [x.n, x.numerator, x.n - x.numerator] {
                    prop_assert!(c == 0 || c >= k, "released {c} < {k}");
                }
            }
        }
        if t.summary.is_some() {
            let withheld = t.rows.iter().filter(|r| r.released.is_none()).count();
            prop_assert!(withheld != 1 || t.rows.len() == 1, "one withheld group is recoverable from the totals");
        }
    }
}

#[test]
fn two_way_suppression_protects_rows_and_columns() {
    let c = |r: &str, col: &str, num: u64, den: u64| (r.to_string(), col.to_string(), num, den);
    // One small cell (b, y) forces a second in its row and, in turn, its column.
    let cells = vec![
        c("a", "x", 20, 40),
        c("a", "y", 10, 30),
        c("b", "x", 25, 50),
        c("b", "y", 1, 3),
    ];
    let rules = suppress_two_way(&cells, 5);
    assert_eq!(rules[3], Some(SuppressionRule::DenominatorBelowK));
    let withheld = rules.iter().filter(|r| r.is_some()).count();
    assert!(withheld >= 2);
    for line in 0..2 {
        for key in ["a", "b", "x", "y"] {
            let n = cells
                .iter()
                .zip(&rules)
                .filter(|(c, r)| (if line == 0 { &c.0 } else { &c.1 }) == key && r.is_some())
                .count();
            assert_ne!(
                n, 1,
                "a line with one withheld cell lets it be recovered: {key}"
            );
        }
    }
}
