//! Tests of the cube's storage: stratifier indices. (The time tables are
//! checked against the need cases in `casework::tests::referral_log`.)

use super::*;

#[test]
fn stratifier_indices_follow_the_declaration_order() {
    for (i, s) in Stratifier::ALL.iter().enumerate() {
        assert_eq!(s.index(), i, "{s:?}");
    }
    assert_eq!(Stratifier::ALL[DERIVED[0]], Stratifier::Site);
    assert_eq!(Stratifier::ALL[DERIVED[1]], Stratifier::Domain);
}

/// A dictionary's ids are the order values first came in, whether it is
/// searched by scanning (small) or through its index (past `SCANNED`), and
/// after a checkpoint, which holds the values but not the index.
#[test]
fn dictionary_ids_stay_put_across_its_index_and_a_checkpoint() {
    let mut d = cell::Dictionary::default();
    let names: Vec<String> = (0..40).map(|i| format!("value-{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(usize::from(d.id(n)), i);
        // Asked again at once, and the first value again: the same ids.
        assert_eq!(usize::from(d.id(n)), i);
        assert_eq!(d.id(&names[0]), 0);
    }
    let mut restored: cell::Dictionary =
        serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    for (i, n) in names.iter().enumerate().rev() {
        assert_eq!(usize::from(restored.id(n)), i);
        assert_eq!(restored.find(n), Some(i as u16));
    }
    assert_eq!(usize::from(restored.id("new")), names.len());
    assert_eq!(restored, {
        let mut more = d.clone();
        more.id("new");
        more
    });
}

fn case_measures(referrals: u64, rejected: [u64; 5], times: [TimeObs; 2]) -> Measures {
    Measures {
        to_referral: times[0],
        to_completion: times[1],
        counts: Counts {
            identified: 1,
            referred: u64::from(referrals > 0),
            completed: u64::from(matches!(times[1], TimeObs::Event(_))),
            unmet: u64::from(matches!(times[1], TimeObs::Censored(_))),
            referrals,
            rejected,
            keys: [0; 10],
        }
        .keyed(0x9e37_79b9),
    }
}

fn labels_named(site: &str) -> Labels<'_> {
    Labels {
        month: month_of(2026, 3),
        site,
        need: "psy.fear-of-recurrence",
        values: [
            Label::Name("40-64"),
            Label::Name("female"),
            Label::Text("BE-VLI"),
            Label::Name("BE"),
            Label::Text("nl"),
            Label::Name("no"),
            Label::Name("Q3"),
            Label::Name("patient"),
            Label::Text(site),
            Label::Name("breast"),
            Label::Name("psychosocial"),
        ],
    }
}

/// What `Casework::apply` takes as a case's contribution before an event is
/// read back from its row: every measure the row was written from, exactly,
/// and "cannot say" where the compact row saturates.
#[test]
fn a_rows_measures_read_back_as_they_were_written() {
    let mut cube = Cube::default();
    let key = cube.intern(&labels_named("be-leuven"));
    assert_eq!(cube.measures_of(key.row()), Some(None), "a fresh row");
    let steps = [
        Some(case_measures(
            0,
            [0; 5],
            [TimeObs::Open(20_513), TimeObs::Open(20_513)],
        )),
        Some(case_measures(
            1,
            [0; 5],
            [TimeObs::Event(3), TimeObs::Open(20_513)],
        )),
        Some(case_measures(
            2,
            [1, 0, 0, 2, 0],
            [TimeObs::Event(3), TimeObs::Event(40)],
        )),
        Some(case_measures(
            0,
            [0; 5],
            [TimeObs::Censored(9), TimeObs::Censored(9)],
        )),
        Some(case_measures(
            3,
            [0, 0, 0, 0, u64::from(u16::MAX) - 1],
            // The farthest days chrono can give: the days between its first
            // and last instants, the day of its first.
            [TimeObs::Event(191_000_000), TimeObs::Open(-95_800_000)],
        )),
        None,
        Some(case_measures(
            1,
            [0; 5],
            [TimeObs::Event(0), TimeObs::Event(0)],
        )),
    ];
    let mut before = None;
    for after in steps {
        cube.replace(&key, before.as_ref(), after.as_ref());
        assert_eq!(cube.measures_of(key.row()), Some(after), "{after:?}");
        before = after;
    }
    // Saturated counts: the row cannot say, so the caller works them out.
    let saturated = case_measures(u64::from(u16::MAX), [0; 5], [TimeObs::Event(1); 2]);
    cube.replace(&key, before.as_ref(), Some(&saturated));
    assert_eq!(cube.measures_of(key.row()), None);
    // Nor can it for a day beyond what its thirty bits hold (no date chrono
    // can name is that far).
    let mut before = saturated;
    for times in [
        [TimeObs::Event(1 << 30), TimeObs::Open(0)],
        [TimeObs::Event(0), TimeObs::Open(i32::MIN)],
    ] {
        let far = case_measures(1, [0; 5], times);
        cube.replace(&key, Some(&before), Some(&far));
        assert_eq!(cube.measures_of(key.row()), None, "{times:?}");
        before = far;
    }
    assert_eq!(cube.measures_of(key.row() + 1), None, "no such row");
}

/// A change worked out once and added to each cell gives the counts and keys
/// that taking `before` out and putting `after` in one at a time gives,
/// counts going down included.
#[test]
fn a_change_adds_after_and_takes_out_before() {
    let times = [TimeObs::Event(1); 2];
    let a = case_measures(2, [1, 0, 0, 0, 3], times).counts;
    let b = case_measures(1, [0, 0, 0, 0, 1], times).counts;
    let mut cell = cell::CellCounts::default();
    cell.change(&cell::Change::between(None, Some(&a)));
    cell.change(&cell::Change::between(None, Some(&a)));
    assert_eq!(cell.counts(), a.plus(&a));
    cell.change(&cell::Change::between(Some(&a), Some(&b)));
    assert_eq!(cell.counts(), a.plus(&b));
    cell.change(&cell::Change::between(Some(&a), None));
    cell.change(&cell::Change::between(Some(&b), None));
    assert!(cell.is_zero(), "{:?}", cell.counts());
}

/// A fixed name is interned by its address, text by comparing it: either
/// way one value gets one id, the same after a checkpoint (which keeps no
/// addresses) as before.
#[test]
fn fixed_names_and_text_intern_to_the_same_ids() {
    let mut cube = Cube::default();
    let first = cube.intern(&labels_named("be-leuven"));
    // The same texts at other addresses, as text and as names.
    let owned: Vec<String> = labels_named("be-leuven")
        .values
        .iter()
        .map(|v| v.to_string())
        .collect();
    let mut as_text = labels_named("be-leuven");
    for (v, s) in as_text.values.iter_mut().zip(&owned) {
        *v = Label::Text(s);
    }
    let leaked: &'static str = String::from("female").leak();
    let mut other_name = labels_named("be-leuven");
    other_name.values[1] = Label::Name(leaked);
    let second = cube.intern(&as_text);
    let third = cube.intern(&other_name);
    for k in [second, third] {
        assert_eq!(
            (k.month, k.site, k.need, k.values),
            (first.month, first.site, first.need, first.values)
        );
    }
    let mut restored: Cube = serde_json::from_value(serde_json::to_value(&cube).unwrap()).unwrap();
    assert_eq!(restored, cube);
    let mut another = labels_named("de-aachen");
    another.values[1] = Label::Name("male");
    let (a, b) = (restored.intern(&another), cube.intern(&another));
    assert_eq!((a.site, a.values), (b.site, b.values));
    assert_ne!(a.values[1], first.values[1]);
}

/// The whole days a time to event counts are chrono's `(to - from).num_days()`
/// (none when negative), across second and nanosecond boundaries and a leap
/// second.
#[test]
fn days_between_are_chronos_whole_days() {
    use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
    let base = Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap();
    let at = |secs: i64, nanos: i64| base + Duration::seconds(secs) + Duration::nanoseconds(nanos);
    let leap: DateTime<Utc> = NaiveDate::from_ymd_opt(2016, 12, 31)
        .unwrap()
        .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
        .unwrap()
        .and_utc();
    let mut pairs = vec![
        (leap, leap + Duration::days(2)),
        (leap - Duration::days(3), leap),
    ];
    for from_nanos in [0, 1, 999_999_999] {
        for secs in [
            -86_401,
            -86_400,
            -1,
            0,
            1,
            86_399,
            86_400,
            86_401,
            40 * 86_400,
        ] {
            for to_nanos in [0, 1, 500_000_000, 999_999_999] {
                pairs.push((at(0, from_nanos), at(secs, to_nanos)));
            }
        }
    }
    for (from, to) in pairs {
        let chrono = (to - from).num_days().max(0) as u32;
        assert_eq!(measures::days_between(from, to), chrono, "{from} → {to}");
    }
}
