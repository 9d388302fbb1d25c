//! Fuzzing the event decoder and the HSDS reader (issue 13).
//!
//! `cargo fuzz` needs a nightly toolchain, so these are `proptest` properties that
//! the ordinary `cargo test` runs: structure-aware (they start from valid encoded
//! events and the shipped HSDS package, then mutate fields, truncate, flip bytes,
//! nest deeply, swap types, names and versions) and checked against one rule:
//! whatever the input, the answer is a value or a typed error, never a panic.
//!
//! Each property runs `CARELEDGER_FUZZ_CASES` cases (a small default, a few seconds
//! each; `.ci/run` sets more). A longer campaign:
//! `CARELEDGER_FUZZ_CASES=200000 cargo test --release -p careledger-infra --test fuzz`.
//! A failing input is printed shrunk; it is kept as a named regression test in the
//! module it was found in.

mod decoder;
mod forms;
mod hsds;
mod json;

use proptest::test_runner::Config;

/// The proptest configuration of a fuzz property: `CARELEDGER_FUZZ_CASES` cases
/// (else `default_cases`), and no regression files written into the tree (failures
/// become named tests instead).
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("CARELEDGER_FUZZ_CASES")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
