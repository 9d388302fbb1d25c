//! `careledger export-open-data` (issue 14): the open aggregate data set for
//! consortium sharing, a Frictionless Tabular Data Package validated by an
//! independent implementation (the `frictionless` Python package; `.ci/run`
//! installs it), holding the same perturbed figures the API releases.

use crate::api::{Server, mint};
use crate::helpers::run_to_end;
use serde_json::json;
use std::process::Command;

/// Whether `frictionless` can run here. Outside CI a missing package skips the
/// validation with the reason; under CI (`CI` set) it fails.
pub(crate) fn frictionless() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import frictionless"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "the frictionless validator must run in CI: pip install frictionless"
        );
        eprintln!("not validated: the Python package frictionless is not installed");
    }
    ok
}

/// The demo data set exported as a data package: valid for `frictionless`, one
/// table per stratifier with the documented columns, every row's counts the same
/// perturbed counts a quality manager's query of that quarter gets, no count from 1
/// to k − 1, and a second export into the same directory refused with nothing
/// written.
#[test]
fn the_open_data_package_is_valid_frictionless_and_holds_the_apis_released_figures() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "0", "--demo", "--demo-recipients", "400"],
    );
    s.wait_ready();
    let qm = mint(dir.path(), "qm-network", "quality_manager", &["*"]);
    assert!(s.running.stop_with("TERM").success());
    let out = dir.path().join("open-data");
    let done = run_to_end(
        &["export-open-data", "--out", out.to_str().unwrap()],
        dir.path(),
    );
    assert!(done.success, "{}", done.stderr);
    let descriptor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("datapackage.json")).unwrap())
            .unwrap();
    assert_eq!(descriptor["profile"], "tabular-data-package");
    assert_eq!(descriptor["resources"].as_array().unwrap().len(), 11);
    assert!(out.join("README.md").exists());
    let language = std::fs::read_to_string(out.join("equity-by-language.csv")).unwrap();
    let mut lines = language.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..4],
        [
            "quarter",
            "language",
            "referral_rate_denominator",
            "referral_rate_numerator"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() > 4, "{language}");
    for r in &rows {
        for c in [2, 3, 7, 8, 12, 13] {
            if let Ok(n) = r[c].parse::<u64>() {
                assert!(n == 0 || n >= 5, "a released count below k: {r:?}");
            }
        }
    }

    // The same figures as the API releases for the same quarter.
    let released = rows
        .iter()
        .find(|r| !r[2].is_empty())
        .expect("a released row");
    let (year, q) = released[0].split_once("-Q").unwrap();
    let first = (q.parse::<u32>().unwrap() - 1) * 3 + 1;
    let s = Server::restart(dir.path(), &qm);
    s.wait_ready();
    let t = s.data_as(
        &qm,
        "query($f: EquityFilterInput) { equity(by: LANGUAGE, outcome: REFERRAL_RATE, filter: $f) { groups { group suppressed n numerator } } }",
        json!({ "f": { "from": format!("{year}-{first:02}"), "to": format!("{year}-{:02}", first + 2) } }),
    );
    let g = t["equity"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == released[1])
        .unwrap()
        .clone();
    assert_eq!(
        (g["n"].to_string(), g["numerator"].to_string()),
        (released[2].to_string(), released[3].to_string()),
        "{released:?} against {g}"
    );
    assert!(s.running.stop_with("TERM").success());

    // Not over an earlier package.
    let again = run_to_end(
        &["export-open-data", "--out", out.to_str().unwrap()],
        dir.path(),
    );
    assert!(
        !again.success && again.stderr.contains("not empty"),
        "{}",
        again.stderr
    );

    // An export never makes a disclosure secret of its own (a second secret would
    // publish a second, independent draw of the same cells).
    let elsewhere = tempfile::tempdir().unwrap();
    let none = run_to_end(
        &[
            "export-open-data",
            "--out",
            elsewhere.path().join("p").to_str().unwrap(),
        ],
        elsewhere.path(),
    );
    assert!(
        !none.success && none.stderr.contains("no disclosure secret"),
        "{}",
        none.stderr
    );
    assert!(!elsewhere.path().join("disclosure-secret").exists());
    assert!(!elsewhere.path().join("p").exists(), "nothing was written");

    if frictionless() {
        let v = Command::new("python3")
            .args([
                "-c",
                "import sys, frictionless\nr = frictionless.validate(sys.argv[1])\nprint('VALID' if r.valid else r.to_summary())",
            ])
            .arg(out.join("datapackage.json"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&v.stdout);
        assert!(
            v.status.success() && text.trim() == "VALID",
            "{text}\n{}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
}
