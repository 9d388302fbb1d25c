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
