//! The checkpoint's encoding refuses what it did not write whole: an older
//! format, a truncated file, a changed byte.

use super::*;

/// A checkpoint of an older format — JSON, as up to format 11 — is refused
/// (the runner then rebuilds from the log), also when its model would read.
#[test]
fn an_older_json_checkpoint_is_refused() {
    let m = fold(&sample());
    let json = serde_json::to_vec(&serde_json::json!({ "format": 11, "casework": m })).unwrap();
    assert!(Casework::from_snapshot(&json).is_none());
    let mut bytes = m.to_snapshot();
    bytes[8] ^= 1; // the format number
    assert!(Casework::from_snapshot(&bytes).is_none());
}

/// A truncated checkpoint, or one with any byte changed, is refused rather
/// than read as another model.
#[test]
fn a_truncated_or_damaged_checkpoint_is_refused() {
    let m = fold(&sample());
    let bytes = m.to_snapshot();
    assert!(Casework::from_snapshot(&bytes).is_some_and(|back| back == m));
    for len in [0, 1, 12, bytes.len() / 2, bytes.len() - 25, bytes.len() - 1] {
        assert!(
            Casework::from_snapshot(&bytes[..len]).is_none(),
            "cut at {len} of {}",
            bytes.len()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(
        Casework::from_snapshot(&longer).is_none(),
        "a byte appended"
    );
    // Every byte in turn (the header, both sections, the trailer), one bit
    // flipped: none is read as a model.
    for i in 0..bytes.len() {
        for bit in [0, 7] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1 << bit;
            assert!(
                Casework::from_snapshot(&damaged).is_none(),
                "bit {bit} of byte {i} of {} flipped",
                bytes.len()
            );
        }
    }
    // Two words changed so that a weaker sum (their total) would stay the same.
    let mut swapped = bytes.clone();
    let mid = 12 + (bytes.len() - 36) / 2 / 8 * 8;
    swapped[mid] = swapped[mid].wrapping_add(1);
    swapped[mid + 8] = swapped[mid + 8].wrapping_sub(1);
    assert!(Casework::from_snapshot(&swapped).is_none());
}
