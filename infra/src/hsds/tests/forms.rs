//! The three forms (`infra/tests/fixtures/hsds/{careledger,api,tabular}`) hold
//! the same three services and one dangling location; each form is read field
//! by field to the same profiles: a geojson area, a one-language service with
//! ages as text and a free-text cost with an amount, a translated service free
//! by its words, and a service reimbursed by a taxonomy term whose needs come
//! from a taxonomy map and a `careledger-needs` term.

use super::super::export::{ExportService, package};
use super::super::{Form, ImportedService, Package, ReadOptions, read_path};
use super::catalogue;
use careledger_domain::directory::{Capacity, Cost};
use careledger_domain::values::Lang;
use std::path::{Path, PathBuf};

const S1: &str = "05000000-0000-4000-8000-000000000001";
const S2: &str = "05000000-0000-4000-8000-000000000002";
const S3: &str = "05000000-0000-4000-8000-000000000003";

pub(super) fn fixture(form: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hsds")
        .join(form)
}

fn read(form: &str) -> Package {
    read_path(&fixture(form), &catalogue(), &ReadOptions::default())
}

fn service<'a>(p: &'a Package, id: &str) -> &'a ImportedService {
    p.services
        .iter()
        .find(|s| s.id.to_string() == id)
        .unwrap_or_else(|| panic!("no {id} in {:#?}", p.problems))
}

fn check(p: &Package, form: Form, location: (&str, usize, &str)) {
    assert_eq!(p.form, Some(form));
    // The dangling location is reported and keeps no service out.
    assert_eq!(p.problems.len(), 1, "{:#?}", p.problems);
    let d = &p.problems[0];
    assert_eq!(
        (d.file.as_str(), d.row, d.field.as_deref()),
        (location.0, Some(location.1), Some(location.2))
    );
    assert_eq!(
        d.message,
        "organization 0a000000-0000-4000-8000-000000000099 is not in the package"
    );
    assert_eq!(d.service, None);
    assert_eq!((p.services.len(), p.invalid_services), (3, 0));

    let s1 = service(p, S1);
    let q = &s1.profile;
    assert_eq!(q.organisation, "Aide et Soins Liège");
    assert_eq!(
        q.organisation_id.map(|o| o.to_string()).as_deref(),
        Some("0a000000-0000-4000-8000-000000000001")
    );
    for lang in Lang::ALL {
        assert_eq!(q.name.get(lang), "Soutien psychologique — Liège");
        assert_eq!(q.description.get(lang), "Consultations individuelles.");
    }
    assert_eq!(
        q.untranslated,
        [Lang::En, Lang::Nl, Lang::De],
        "published in French only"
    );
    assert_eq!(
        q.needs.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["psy.anxiety", "psy.depression"],
        "PSY-01 through the taxonomy map"
    );
    assert_eq!(
        q.languages.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        ["fr"]
    );
    assert_eq!(
        q.area
            .regions
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        ["BE-WLG"],
        "the geojson box round Liège"
    );
    assert!(q.area.countries.is_empty() && q.area.postal_codes.is_empty());
    assert_eq!(
        (q.eligibility.min_age, q.eligibility.max_age),
        (Some(18), Some(99)),
        "ages given as text"
    );
    assert!(
        q.eligibility.patients
            && q.eligibility.relatives
            && !q.eligibility.requires_preferential_reimbursement
    );
    assert_eq!(q.cost, Cost::Fee);
    assert_eq!(
        q.cost_note.as_deref(),
        Some("Under 18s and Over 60s (35 GBP)")
    );
    assert_eq!(q.contact.phone.as_deref(), Some("+32 4 123 45 67"));
    assert_eq!(
        q.contact.email.as_deref(),
        Some("soutien@liege.example.org")
    );
    assert_eq!(q.contact.url, None);
    assert_eq!((s1.capacity, s1.active), (Capacity::HasCapacity, true));

    let s2 = service(p, S2);
    let q = &s2.profile;
    assert_eq!(q.organisation, "Naasten vzw");
    assert_eq!(
        [q.name.en.as_str(), &q.name.fr, &q.name.nl, &q.name.de],
        [
            "Relatives' support group",
            "Groupe pour les proches",
            "Praatgroep voor naasten",
            "Angehörigengruppe"
        ]
    );
    assert_eq!(q.description.nl, "Een maandelijkse groep.");
    assert!(q.untranslated.is_empty());
    assert_eq!(
        q.needs.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["psy.carer-strain"],
        "from need_services.json"
    );
    assert_eq!(
        q.languages.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        ["fr", "nl"]
    );
    assert_eq!(
        q.area
            .regions
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        ["BE-VBR"]
    );
    assert!(!q.eligibility.patients && q.eligibility.relatives);
    assert_eq!((q.eligibility.min_age, q.eligibility.max_age), (None, None));
    assert_eq!(q.cost, Cost::Free, "free by its words, no amount");
    assert_eq!(q.cost_note.as_deref(), Some("Free for everyone"));
    assert_eq!(
        q.contact.url.as_deref(),
        Some("https://naasten.example.org/group")
    );
    assert_eq!(
        (s2.capacity, s2.active),
        (
            Capacity::Waitlist {
                estimated_wait_days: 21
            },
            true
        )
    );

    let s3 = service(p, S3);
    let q = &s3.profile;
    assert_eq!(q.name.get(Lang::Nl), "Rehabilitation programme");
    assert_eq!(
        q.untranslated,
        [Lang::Fr, Lang::Nl, Lang::De],
        "speaks two of the four: English"
    );
    assert_eq!(
        q.needs.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["psy.depression"],
        "a careledger-needs term"
    );
    let postal: Vec<String> = q
        .area
        .postal_codes
        .iter()
        .map(|c| format!("{}:{}", c.country().code(), c.code()))
        .collect();
    assert_eq!(postal, ["BE:3000"]);
    assert_eq!(q.eligibility.min_age, Some(18));
    assert_eq!(q.cost, Cost::Reimbursed, "a careledger-cost term");
    assert_eq!(
        q.cost_note.as_deref(),
        Some("Covered by your health insurance")
    );
    assert_eq!(
        (s3.capacity, s3.active),
        (Capacity::NoCapacity, true),
        "temporarily closed"
    );

    let notes: Vec<String> = p.notes.iter().map(ToString::to_string).collect();
    for needle in [
        "geojson area read as the regions BE-WLG",
        "en, nl, de not translated: the fr text stands in (flagged untranslated)",
        "cost read from the words as free ('Free for everyone')",
        "temporarily closed: imported as active without capacity",
    ] {
        assert!(
            notes.iter().any(|n| n.contains(needle)),
            "no '{needle}' in {notes:#?}"
        );
    }
}

#[test]
fn the_careledger_layout_maps_every_case() {
    check(
        &read("careledger"),
        Form::CareLedgerJson,
        ("locations.json", 1, "organization_id"),
    );
}

#[test]
fn api_json_pages_and_single_services_map_every_case() {
    check(
        &read("api"),
        Form::ApiJson,
        ("services-page-1.json", 1, "locations[0].organization_id"),
    );
}

#[test]
fn a_tabular_package_maps_every_case() {
    check(
        &read("tabular"),
        Form::Tabular,
        ("locations.csv", 2, "organization_id"),
    );
}

#[test]
fn the_three_forms_read_to_the_same_profiles() {
    let sorted = |f: &str| {
        let mut s = read(f).services;
        s.sort_by_key(|x| x.id.as_uuid());
        s
    };
    let tabular = sorted("tabular");
    assert_eq!(sorted("careledger"), tabular);
    assert_eq!(sorted("api"), tabular);
}

/// What `export-hsds` writes reads back to the same profiles: the fixtures, and
/// the shipped example package (every translation, waitlist and retirement).
#[test]
fn an_exported_package_reads_back_unchanged() {
    let example = super::super::read_example(&catalogue()).unwrap();
    // Two services of one organization id recording two names (GraphQL allows it).
    let mut fixtures = read("tabular").services;
    let s3 = fixtures
        .iter_mut()
        .find(|s| s.id.to_string() == S3)
        .unwrap();
    s3.profile.organisation = "Aide et Soins Liège — Revalidatie".into();
    for services in [fixtures, example] {
        let export: Vec<ExportService<'_>> = services
            .iter()
            .map(|s| ExportService {
                id: s.id,
                profile: &s.profile,
                capacity: s.capacity,
                active: s.active,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for f in package(&export, "2026-01-01T00:00:00Z") {
            std::fs::write(dir.path().join(&f.path), f.text).unwrap();
        }
        let back = read_path(dir.path(), &catalogue(), &ReadOptions::default());
        assert!(back.problems.is_empty(), "{:#?}", back.problems);
        assert_eq!(back.form, Some(Form::Tabular));
        let mut want = services.clone();
        want.sort_by_key(|x| x.id.as_uuid());
        let mut got = back.services;
        got.sort_by_key(|x| x.id.as_uuid());
        assert_eq!(got, want);
    }
}

/// The shipped example package is published in the tabular form too
/// (`infra/data/hsds-example-tabular`, what `export-hsds` writes for it);
/// `UPDATE_EXPECT=1` rewrites it after a change to the example or the exporter.
#[test]
fn the_example_package_is_published_in_tabular_form() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/hsds-example-tabular");
    let example = super::super::read_example(&catalogue()).unwrap();
    let export: Vec<ExportService<'_>> = example
        .iter()
        .map(|s| ExportService {
            id: s.id,
            profile: &s.profile,
            capacity: s.capacity,
            active: s.active,
        })
        .collect();
    let files = package(&export, "2026-01-01T00:00:00Z");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for f in &files {
            std::fs::write(dir.join(&f.path), &f.text).unwrap();
        }
    }
    for f in &files {
        let shipped = std::fs::read_to_string(dir.join(&f.path)).unwrap_or_default();
        assert!(
            shipped == f.text,
            "{} is stale: UPDATE_EXPECT=1 cargo test -p careledger-infra hsds",
            f.path
        );
    }
    let back = read_path(&dir, &catalogue(), &ReadOptions::default());
    assert!(back.problems.is_empty(), "{:#?}", back.problems);
    let mut got = back.services;
    got.sort_by_key(|x| x.id.as_uuid());
    let mut want = example;
    want.sort_by_key(|x| x.id.as_uuid());
    assert_eq!(got, want);
}
