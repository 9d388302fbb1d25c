//! Issue 20: `import-hsds` reads the three forms (a tabular data package, HSDS
//! API JSON, CareLedger's layout), `--check` reports and writes nothing,
//! `--skip-invalid` imports the valid services, and `export-hsds` writes a
//! package `frictionless` accepts that imports back without writing an event.

use crate::directory::{example_package, log_head};
use crate::helpers::run_to_end;
use crate::open_data::frictionless;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn fixture(form: &str) -> PathBuf {
    repo("infra/tests/fixtures/hsds").join(form)
}

fn careledger(args: &[&std::ffi::OsStr], data: &Path) -> crate::helpers::Finished {
    run_to_end(args, data)
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// The shipped example in both its forms, export → `frictionless validate` →
/// import: the log head does not move.
#[test]
fn an_exported_directory_is_valid_frictionless_and_imports_back_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tabular = repo("infra/data/hsds-example-tabular");
    let first = careledger(&[os("import-hsds"), tabular.as_os_str()], &data);
    assert!(first.success, "{}", first.stderr);
    assert!(
        first.stdout.contains(
            "(HSDS tabular data package): 83 registered, 0 updated, 0 unchanged, 1 retired"
        ),
        "{}",
        first.stdout
    );
    let head = log_head(&first.stdout);
    // The same directory in CareLedger's layout: nothing to do.
    let legacy = careledger(&[os("import-hsds"), example_package().as_os_str()], &data);
    assert!(legacy.success, "{}", legacy.stderr);
    assert!(
        legacy
            .stdout
            .contains("0 registered, 0 updated, 83 unchanged, 0 retired"),
        "{}",
        legacy.stdout
    );
    assert_eq!(log_head(&legacy.stdout), head);

    let out = dir.path().join("export");
    let export = careledger(&[os("export-hsds"), out.as_os_str()], &data);
    assert!(export.success, "{}", export.stderr);
    assert!(
        export.stdout.contains("wrote 83 services"),
        "{}",
        export.stdout
    );
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
    let check = careledger(&[os("import-hsds"), out.as_os_str(), os("--check")], &data);
    assert!(check.success, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("would be, if imported: 0 registered, 0 updated, 83 unchanged, 0 retired"),
        "{}",
        check.stdout
    );
    let back = careledger(&[os("import-hsds"), out.as_os_str()], &data);
    assert!(back.success, "{}", back.stderr);
    assert!(
        back.stdout
            .contains("0 registered, 0 updated, 83 unchanged, 0 retired"),
        "{}",
        back.stdout
    );
    assert_eq!(
        log_head(&back.stdout),
        head,
        "the round trip wrote no event"
    );
    // A second export into the same directory is refused, nothing written.
    let again = careledger(&[os("export-hsds"), out.as_os_str()], &data);
    assert!(
        !again.success && again.stderr.contains("is not empty"),
        "{}",
        again.stderr
    );
}

/// The fixtures' dangling location: `--check` names it by file, row and field
/// and creates no store; the default refuses the package whole; `--skip-invalid`
/// imports the three services of each form (the same services: the second and
/// third forms change nothing).
#[test]
fn a_problem_refuses_the_package_unless_skip_invalid_and_check_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tabular = fixture("tabular");
    let check = careledger(
        &[os("import-hsds"), tabular.as_os_str(), os("--check")],
        &data,
    );
    assert!(!check.success);
    assert!(
        check.stderr.contains("locations.csv row 2 10c00000-0000-4000-8000-000000000001 organization_id: organization 0a000000-0000-4000-8000-000000000099 is not in the package"),
        "{}",
        check.stderr
    );
    assert!(
        check
            .stdout
            .contains("3 valid services, 0 invalid; 1 problem(s)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("would be, if imported: 3 registered"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("geojson area read as the regions BE-WLG"),
        "{}",
        check.stdout
    );
    assert!(!data.exists(), "--check created nothing");

    let refused = careledger(&[os("import-hsds"), tabular.as_os_str()], &data);
    assert!(
        !refused.success
            && refused.stderr.contains("1 problem(s)")
            && refused.stderr.contains("nothing imported"),
        "{}",
        refused.stderr
    );
    assert!(
        !data.exists(),
        "a refused import writes nothing, not even a store"
    );

    let mut head = 0;
    for (form, registered) in [("tabular", 3), ("api", 0), ("careledger", 0)] {
        let path = fixture(form);
        let run = careledger(
            &[os("import-hsds"), path.as_os_str(), os("--skip-invalid")],
            &data,
        );
        assert!(run.success, "{form}: {}", run.stderr);
        assert!(
            run.stdout.contains(&format!(
                "{registered} registered, 0 updated, {} unchanged",
                3 - registered
            )),
            "{form}: {}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains("skipped 0 invalid service(s); 1 problem(s)"),
            "{form}: {}",
            run.stdout
        );
        if registered == 0 {
            assert_eq!(log_head(&run.stdout), head, "{form} wrote nothing");
        }
        head = log_head(&run.stdout);
    }

    // The server shows what the mapping kept: the regions the polygon covers,
    // the cost in the publisher's words, the languages standing in.
    let s = crate::api::Server::start(&data, &[]);
    s.wait_ready();
    let d = s.data(
        "{ services(filter: { region: \"BE-WLG\" }) { edges { node { serviceId name(lang: NL) cost costNote untranslated area { regions } eligibility { minAge maxAge } } } } }",
        serde_json::json!({}),
    );
    let node = &d["services"]["edges"][0]["node"];
    assert_eq!(
        d["services"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{d}"
    );
    assert_eq!(
        node["serviceId"], "05000000-0000-4000-8000-000000000001",
        "{d}"
    );
    assert_eq!(node["name"], "Soutien psychologique — Liège");
    assert_eq!(node["cost"], "FEE");
    assert_eq!(node["costNote"], "Under 18s and Over 60s (35 GBP)");
    assert_eq!(node["untranslated"], serde_json::json!(["EN", "NL", "DE"]));
    assert_eq!(node["area"]["regions"], serde_json::json!(["BE-WLG"]));
    assert_eq!(
        node["eligibility"],
        serde_json::json!({ "minAge": 18, "maxAge": 99 })
    );
}

/// A bad service among good ones: reported by file, row and field; the default
/// imports nothing, `--skip-invalid` imports the others.
#[test]
fn skip_invalid_imports_the_valid_services_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    for e in std::fs::read_dir(fixture("tabular")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), pkg.join(e.file_name())).unwrap();
    }
    // The dangling location goes; a language code of the second service breaks.
    std::fs::write(pkg.join("locations.csv"), "id,organization_id,name\n").unwrap();
    let langs = std::fs::read_to_string(pkg.join("languages.csv")).unwrap();
    std::fs::write(
        pkg.join("languages.csv"),
        langs.replacen("000000000002,nl", "000000000002,Dutch", 1),
    )
    .unwrap();
    let data = dir.path().join("data");
    let all = careledger(&[os("import-hsds"), pkg.as_os_str()], &data);
    assert!(!all.success, "{}", all.stdout);
    assert!(
        all.stderr.contains("languages.csv row 3 1a000000-0000-4000-8000-000000000002 code: 'Dutch' is not a valid language tag"),
        "{}",
        all.stderr
    );
    assert!(!data.exists());
    let some = careledger(
        &[os("import-hsds"), pkg.as_os_str(), os("--skip-invalid")],
        &data,
    );
    assert!(some.success, "{}", some.stderr);
    assert!(
        some.stdout.contains("imported 2 services") && some.stdout.contains("2 registered"),
        "{}",
        some.stdout
    );
    assert!(
        some.stdout.contains("skipped 1 invalid service(s)"),
        "{}",
        some.stdout
    );
}
