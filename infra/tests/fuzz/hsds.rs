//! The HSDS reader (`hsds::read_dir`, what `careledger import-hsds` reads): the
//! shipped package with records mutated (fields changed, removed, retyped, nested
//! 10,000 deep), files missing, truncated, replaced by garbage or by bytes that are
//! not UTF-8 answers the services or the list of bad records, never a panic.

use crate::json::{
    ByteEdit, Mutation, byte_edit, edit_bytes, edit_text, json as any_json, mutate, mutation,
    text_edit,
};
use careledger_infra::catalogue::default_catalogue;
use careledger_infra::hsds::{self, FILES};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::Path;

/// What happens to one file of the package.
#[derive(Debug, Clone)]
enum Change {
    Missing,
    Garbage(Vec<u8>),
    Bytes(Vec<ByteEdit>),
    Records(Vec<Mutation>),
}

/// The field names HSDS records use (mutations set these more often than others).
const FIELDS: &[&str] = &[
    "id",
    "service_id",
    "organization_id",
    "name",
    "description",
    "email",
    "url",
    "status",
    "x_careledger",
    "translations",
    "fr",
    "nl",
    "de",
    "eligibility",
    "patients",
    "relatives",
    "requires_preferential_reimbursement",
    "capacity",
    "estimated_wait_days",
    "minimum_age",
    "maximum_age",
    "extent_type",
    "extent",
    "code",
    "option",
    "needs",
];

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        1 => Just(Change::Missing),
        1 => vec(any::<u8>(), 0..256).prop_map(Change::Garbage),
        2 => vec(byte_edit(), 1..6).prop_map(Change::Bytes),
        8 => vec(mutation(FIELDS), 1..8).prop_map(Change::Records),
    ]
}

/// Writes the shipped package into `dir` with `changes` (file index → change) made.
fn write_package(dir: &Path, changes: &[(usize, Change)]) {
    for (i, name) in FILES.iter().enumerate() {
        let original = hsds::example_file(name).expect("shipped file");
        let mut bytes = Some(original.clone().into_bytes());
        for (_, change) in changes.iter().filter(|(f, _)| f % FILES.len() == i) {
            bytes = match change {
                Change::Missing => None,
                Change::Garbage(g) => Some(g.clone()),
                Change::Bytes(edits) => bytes.map(|b| edit_bytes(b, edits)),
                Change::Records(mutations) => {
                    bytes.map(|b| match serde_json::from_slice::<serde_json::Value>(&b) {
                        Ok(doc) => mutate(doc, mutations),
                        Err(_) => b,
                    })
                }
            };
        }
        let path = dir.join(name);
        match bytes {
            Some(b) => std::fs::write(&path, b).expect("write package file"),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Reads `dir` and checks the one rule: services that each pass the directory's
/// validation, or a non-empty list of bad records, each naming a file of the
/// package and saying what is wrong.
fn reads_or_reports(dir: &Path) -> Result<(), TestCaseError> {
    let catalogue = default_catalogue().expect("shipped catalogue");
    match hsds::read_dir(dir, &catalogue) {
        Ok(services) => {
            for s in services {
                prop_assert!(s.profile.validate().is_ok(), "{:?}", s.profile.validate());
            }
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for e in errors {
                // A file of the package, or the package itself when no file
                // of it is left to read.
                prop_assert!(
                    FILES.contains(&e.file.as_str()) || e.file == dir.display().to_string(),
                    "{e}"
                );
                prop_assert!(!e.message.is_empty(), "{e}");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Packages generated from scratch
// ---------------------------------------------------------------------------

/// Valid text with up to three character edits.
fn near(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (valid, vec(text_edit(), 0..3))
        .prop_map(|(s, edits)| edits.iter().fold(s, |t, e| edit_text(&t, e)))
}

/// A field: mostly text near `valid`, sometimes any JSON, sometimes absent.
fn field(valid: impl Strategy<Value = String>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        8 => near(valid).prop_map(|s| Some(Value::from(s))),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ]
}

/// A number field: mostly in or near its range, sometimes any JSON, sometimes absent.
fn number(range: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = Option<Value>> {
    let (lo, hi) = (*range.start(), *range.end());
    prop_oneof![
        6 => ((lo - 2)..=(hi + 2)).prop_map(|n| Some(Value::from(n))),
        1 => any_json().prop_map(Some),
        2 => Just(None),
    ]
}

/// A flag: mostly a boolean, sometimes any JSON, sometimes absent.
fn flag() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => any::<bool>().prop_map(|b| Some(Value::from(b))),
        1 => any_json().prop_map(Some),
        2 => Just(None),
    ]
}

fn record(fields: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect(),
    )
}

/// The ids a generated package uses: services and organisations come from small
/// pools so that records refer to each other (and sometimes to nothing).
const SERVICES: [&str; 3] = [
    "3cd5eeb9-9dcf-5d9b-a31b-5a3a7ffca1d1",
    "202afcc8-0236-5d2a-8b6b-d774c90521a8",
    "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b",
];
const ORGANISATIONS: [&str; 2] = [
    "f4ae05fc-6ce2-56c8-b058-2f0651213c6f",
    "0192f0c4-7c5e-7a31-9f4e-000000000001",
];

fn service_ref() -> impl Strategy<Value = Option<Value>> {
    field(prop::sample::select(SERVICES.to_vec()).prop_map(str::to_string))
}

fn organisation_ref() -> impl Strategy<Value = Option<Value>> {
    field(prop::sample::select(ORGANISATIONS.to_vec()).prop_map(str::to_string))
}

fn record_id() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        8 => any::<u128>().prop_map(|u| Some(Value::from(uuid::Uuid::from_u128(u).to_string()))),
        2 => field(Just("0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b".to_string())),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[A-Za-z .'-]{1,30}"]
}

/// Need codes of the shipped catalogue (and shapes like them).
fn need_code() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "psy.fear-of-recurrence",
            "psy.anxiety",
            "soc.financial-problems",
            "spi.return-to-work",
            "med.fatigue",
        ])
        .prop_map(str::to_string),
        "(med|psy|spi|soc)\\.[a-z]{2,8}(-[a-z]{2,8})?",
    ]
}

fn extent() -> impl Strategy<Value = (Option<Value>, Option<Value>)> {
    let kind = |k: &'static str| field(Just(k.to_string()));
    prop_oneof![
        (
            kind("country"),
            field("(BE|NL|DE|FR|LU|XX)".prop_map(String::from))
        ),
        (
            kind("region"),
            field("(BE|NL|DE|FR)-[A-Z0-9]{2,5}|LU".prop_map(String::from))
        ),
        (
            kind("postal_code"),
            field(prop_oneof![
                "(BE|LU):[1-9][0-9]{3}",
                "(DE|FR):[0-9]{5}",
                "NL:[1-9][0-9]{3} ?[A-Z]{2}",
                "[A-Z]{2}:[0-9A-Z ]{0,8}",
            ]),
        ),
        (field("[a-z_]{0,12}".prop_map(String::from)), field(text())),
    ]
}

fn service() -> impl Strategy<Value = (usize, Value)> {
    let translations =
        (text(), text(), text(), text(), text(), text()).prop_map(|(fr, frd, nl, nld, de, ded)| {
            json!({
                "fr": { "name": fr, "description": frd },
                "nl": { "name": nl, "description": nld },
                "de": { "name": de, "description": ded },
            })
        });
    let capacity = (
        field(
            prop::sample::select(vec!["has_capacity", "no_capacity", "waitlist"])
                .prop_map(str::to_string),
        ),
        number(0..=65_535),
    )
        .prop_map(|(status, days)| record(vec![("status", status), ("estimated_wait_days", days)]));
    let x = (
        prop_oneof![4 => translations.prop_map(Some), 1 => any_json().prop_map(Some), 1 => Just(None)],
        (flag(), flag(), flag()).prop_map(|(p, r, pr)| {
            Some(record(vec![
                ("patients", p),
                ("relatives", r),
                ("requires_preferential_reimbursement", pr),
            ]))
        }),
        prop_oneof![4 => capacity.prop_map(Some), 1 => any_json().prop_map(Some), 1 => Just(None)],
    )
        .prop_map(|(t, e, c)| record(vec![("translations", t), ("eligibility", e), ("capacity", c)]));
    (
        0..SERVICES.len(),
        organisation_ref(),
        (field(text()), field(text())),
        (
            field("[a-z]{1,10}@[a-z]{1,10}\\.org".prop_map(String::from)),
            field("https?://[a-z.]{1,20}/[a-z]{0,10}".prop_map(String::from)),
        ),
        field(prop::sample::select(vec!["active", "inactive", "defunct"]).prop_map(str::to_string)),
        (number(0..=120), number(0..=120)),
        prop_oneof![6 => x.prop_map(Some), 1 => any_json().prop_map(Some), 1 => Just(None)],
    )
        .prop_map(
            |(i, org, (name, description), (email, url), status, (min, max), x)| {
                (
                    i,
                    record(vec![
                        ("organization_id", org),
                        ("name", name),
                        ("description", description),
                        ("email", email),
                        ("url", url),
                        ("status", status),
                        ("minimum_age", min),
                        ("maximum_age", max),
                        ("x_careledger", x),
                    ]),
                )
            },
        )
}

/// A whole package generated from scratch: file name → contents (absent files
/// are missing from the package).
fn package() -> impl Strategy<Value = Vec<(&'static str, Vec<u8>)>> {
    let orgs = vec((0..ORGANISATIONS.len(), field(text())), 0..3).prop_map(|orgs| {
        orgs.into_iter()
            .map(|(i, name)| {
                record(vec![
                    ("id", Some(Value::from(ORGANISATIONS[i]))),
                    ("name", name),
                ])
            })
            .collect::<Vec<_>>()
    });
    let services = vec(service(), 0..4).prop_map(|services| {
        services
            .into_iter()
            .map(|(i, mut s)| {
                if let Value::Object(o) = &mut s {
                    o.insert("id".into(), Value::from(SERVICES[i]));
                }
                s
            })
            .collect::<Vec<_>>()
    });
    let areas = vec((record_id(), service_ref(), extent()), 0..6).prop_map(|areas| {
        areas
            .into_iter()
            .map(|(id, sid, (kind, extent))| {
                record(vec![
                    ("id", id),
                    ("service_id", sid),
                    ("extent_type", kind),
                    ("extent", extent),
                ])
            })
            .collect::<Vec<_>>()
    });
    let languages = vec(
        (
            record_id(),
            service_ref(),
            field("[a-z]{2,3}([-_][A-Za-z]{2})?".prop_map(String::from)),
        ),
        0..5,
    )
    .prop_map(|l| {
        l.into_iter()
            .map(|(id, sid, code)| record(vec![("id", id), ("service_id", sid), ("code", code)]))
            .collect::<Vec<_>>()
    });
    let costs = vec(
        (
            record_id(),
            service_ref(),
            field(prop::sample::select(vec!["free", "reimbursed", "fee"]).prop_map(str::to_string)),
        ),
        0..5,
    )
    .prop_map(|c| {
        c.into_iter()
            .map(|(id, sid, option)| {
                record(vec![("id", id), ("service_id", sid), ("option", option)])
            })
            .collect::<Vec<_>>()
    });
    let locations = vec((record_id(), organisation_ref()), 0..3).prop_map(|l| {
        l.into_iter()
            .map(|(id, org)| record(vec![("id", id), ("organization_id", org)]))
            .collect::<Vec<_>>()
    });
    let schedules = vec((record_id(), proptest::option::of(service_ref())), 0..3).prop_map(|l| {
        l.into_iter()
            .map(|(id, sid)| record(vec![("id", id), ("service_id", sid.flatten())]))
            .collect::<Vec<_>>()
    });
    let needs = vec(
        (
            service_ref(),
            prop_oneof![
                6 => vec(field(need_code()), 0..4).prop_map(|n| Some(Value::Array(n.into_iter().flatten().collect()))),
                1 => any_json().prop_map(Some),
                1 => Just(None),
            ],
        ),
        0..4,
    )
    .prop_map(|n| {
        n.into_iter()
            .map(|(sid, needs)| record(vec![("service_id", sid), ("needs", needs)]))
            .collect::<Vec<_>>()
    });
    (
        (orgs, services, areas, languages),
        (costs, locations, schedules, needs),
        vec(prop::bool::weighted(0.05), FILES.len()),
    )
        .prop_map(|((o, s, a, l), (c, lo, sc, n), gone)| {
            let files = [
                ("organizations.json", o),
                ("services.json", s),
                ("service_areas.json", a),
                ("languages.json", l),
                ("cost_options.json", c),
                ("locations.json", lo),
                ("schedules.json", sc),
                ("need_services.json", n),
            ];
            files
                .into_iter()
                .zip(gone)
                .filter(|(_, gone)| !gone)
                .map(|((name, records), _)| {
                    (
                        name,
                        serde_json::to_vec(&Value::Array(records)).expect("serialises"),
                    )
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(crate::config(64))]

    /// A package with records mutated, files missing, damaged or replaced by
    /// garbage answers services or the bad records, never a panic.
    #[test]
    fn a_damaged_hsds_package_reads_or_reports_its_bad_records(
        changes in vec((any::<usize>(), change()), 1..5),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        write_package(dir.path(), &changes);
        reads_or_reports(dir.path())?;
    }

    /// A package generated from scratch (records that refer to each other or to
    /// nothing, fields a few characters from valid, of the wrong type or absent,
    /// files missing) answers services or the bad records, never a panic.
    #[test]
    fn a_generated_hsds_package_reads_or_reports_its_bad_records(files in package()) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).expect("write package file");
        }
        reads_or_reports(dir.path())?;
    }
}

/// Found while fuzzing the decoder, and reachable from a package too: an area
/// `NL:1éé` (a multi-byte character among the postal code's first four bytes)
/// panicked the reader. It is now a bad record of `service_areas.json`.
#[test]
fn a_dutch_postal_code_area_with_a_multi_byte_character_is_a_bad_record_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_package(dir.path(), &[]);
    let areas = dir.path().join("service_areas.json");
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(&areas).expect("read")).expect("JSON");
    let first = doc
        .as_array_mut()
        .and_then(|a| a.first_mut())
        .expect("an area");
    first["extent_type"] = Value::from("postal_code");
    first["extent"] = Value::from("NL:1éé");
    let id = first["id"].as_str().expect("an id").to_string();
    std::fs::write(&areas, doc.to_string()).expect("write");
    let errors = hsds::read_dir(dir.path(), &default_catalogue().expect("catalogue"))
        .expect_err("a bad area");
    assert!(
        errors.iter().any(|e| e.file == "service_areas.json"
            && e.id == id
            && e.message.contains("is not a valid postal code for NL")),
        "{errors:?}"
    );
}
