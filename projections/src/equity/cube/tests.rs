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
