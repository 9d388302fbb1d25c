//! Damaged packages of the new forms: every damage is a problem naming file,
//! row and field (and the service it keeps out), never a panic.

use super::super::{Package, ReadOptions, read_path};
use super::catalogue;
use super::forms::fixture;
use std::path::Path;

fn copy(form: &str, to: &Path) {
    for e in std::fs::read_dir(fixture(form)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn problems(p: &Package) -> Vec<String> {
    p.problems.iter().map(ToString::to_string).collect()
}

fn has(p: &Package, needle: &str) {
    let all = problems(p);
    assert!(
        all.iter().any(|t| t.contains(needle)),
        "no '{needle}' in {all:#?}"
    );
}

#[test]
fn a_damaged_tabular_package_reports_each_cell() {
    let dir = tempfile::tempdir().unwrap();
    copy("tabular", dir.path());
    let pkg = dir.path().join("datapackage.json");
    let mut desc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pkg).unwrap()).unwrap();
    let resources = desc["resources"].as_array_mut().unwrap();
    // minimum_age typed integer; a resource outside the package; one from afar.
    for r in resources.iter_mut() {
        if r["name"] == "services" {
            for f in r["schema"]["fields"].as_array_mut().unwrap() {
                if f["name"] == "minimum_age" {
                    f["type"] = "integer".into();
                }
            }
        }
    }
    resources.push(serde_json::json!({"name": "schedules", "path": "../etc/passwd"}));
    resources.push(serde_json::json!({"name": "phones", "path": "https://example.org/phones.csv"}));
    std::fs::write(&pkg, desc.to_string()).unwrap();
    let services = std::fs::read_to_string(dir.path().join("services.csv")).unwrap();
    std::fs::write(
        dir.path().join("services.csv"),
        services.replacen(",active,18,99,", ",active,eighteen,99,", 1),
    )
    .unwrap();
    let costs = std::fs::read_to_string(dir.path().join("cost_options.csv")).unwrap();
    std::fs::write(
        dir.path().join("cost_options.csv"),
        costs.replacen(",35,", ",-35,", 1),
    )
    .unwrap();
    let langs = std::fs::read_to_string(dir.path().join("languages.csv")).unwrap();
    std::fs::write(
        dir.path().join("languages.csv"),
        langs + "x,05000000-0000-4000-8000-000000000002\n",
    )
    .unwrap();
    let p = read_path(dir.path(), &catalogue(), &ReadOptions::default());
    has(
        &p,
        "services.csv row 2 05000000-0000-4000-8000-000000000001 minimum_age: 'eighteen' is not an integer",
    );
    has(
        &p,
        "cost_options.csv row 2 c0000000-0000-4000-8000-000000000001 amount: not an amount of 0 or more",
    );
    has(
        &p,
        "languages.csv row 7 x (row): 2 cells under 3 column names",
    );
    has(
        &p,
        "../etc/passwd is not a relative path inside the package",
    );
    has(&p, "https://example.org/phones.csv is remote");
    // The first service (bad age, bad amount) and the second (its languages) are out.
    assert_eq!(
        p.services
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>(),
        ["05000000-0000-4000-8000-000000000003"]
    );
    assert_eq!(p.invalid_services, 2);
}

#[test]
fn damaged_api_json_is_reported_by_file_row_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("a.json", r#"{"contents": 3}"#);
    write(
        "b.json",
        r#"[1, {"id": "05000000-0000-4000-8000-00000000000a", "name": "X", "organization": {"id": "o", "name": "O"}, "cost_options": ["free"], "service_areas": [{"extent_type": "geojson", "extent": {"type": "Point", "coordinates": [4.7, 50.9]}}], "languages": [{"code": "en"}]}]"#,
    );
    write("c.json", "{not json");
    let p = read_path(dir.path(), &catalogue(), &ReadOptions::default());
    has(&p, "a.json (file): 'contents' is not a list of services");
    has(&p, "b.json row 1 #1: expected a service object");
    has(
        &p,
        "b.json row 2 05000000-0000-4000-8000-00000000000a cost_options[0].(record): expected an object",
    );
    has(
        &p,
        "service_areas[0].extent: geojson type \"Point\" is not an area",
    );
    has(&p, "c.json (file): not valid JSON");
    assert!(p.services.is_empty());
    // A path that is neither a package nor JSON.
    let none = read_path(
        &dir.path().join("missing"),
        &catalogue(),
        &ReadOptions::default(),
    );
    assert!(
        problems(&none)[0].ends_with("(file): no such file or directory"),
        "{:?}",
        problems(&none)
    );
}
