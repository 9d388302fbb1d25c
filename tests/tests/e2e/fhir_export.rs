//! `careledger export-fhir` (issue 17): the records as FHIR Bulk Data NDJSON,
//! one file per type and a manifest; every line validates with FHIR.js and
//! fhir.resources; refused arguments write nothing.

use crate::api::{Server, mint, mint_provider};
use crate::fhir::{ORG, answer, ok, task_id, validate};
use crate::live::{referred, service_of};
use serde_json::{Value, json};

#[test]
fn export_fhir_writes_bulk_data_ndjson_that_validates_and_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &["--rate-limit", "0"]);
    let service = service_of(&s, ORG);
    let provider = mint_provider(dir.path(), "staff-1", &[ORG]);
    let (n, r) = referred(&s, "be-liege", &service);
    answer(
        &s,
        &provider,
        "rejectReferral",
        &n,
        &r,
        json!({ "reason": "NO_CAPACITY" }),
    );
    referred(&s, "de-aachen", &service);
    let nurse = mint(dir.path(), "nurse-liege", "coordinator", &["be-liege"]);
    let served = ok(&s, &nurse, &format!("/fhir/Task/{}", task_id(&n, &r)));
    assert!(s.running.stop_with("TERM").success());

    // Refused arguments write nothing, not even the directory.
    for bad in [
        vec!["--from", "2026-13-01"],
        vec!["--sites", "Not A Site"],
        vec!["--lang", "es"],
        vec!["--from", "2026-02-01", "--to", "2026-01-01"],
    ] {
        let out = dir.path().join("refused");
        let mut args = vec!["export-fhir", "--out", out.to_str().unwrap()];
        args.extend(bad.iter().copied());
        let done = crate::helpers::run_to_end(&args, dir.path());
        assert!(!done.success, "{bad:?} was accepted");
        assert!(
            done.stderr.contains("nothing was written"),
            "{}",
            done.stderr
        );
        assert!(!out.exists(), "{bad:?} wrote {}", out.display());
    }

    let out = dir.path().join("fhir");
    let done = crate::helpers::run_to_end(
        &[
            "export-fhir",
            "--out",
            out.to_str().unwrap(),
            "--sites",
            "be-liege",
        ],
        dir.path(),
    );
    assert!(done.success, "{}", done.stderr);
    // Person-level files: the exporting user's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&out.join("Task.ndjson")), 0o600);
        assert_eq!(mode(&out.join("manifest.json")), 0o600);
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let count = |ty: &str| -> u64 {
        manifest["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == ty)
            .map_or(0, |o| o["count"].as_u64().unwrap())
    };
    // Liège's one referral only; the whole directory and the catalogue.
    for (ty, n) in [
        ("Task", 1),
        ("ServiceRequest", 1),
        ("Consent", 1),
        ("Condition", 1),
        ("Patient", 1),
        ("HealthcareService", 1),
        ("Organization", 1),
        ("CodeSystem", 1),
    ] {
        assert_eq!(count(ty), n, "{ty}: {manifest}");
    }
    let mut all = Vec::new();
    for o in manifest["output"].as_array().unwrap() {
        let text = std::fs::read_to_string(out.join(o["url"].as_str().unwrap())).unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["resourceType"], o["type"]);
            all.push(v);
        }
    }
    // The exported Task is the one the server served, and no name is exported.
    let task = all.iter().find(|v| v["resourceType"] == "Task").unwrap();
    assert_eq!(*task, served);
    let patient = all.iter().find(|v| v["resourceType"] == "Patient").unwrap();
    assert!(patient.get("name").is_none() && patient.get("telecom").is_none());
    validate(&all);
}
