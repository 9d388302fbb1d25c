//! The equity use cases' rules and released tables, without a store.

use super::rates::{self, unnamed};
use super::*;
use careledger_domain::store::Actor;
use careledger_domain::values::{NeedDomain, SiteId};
use careledger_projections::equity::cube::Counts;
use careledger_projections::equity::disclosure;
use careledger_projections::equity::report::OutcomeKind;

fn access(role: Role, sites: crate::SiteScope) -> Access {
    Access::new(
        Actor {
            subject: "t".into(),
            role,
        },
        sites,
    )
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

fn counts(identified: u64, referred: u64) -> Counts {
    Counts {
        identified,
        referred,
        ..Counts::default()
    }
}

fn code(e: AppError) -> (&'static str, String) {
    (e.code().unwrap_or("-"), e.to_string())
}

#[test]
fn k_may_be_stricter_than_the_minimum_but_not_looser() {
    assert_eq!(threshold(5, None).unwrap(), 5);
    assert_eq!(threshold(5, Some(50)).unwrap(), 50);
    assert_eq!(
        code(threshold(5, Some(2)).unwrap_err()),
        (
            "BAD_USER_INPUT",
            "k must be at least 5 (the server's minimum cell size), got 2".into()
        )
    );
    assert!(threshold(1, Some(0)).is_err());
}

#[test]
fn months_are_yyyy_mm_within_the_century() {
    assert_eq!(month("2026-03", "from").unwrap(), cube::month_of(2026, 3));
    assert_eq!(
        code(month("2026-13", "from").unwrap_err()),
        (
            "BAD_USER_INPUT",
            "from must be a month as YYYY-MM, got '2026-13'".into()
        )
    );
    assert!(month("1999-12", "to").is_err());
    assert!(month("march", "to").is_err());
    let long = "x".repeat(100);
    assert!(
        month(&long, "to")
            .unwrap_err()
            .to_string()
            .ends_with(&format!("'{}…'", "x".repeat(64)))
    );
}

#[test]
fn a_filter_is_bounded_to_the_callers_sites() {
    let qm = access(
        Role::QualityManager,
        crate::SiteScope::Only(vec![site("be-leuven")]),
    );
    let f = cube_filter(&qm, Filter::default()).unwrap();
    assert_eq!(f.sites, Some(vec!["be-leuven".to_string()]));
    let asked = Filter {
        sites: Some(vec!["be-gent".into()]),
        ..Filter::default()
    };
    assert_eq!(
        code(cube_filter(&qm, asked.clone()).unwrap_err()),
        (
            "FORBIDDEN",
            "your credentials do not cover site 'be-gent'".into()
        )
    );
    // An external application reads aggregates network-wide.
    let ext = access(
        Role::ExternalApp,
        crate::SiteScope::Only(vec![site("be-leuven")]),
    );
    assert_eq!(
        cube_filter(&ext, asked).unwrap().sites,
        Some(vec!["be-gent".to_string()])
    );
    let domains = Filter {
        domains: Some(vec![NeedDomain::Psychosocial]),
        ..Filter::default()
    };
    assert_eq!(
        cube_filter(&ext, domains).unwrap().domains,
        Some(vec![NeedDomain::Psychosocial.name().to_string()])
    );
}

fn query(by: Stratifier) -> TableQuery {
    TableQuery {
        by,
        outcome: Outcome::ReferralRate,
        reference: Reference::Largest,
    }
}

fn groups() -> Vec<(String, Counts)> {
    vec![
        ("nl".to_string(), counts(100, 80)),
        ("fr".to_string(), counts(200, 80)),
        ("de".to_string(), counts(3, 1)),
        ("en".to_string(), counts(150, 90)),
    ]
}

#[test]
fn an_exact_table_names_its_small_groups_and_says_it_is_exact() {
    let t = rates::table(
        groups(),
        &query(Stratifier::Language),
        OutcomeKind::ReferralRate,
        5,
        None,
    );
    assert_eq!(t.control.method, DisclosureMethod::Exact);
    let lines: Vec<&str> = t.csv.lines().collect();
    assert_eq!(
        lines[0],
        "language,n,numerator,rate,rate_low,rate_high,difference,difference_low,difference_high,ratio,ratio_low,ratio_high,p_value,test,parity,reference,suppressed,disclosure_control"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("fr,200,80,0.400000,")),
        "{}",
        t.csv
    );
    // de is withheld for its size, nl (the smallest other) with it.
    assert!(lines.contains(&"nl,,,,,,,,,,,,,,,false,Complementary,exact"));
    assert!(lines.contains(&"de,,,,,,,,,,,,,,,false,DenominatorBelowK,exact"));
    let fr = t.groups.iter().find(|g| g.group == "fr").unwrap();
    assert_eq!((fr.n, fr.numerator, fr.test), (Some(200), Some(80), None));
    assert!(fr.is_reference);
    // en is compared with fr (the largest): its test is named in both.
    let en = t.groups.iter().find(|g| g.group == "en").unwrap();
    assert_eq!(en.test, Some(Test::ZTest));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("en,150,90,") && l.contains(",ZTest,"))
    );
    assert!(t.suppressed.contains(&Withheld {
        group: "de".into(),
        rule: SuppressionRule::DenominatorBelowK
    }));
}

#[test]
fn a_perturbed_table_leaves_small_groups_out_and_counts_them() {
    let method = CellKeyMethod::new(b"secret");
    let t = rates::table(
        groups(),
        &query(Stratifier::Language),
        OutcomeKind::ReferralRate,
        5,
        Some(&method),
    );
    assert_eq!(
        t.control,
        DisclosureControl {
            method: DisclosureMethod::CellKeyPerturbation,
            max_deviation: disclosure::MAX_DEVIATION,
            k: 5
        }
    );
    assert!(t.groups.iter().all(|g| g.group != "de"));
    assert!(!t.csv.contains("\nde,"));
    assert_eq!(t.suppressed.last(), Some(&unnamed(1)));
    assert_eq!(
        t.suppressed.last().unwrap().group,
        "(1 small group(s), not named)"
    );
    assert!(
        t.csv
            .lines()
            .all(|l| l.ends_with("disclosure_control") || l.ends_with(",cell_key_perturbation"))
    );
}

#[test]
fn a_group_name_with_a_comma_is_quoted() {
    let g = vec![("a, b".to_string(), counts(100, 50))];
    let t = rates::table(
        g,
        &query(Stratifier::Region),
        OutcomeKind::ReferralRate,
        5,
        None,
    );
    assert!(t.csv.contains("\n\"a, b\",100,50,"), "{}", t.csv);
}

#[test]
fn a_two_way_table_withholds_small_cells_and_their_complements() {
    let table = vec![
        (("fr".to_string(), "female".to_string()), counts(100, 40)),
        (("fr".to_string(), "male".to_string()), counts(50, 20)),
        (("de".to_string(), "female".to_string()), counts(3, 1)),
        (("de".to_string(), "male".to_string()), counts(60, 30)),
        (("en".to_string(), "female".to_string()), counts(50, 20)),
        (("en".to_string(), "male".to_string()), counts(40, 20)),
    ];
    let q = TwoWayQuery {
        rows: Stratifier::Language,
        columns: Stratifier::Sex,
        outcome: Outcome::ReferralRate,
        kind: OutcomeKind::ReferralRate,
    };
    let t = rates::two_way(&table, &q, 5, None);
    let lines: Vec<&str> = t.csv.lines().collect();
    assert_eq!(
        lines[0],
        "language,sex,n,numerator,rate,rate_low,rate_high,suppressed,disclosure_control"
    );
    assert!(lines.contains(&"de,female,,,,,,DENOMINATOR_BELOW_K,exact"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("fr,female,100,40,0.400000,")),
        "{}",
        t.csv
    );
    let de = t
        .cells
        .iter()
        .find(|c| c.row == "de" && c.column == "female");
    assert!(de.unwrap().suppressed);
    assert!(t.suppressed.iter().any(|w| w.group == "de × female"));
    // Perturbed, the small cell is left out and counted.
    let method = CellKeyMethod::new(b"secret");
    let t = rates::two_way(&table, &q, 5, Some(&method));
    assert!(
        !t.cells
            .iter()
            .any(|c| c.row == "de" && c.column == "female")
    );
    assert_eq!(t.suppressed.last(), Some(&unnamed(1)));
}

#[test]
fn a_trend_is_a_table_per_month() {
    let rows = vec![
        (cube::month_of(2026, 1), "nl".to_string(), counts(100, 80)),
        (cube::month_of(2026, 2), "nl".to_string(), counts(100, 50)),
    ];
    let points = rates::trend(rows, OutcomeKind::ReferralRate, 5, None);
    let months: Vec<(&str, Option<f64>)> =
        points.iter().map(|p| (p.month.as_str(), p.rate)).collect();
    assert_eq!(months, vec![("2026-01", Some(0.8)), ("2026-02", Some(0.5))]);
}

#[test]
fn a_time_query_ends_at_its_last_month_or_today() {
    let day = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
            .div_euclid(86_400) as i32
    };
    let today = day(2026, 5, 10);
    assert_eq!(time::end_day(today, None), today);
    assert_eq!(
        time::end_day(today, Some(cube::month_of(2025, 12))),
        day(2025, 12, 31)
    );
    assert_eq!(time::end_day(today, Some(cube::month_of(2026, 5))), today);
}

#[test]
fn outcomes_have_command_line_names_and_rates() {
    assert_eq!(Outcome::TimeToCompletion.name(), "time_to_completion");
    assert_eq!(
        Outcome::RejectionRate.rate(),
        Some(OutcomeKind::RejectionRate)
    );
    assert_eq!(Outcome::TimeToReferral.rate(), None);
}

/// Counts whose cell keys vary with `seed`, as the cube's would.
fn keyed(identified: u64, referred: u64, seed: u32) -> Counts {
    Counts {
        keys: std::array::from_fn(|i| seed.wrapping_mul(2_654_435_761).wrapping_add(i as u32)),
        ..counts(identified, referred)
    }
}

#[test]
fn the_inequality_measures_come_from_the_released_rows() {
    use careledger_projections::equity::inequality::{self, Point};
    // Deprivation quintiles listed out of order, an unknown group, and a Q5 too
    // small to release — which has Q4, the smallest other group, withheld with it
    // (complementary suppression).
    let raw = vec![
        ("Q3".to_string(), keyed(300, 210, 3)),
        ("unknown".to_string(), keyed(600, 150, 9)),
        ("Q1".to_string(), keyed(400, 250, 1)),
        ("Q2".to_string(), keyed(350, 240, 2)),
        ("Q4".to_string(), keyed(250, 190, 4)),
        ("Q5".to_string(), keyed(3, 3, 5)),
    ];
    let q = query(Stratifier::DeprivationQuintile);
    let method = CellKeyMethod::new(b"inequality");
    let t = rates::table(raw.clone(), &q, OutcomeKind::ReferralRate, 5, Some(&method));
    // The released counts differ from the cube's for some group, so a measure
    // computed from the cube's own counts would differ too.
    let released_n = |g: &str| t.groups.iter().find(|x| x.group == g).and_then(|x| x.n);
    assert!(
        raw.iter()
            .any(|(g, c)| released_n(g).is_some_and(|n| n != c.identified)),
        "{:?}",
        t.groups
    );
    let m = t.inequality.clone().expect("measures with the summary");
    assert!(t.groups.iter().any(|g| g.group == "Q4" && g.suppressed));
    // Worked again from the table's own released rows, Q1 to Q3 in order.
    let rows: Vec<Point> = ["Q1", "Q2", "Q3"]
        .iter()
        .map(|g| {
            let x = t.groups.iter().find(|x| x.group == *g).unwrap();
            Point {
                rate: x.rate.unwrap(),
                n: x.n.unwrap() as f64,
            }
        })
        .collect();
    let line = inequality::slope(&rows).unwrap();
    let (aci, rci) = inequality::concentration(&rows).unwrap();
    assert_eq!(m.sii, Some(line.sii()));
    assert_eq!(m.rii, line.rii());
    assert_eq!((m.aci, m.rci), (Some(aci), rci));
    assert!(m.sii.unwrap() > 0.0, "referral rises from Q1 to Q3: {m:?}");
    // From the cube's exact counts the slope is not the released one.
    let exact: Vec<Point> = ["Q1", "Q2", "Q3"]
        .iter()
        .map(|g| {
            let c = raw.iter().find(|(x, _)| x == g).unwrap().1;
            Point {
                rate: c.referred as f64 / c.identified as f64,
                n: c.identified as f64,
            }
        })
        .collect();
    assert_ne!(m.sii, Some(inequality::slope(&exact).unwrap().sii()));
    // Q5 (unnamed in a perturbed table) and Q4 were withheld and are left out,
    // as is unknown (outside the order), each said so.
    assert_eq!(t.suppressed.last(), Some(&unnamed(1)));
    assert_eq!(m.groups, vec!["Q1", "Q2", "Q3"]);
    assert_eq!(m.outside_order, vec!["unknown"]);
    assert_eq!(m.withheld, 2, "{m:?}");
    assert_eq!(
        m.note(),
        "Computed from the released figures of 3 group(s); 2 group(s) withheld by suppression left out; left out of the ordered measures: unknown."
    );
    assert!(m.ordered);
    assert_eq!(
        (m.bgv, m.theil),
        (None, None),
        "ordered: no unordered measures"
    );
}
