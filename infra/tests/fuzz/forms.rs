//! The other two forms `import-hsds` reads (issue 20): the fixtures' tabular
//! data package and HSDS API JSON with one file edited byte by byte or text
//! edited cell by cell — CSV quoting broken, cells retyped, descriptors
//! truncated, not UTF-8 — answer services that pass the directory's validation
//! and problems that each say what is wrong, never a panic.

use crate::json::{ByteEdit, TextEdit, byte_edit, edit_bytes, edit_text, text_edit};
use careledger_infra::catalogue::default_catalogue;
use careledger_infra::hsds::{ReadOptions, read_path};
use proptest::collection::vec;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn fixture(form: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hsds")
        .join(form)
}

/// A copy of the fixture `form` with file number `which` edited.
fn damaged(form: &str, which: usize, bytes: &[ByteEdit], text: &[TextEdit]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(form))
        .expect("fixture")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let chosen = which % files.len();
    for (i, f) in files.iter().enumerate() {
        let mut content = std::fs::read(f).expect("fixture file");
        if i == chosen {
            if let Ok(t) = String::from_utf8(content.clone()) {
                content = text.iter().fold(t, |t, e| edit_text(&t, e)).into_bytes();
            }
            content = edit_bytes(content, bytes);
        }
        std::fs::write(dir.path().join(f.file_name().expect("name")), content).expect("write");
    }
    dir
}

fn reads_or_reports(dir: &Path) -> Result<(), TestCaseError> {
    let catalogue = default_catalogue().expect("shipped catalogue");
    let p = read_path(dir, &catalogue, &ReadOptions::default());
    for s in &p.services {
        prop_assert!(s.profile.validate().is_ok(), "{:?}", s.profile.validate());
    }
    for e in &p.problems {
        prop_assert!(!e.message.is_empty() && !e.file.is_empty(), "{e}");
        // Reported on a terminal: no live control character.
        prop_assert!(!e.to_string().chars().any(char::is_control), "{e:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config(64))]

    #[test]
    fn a_damaged_tabular_package_reads_or_reports_its_problems(
        which in any::<usize>(),
        bytes in vec(byte_edit(), 0..3),
        text in vec(text_edit(), 0..4),
    ) {
        let dir = damaged("tabular", which, &bytes, &text);
        reads_or_reports(dir.path())?;
    }

    #[test]
    fn damaged_api_json_reads_or_reports_its_problems(
        which in any::<usize>(),
        bytes in vec(byte_edit(), 0..3),
        text in vec(text_edit(), 0..4),
    ) {
        let dir = damaged("api", which, &bytes, &text);
        reads_or_reports(dir.path())?;
    }
}

// ---------------------------------------------------------------------------
// Round trip: any valid directory → export-hsds's package → the same profiles
// ---------------------------------------------------------------------------

use careledger_domain::directory::{
    Capacity, Contact, Cost, Eligibility, Localized, ServiceArea, ServiceProfile,
};
use careledger_domain::ids::{OrganisationId, ServiceId};
use careledger_domain::values::{Country, Lang, LanguageTag, NeedCode, PostalCode, Region};
use careledger_infra::hsds::ImportedService;
use careledger_infra::hsds::export::{ExportService, package};

/// Text a publisher might write: CSV's quote and separator, padding, accents,
/// emoji; `multi_line` adds line breaks and tabs (descriptions).
fn words(multi_line: bool, min: usize) -> impl Strategy<Value = String> {
    let mut chars = vec!["a", "Z", " ", ",", "\"", "'", "é", "ß", "—", "😀", ";", "0"];
    if multi_line {
        chars.extend(["\n", "\t"]);
    }
    vec(proptest::sample::select(chars), min..24)
        .prop_map(|v| v.concat())
        .prop_filter("not blank", move |s| min == 0 || !s.trim().is_empty())
}

fn localized() -> impl Strategy<Value = (Localized, Localized)> {
    (vec(words(false, 1), 4), vec(words(true, 0), 4)).prop_map(|(n, d)| {
        let l = |v: &[String]| Localized {
            en: v[0].clone(),
            fr: v[1].clone(),
            nl: v[2].clone(),
            de: v[3].clone(),
        };
        (l(&n), l(&d))
    })
}

fn directory_service() -> impl Strategy<Value = ImportedService> {
    let needs = [
        "psy.anxiety",
        "psy.depression",
        "psy.coping",
        "psy.carer-strain",
    ];
    let langs = ["nl", "fr", "de", "en", "tr", "fr-BE"];
    let regions = ["BE-VBR", "BE-WLG", "NL-LI", "DE-PLZ-5", "LU", "FR-59"];
    (
        (
            any::<u128>(),
            proptest::option::of(0u128..3),
            words(false, 1),
            localized(),
        ),
        (
            proptest::sample::subsequence(needs.to_vec(), 1..=4),
            proptest::sample::subsequence(langs.to_vec(), 1..=3),
            proptest::sample::subsequence(Lang::ALL.to_vec(), 0..=3),
        ),
        (
            proptest::sample::subsequence(vec![Country::BE, Country::NL, Country::FR], 0..=2),
            proptest::sample::subsequence(regions.to_vec(), 0..=2),
            proptest::sample::subsequence(vec!["3000", "1000", "9999"], 0..=2),
        ),
        (0u8..=120, 0u8..=120, any::<(bool, bool, bool, bool)>()),
        (
            proptest::sample::select(vec![Cost::Free, Cost::Reimbursed, Cost::Fee]),
            proptest::option::of(words(false, 1)),
            proptest::option::of(words(false, 1)),
            any::<(bool, bool)>(),
        ),
        (0u8..3, any::<u16>(), any::<bool>()),
    )
        .prop_map(
            |(
                (id, org, organisation, (name, description)),
                (needs, languages, untranslated),
                (countries, regions, postal),
                (a, b, (patients, relatives, pr, aged)),
                (cost, cost_note, phone, (email, url)),
                (cap, wait, active),
            )| {
                let mut area = ServiceArea {
                    countries,
                    regions: regions.iter().map(|r| Region::parse(r).unwrap()).collect(),
                    postal_codes: postal
                        .iter()
                        .map(|p| PostalCode::parse(Country::BE, p).unwrap())
                        .collect(),
                };
                if area.is_empty() {
                    area.countries.push(Country::DE);
                }
                let profile = ServiceProfile {
                    organisation,
                    organisation_id: org
                        .map(|o| OrganisationId::from_uuid(uuid::Uuid::from_u128(o + 1))),
                    name,
                    description,
                    needs: needs.iter().map(|n| NeedCode::parse(n).unwrap()).collect(),
                    languages: languages
                        .iter()
                        .map(|l| LanguageTag::parse(l).unwrap())
                        .collect(),
                    area,
                    eligibility: Eligibility {
                        min_age: aged.then_some(a.min(b)),
                        max_age: aged.then_some(a.max(b)),
                        patients: patients || !relatives,
                        relatives,
                        requires_preferential_reimbursement: pr,
                    },
                    cost,
                    contact: Contact {
                        phone,
                        email: email.then(|| "info@example.org".to_string()),
                        url: url.then(|| "https://example.org/a,b?c=\"d\"".to_string()),
                    },
                    cost_note,
                    untranslated,
                }
                .normalised();
                ImportedService {
                    id: ServiceId::from_uuid(uuid::Uuid::from_u128(id)),
                    profile,
                    capacity: match cap {
                        0 => Capacity::HasCapacity,
                        1 => Capacity::NoCapacity,
                        _ => Capacity::Waitlist {
                            estimated_wait_days: wait,
                        },
                    },
                    active,
                }
            },
        )
        .prop_filter("valid", |s| s.profile.validate().is_ok())
}

proptest! {
    #![proptest_config(crate::config(64))]

    /// `export-hsds` then `import-hsds` gives back every field of every service,
    /// whatever its text: re-importing an export writes nothing.
    #[test]
    fn any_valid_directory_round_trips_through_the_tabular_package(
        services in vec(directory_service(), 1..6),
    ) {
        let mut want = services;
        want.sort_by_key(|s| s.id.as_uuid());
        want.dedup_by_key(|s| s.id.as_uuid());
        let listed: Vec<ExportService<'_>> = want
            .iter()
            .map(|s| ExportService { id: s.id, profile: &s.profile, capacity: s.capacity, active: s.active })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        for f in package(&listed, "2026-01-01T00:00:00Z") {
            std::fs::write(dir.path().join(&f.path), f.text).expect("write");
        }
        let catalogue = default_catalogue().expect("shipped catalogue");
        let back = read_path(dir.path(), &catalogue, &ReadOptions::default());
        prop_assert!(back.problems.is_empty(), "{:#?}", back.problems);
        let mut got = back.services;
        got.sort_by_key(|s| s.id.as_uuid());
        prop_assert_eq!(got, want);
    }
}
