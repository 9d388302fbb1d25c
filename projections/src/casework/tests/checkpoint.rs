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

/// The sections of a checkpoint: (bytes, checksum, kind) each, as its trailer says.
fn sections(bytes: &[u8]) -> Vec<(Vec<u8>, u64, u64)> {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let count = word(bytes.len() - 8) as usize;
    let trailer = bytes.len() - 8 - count * 24;
    let mut at = 12;
    (0..count)
        .map(|i| {
            let (len, sum, kind) = (
                word(trailer + 24 * i) as usize,
                word(trailer + 24 * i + 8),
                word(trailer + 24 * i + 16),
            );
            at += len;
            (bytes[at - len..at].to_vec(), sum, kind)
        })
        .collect()
}

/// A checkpoint made of `sections`, each with its checksum computed again.
fn assemble(header: &[u8], sections: &[(Vec<u8>, u64, u64)]) -> Vec<u8> {
    let mut out = header.to_vec();
    let mut trailer = Vec::new();
    for (data, _, kind) in sections {
        out.extend_from_slice(data);
        let mut sum = crate::casework::checkpoint::Checksum::default();
        sum.update(data);
        trailer.extend_from_slice(&(data.len() as u64).to_le_bytes());
        trailer.extend_from_slice(&sum.finish().to_le_bytes());
        trailer.extend_from_slice(&kind.to_le_bytes());
    }
    out.extend_from_slice(&trailer);
    out.extend_from_slice(&(sections.len() as u64).to_le_bytes());
    out
}

/// Recipients and need cases are written in runs, a section each (three to a
/// run in tests): a model of many reads back whole, and a section that holds
/// something after its value is refused even when its checksum matches.
#[test]
fn many_sections_read_back_whole_and_each_holds_exactly_one_value() {
    let mut log = sample();
    for n in 10..20 {
        let p = log.register(n, "nl-maastricht");
        log.need_case(nc(n), vec![(identify(n, &p), 1, "c4")]);
    }
    let m = fold(&log);
    assert!(m.recipient_count() >= 12 && m.need_case_count() >= 14);
    let bytes = m.to_snapshot();
    let parts = sections(&bytes);
    let kinds = |k: u64| parts.iter().filter(|p| p.2 == k).count();
    assert_eq!(parts[0].2, 0, "section A first");
    assert_eq!(kinds(0), 1);
    assert_eq!(kinds(1), m.recipient_count().div_ceil(3));
    assert!(kinds(2) >= 5, "{} need-case sections", kinds(2));
    assert!(Casework::from_snapshot(&bytes).is_some_and(|back| back == m));
    // Put together again unchanged, it reads (the check below is not the assembly's fault).
    let again = assemble(&bytes[..12], &parts);
    assert_eq!(again, bytes);
    for i in 0..parts.len() {
        let mut longer = parts.clone();
        longer[i].0.push(0xc0); // a MessagePack nil after the section's value
        assert!(
            Casework::from_snapshot(&assemble(&bytes[..12], &longer)).is_none(),
            "section {i} with a value after its own"
        );
    }
    // Two recipient sections swapped read back the same model; a need-case
    // section moved out of id order is refused.
    let mut swapped = parts.clone();
    swapped.swap(1, 2);
    assert!(Casework::from_snapshot(&assemble(&bytes[..12], &swapped)).is_some_and(|b| b == m));
    let mut disordered = parts.clone();
    let last = disordered.len() - 1;
    disordered.swap(last - 1, last);
    assert!(Casework::from_snapshot(&assemble(&bytes[..12], &disordered)).is_none());
    // A recipient written twice (a recipient section repeated) is refused.
    let mut twice = parts.clone();
    twice.insert(1, parts[1].clone());
    assert!(Casework::from_snapshot(&assemble(&bytes[..12], &twice)).is_none());
    // A recipient section after the need cases (whose profiles are shared as
    // they are decoded, once every recipient is) is refused.
    let mut late = parts.clone();
    let recipients = late.remove(1);
    late.push(recipients);
    assert!(Casework::from_snapshot(&assemble(&bytes[..12], &late)).is_none());
}
