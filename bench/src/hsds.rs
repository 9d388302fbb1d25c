//! `hsds_import`: `careledger import-hsds` of a generated HSDS 3.0 tabular data
//! package (10,000 services; `--quick`: 1,000), written by CareLedger's own
//! exporter from varied profiles (one-language services, cost notes, areas of
//! every kind, waitlists). Three runs of the built binary, each timed whole
//! (start-up included): `--check` with no store yet, the import (one
//! `ServiceRegistered` per service, through the command path), and `--check`
//! again against the imported store (each service's stream read and compared).
//! Reported in services/s beside `append_batched` of the same run (events/s:
//! registering a service writes one event); DESIGN §7 sets no target.

use super::{report, server};
use careledger_domain::directory::*;
use careledger_domain::ids::{OrganisationId, ServiceId};
use careledger_domain::values::*;
use careledger_infra::hsds::export::{ExportService, package};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use uuid::Uuid;

fn profile(i: usize) -> ServiceProfile {
    let text = |s: String, lang: &str| format!("{s} ({lang})");
    let one_language = i.is_multiple_of(4);
    let name = format!("Service {i}");
    let localized = |s: &str| Localized {
        en: text(s.into(), "en"),
        fr: if one_language {
            text(s.into(), "en")
        } else {
            text(s.into(), "fr")
        },
        nl: if one_language {
            text(s.into(), "en")
        } else {
            text(s.into(), "nl")
        },
        de: if one_language {
            text(s.into(), "en")
        } else {
            text(s.into(), "de")
        },
    };
    let needs = [
        "psy.anxiety",
        "psy.depression",
        "psy.coping",
        "psy.carer-strain",
    ];
    let regions = ["BE-VBR", "BE-BRU", "BE-WLG", "NL-LI", "NL-GE", "DE-PLZ-5"];
    let langs = ["nl", "fr", "de", "en", "tr"];
    ServiceProfile {
        organisation: format!("Organisation {}", i % 300),
        organisation_id: i
            .is_multiple_of(2)
            .then(|| OrganisationId::from_uuid(Uuid::from_u128(0x0a00_0000 + (i % 300) as u128))),
        name: localized(&name),
        description: localized("Supportive care for people with cancer and their relatives."),
        needs: vec![
            NeedCode::parse(needs[i % 4]).unwrap(),
            NeedCode::parse(needs[(i / 4) % 4]).unwrap(),
        ],
        languages: vec![
            LanguageTag::parse(langs[i % 5]).unwrap(),
            LanguageTag::parse(langs[(i / 5) % 5]).unwrap(),
        ],
        area: match i % 3 {
            0 => ServiceArea {
                regions: vec![Region::parse(regions[i % 6]).unwrap()],
                ..Default::default()
            },
            1 => ServiceArea {
                countries: vec![[Country::BE, Country::NL, Country::DE][i % 3]],
                ..Default::default()
            },
            _ => ServiceArea {
                postal_codes: vec![
                    PostalCode::parse(Country::BE, &format!("{}", 1000 + i % 8000)).unwrap(),
                ],
                ..Default::default()
            },
        },
        eligibility: Eligibility {
            min_age: i.is_multiple_of(7).then_some(18),
            max_age: i.is_multiple_of(11).then_some(39),
            patients: !i.is_multiple_of(13),
            relatives: true,
            requires_preferential_reimbursement: i.is_multiple_of(17),
        },
        cost: [Cost::Free, Cost::Reimbursed, Cost::Fee][i % 3],
        contact: Contact {
            phone: i.is_multiple_of(5).then(|| format!("+32 16 {:06}", i)),
            email: Some(format!("service{i}@example.org")),
            url: Some(format!("https://example.org/services/{i}")),
        },
        cost_note: (i % 3 == 2).then(|| format!("{} EUR per session", 20 + i % 40)),
        untranslated: if one_language {
            vec![Lang::Fr, Lang::Nl, Lang::De]
        } else {
            vec![]
        },
    }
    .normalised()
}

/// Runs `careledger import-hsds <args>` to its end; seconds.
fn timed(package: &Path, data: &Path, extra: &[&str]) -> f64 {
    let t = Instant::now();
    let out = Command::new(server::binary())
        .arg("import-hsds")
        .arg(package)
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .env("CARELEDGER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run careledger import-hsds");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "import-hsds {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

pub fn hsds_import(dir: &Path, services: usize, append_batched: f64) {
    eprintln!("hsds_import: a tabular package of {services} services");
    let profiles: Vec<ServiceProfile> = (0..services).map(profile).collect();
    let listed: Vec<ExportService<'_>> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| ExportService {
            id: ServiceId::from_uuid(Uuid::from_u128(0x5e00_0000_0000 + i as u128)),
            profile: p,
            capacity: match i % 10 {
                0 => Capacity::NoCapacity,
                1..=3 => Capacity::Waitlist {
                    estimated_wait_days: (i % 60) as u16,
                },
                _ => Capacity::HasCapacity,
            },
            active: !i.is_multiple_of(50),
        })
        .collect();
    let pkg = dir.join("package");
    std::fs::create_dir_all(&pkg).expect("package directory");
    for f in package(&listed, "2026-01-01T00:00:00Z") {
        std::fs::write(pkg.join(&f.path), f.text).expect("write the package");
    }
    let data = dir.join("data");
    let n = services as f64;
    let check_empty = n / timed(&pkg, &data, &["--check"]);
    let import = n / timed(&pkg, &data, &[]);
    let check_full = n / timed(&pkg, &data, &["--check"]);
    let what = "append_batched of this run (events/s; registering a service writes one event)";
    report(
        "hsds_import",
        import,
        "services/s",
        Some(append_batched),
        what,
        None,
        "reported (no DESIGN §7 target)",
    );
    report(
        "hsds_import_check",
        check_full,
        "services/s",
        Some(append_batched),
        &format!(
            "{what}; --check against the imported store, every service's stream read; with no store yet: {:.0} services/s",
            check_empty
        ),
        None,
        "reported (no DESIGN §7 target)",
    );
}
