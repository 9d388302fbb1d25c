//! The equity dashboard in headless Chromium (issue 18), driven by
//! `tests/browser/dashboard.mjs` with no network beyond 127.0.0.1: a quality
//! manager signs in, picks a stratifier and an outcome in the form, and each
//! chart's SVG holds one mark per released group with the API's own figures; a
//! withheld group is listed with its rule and not drawn; a coordinator of one
//! site never sees another site; sign-out ends the session. Screenshots go to
//! `target/ci-artifacts/` (CI keeps them).

use crate::api::{Server, mint};
use crate::browser::browser_tools;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Runs the script as `token` choosing `by` and `outcome`; its report.
fn drive(s: &Server, token: &str, by: &str, outcome: &str, shots: &str) -> Option<Value> {
    let tools = match browser_tools() {
        Ok(t) => t,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the dashboard browser test must run in CI: {why}")
        }
        Err(why) => {
            eprintln!("dashboard browser test not run: {why}");
            return None;
        }
    };
    let script = tools.script.with_file_name("dashboard.mjs");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/ci-artifacts")
        .join(shots);
    let out = Command::new(&tools.node)
        .arg(&script)
        .args([s.base.as_str(), by, outcome])
        .env("CARELEDGER_TOKEN", token)
        .env("CARELEDGER_CHROMIUM", &tools.chromium)
        .env("CARELEDGER_ARTIFACTS", &artifacts)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("no report ({e}):\n{stdout}\n{stderr}"));
    assert!(out.status.success(), "{report:#}\n{stderr}");
    assert_eq!(report["offOrigin"], json!([]), "{report:#}");
    assert_eq!(report["csp"], json!([]), "{report:#}");
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert_eq!(report["signedOut"], true, "{report:#}");
    assert_eq!(
        report["afterSignOut"], true,
        "the page outlived sign-out: {report:#}"
    );
    assert_eq!(
        report["keyboardReachesChart"], true,
        "no chart mark is reachable by keyboard"
    );
    for chart in ["rates", "ratios", "survival", "trend", "heatmap"] {
        let c = &report["charts"][chart];
        assert!(
            c["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{chart} has no <title>"
        );
        assert!(
            c["desc"].as_str().is_some_and(|t| !t.is_empty()),
            "{chart} has no <desc>"
        );
    }
    Some(report)
}

#[test]
fn a_quality_manager_reads_the_apis_figures_in_the_charts_and_withheld_groups_are_not_drawn() {
    let dir = tempfile::tempdir().unwrap();
    // A threshold of 20 withholds the smaller language groups of 400 recipients.
    let s = Server::start(
        dir.path(),
        &[
            "--rate-limit",
            "0",
            "--demo",
            "--demo-recipients",
            "400",
            "--min-cell",
            "20",
        ],
    );
    s.wait_ready();
    let qm = mint(dir.path(), "qm-network", "quality_manager", &["*"]);
    let Some(report) = drive(&s, &qm, "language", "completion_rate", "quality-manager") else {
        return;
    };
    let url = report["url"].as_str().unwrap();
    assert!(
        url.contains("by=language") && url.contains("outcome=completion_rate"),
        "the URL holds the view: {url}"
    );
    let api = s.data_as(
        &qm,
        "{ equity(by: LANGUAGE, outcome: COMPLETION_RATE) { groups { group rate rateLow rateHigh suppressed } suppressed { group rule } } }",
        json!({}),
    );
    let groups = api["equity"]["groups"].as_array().unwrap();
    let released: Vec<&Value> = groups.iter().filter(|g| g["suppressed"] == false).collect();
    let marks = report["charts"]["rates"]["marks"].as_array().unwrap();
    assert_eq!(
        marks.len(),
        released.len(),
        "one mark per released group: {report:#}"
    );
    for (m, g) in marks.iter().zip(&released) {
        assert_eq!(m["group"], g["group"]);
        for (attr, field) in [("rate", "rate"), ("low", "rateLow"), ("high", "rateHigh")] {
            let shown: f64 = m[attr].as_str().unwrap().parse().unwrap();
            assert!(
                (shown - g[field].as_f64().unwrap()).abs() < 1e-12,
                "{attr} of {}: {shown} vs {}",
                g["group"],
                g[field]
            );
        }
    }
    // Withheld groups: marked with their rule, never drawn, listed with the rule.
    let withheld = api["equity"]["suppressed"].as_array().unwrap();
    assert!(
        !withheld.is_empty(),
        "the threshold withheld nothing: {api}"
    );
    let drawn = report["charts"]["rates"]["withheld"].as_array().unwrap();
    for w in withheld {
        // Groups too small to be named are listed (counted), never drawn.
        let named = groups.iter().any(|g| g["group"] == w["group"]);
        if !named {
            assert!(
                report["withheld"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["group"] == w["group"])
            );
            assert!(!drawn.iter().any(|d| d["group"] == w["group"]));
            continue;
        }
        let mark = drawn
            .iter()
            .find(|d| d["group"] == w["group"])
            .unwrap_or_else(|| panic!("{w} not marked: {report:#}"));
        assert_eq!(mark["rule"], w["rule"]);
        assert_eq!(mark["drawn"], false, "{w} drawn");
        assert!(
            report["withheld"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["group"] == w["group"] && l["rule"] == w["rule"])
        );
        assert!(!marks.iter().any(|m| m["group"] == w["group"]));
    }
    // The other charts: one KM curve per released group of the time table.
    let time = s.data_as(
        &qm,
        "{ equity(by: LANGUAGE, outcome: TIME_TO_REFERRAL) { groups { group suppressed } } }",
        json!({}),
    );
    let curves = report["charts"]["survival"]["curves"]
        .as_array()
        .unwrap()
        .len();
    let released_times = time["equity"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["suppressed"] == false)
        .count();
    assert_eq!(curves, released_times, "{report:#}");
}

#[test]
fn a_coordinator_of_one_site_never_sees_another_site_in_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &["--rate-limit", "0", "--demo", "--demo-recipients", "400"],
    );
    s.wait_ready();
    let qm = mint(dir.path(), "qm-network", "quality_manager", &["*"]);
    let sites: Vec<String> = s.data_as(
        &qm,
        "{ equity(by: SITE, outcome: REFERRAL_RATE) { groups { group } } }",
        json!({}),
    )["equity"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap().to_string())
        .collect();
    let nurse = mint(dir.path(), "nurse", "coordinator", &[&sites[0]]);
    let Some(report) = drive(&s, &nurse, "site", "referral_rate", "coordinator") else {
        return;
    };
    let marks = report["charts"]["rates"]["marks"].as_array().unwrap();
    assert!(
        marks.iter().all(|m| m["group"] == sites[0].as_str()),
        "{report:#}"
    );
    let text = report["text"].as_str().unwrap();
    for other in &sites[1..] {
        assert!(
            !text.contains(other.as_str()),
            "{other} appears on {}'s page",
            sites[0]
        );
    }
}
