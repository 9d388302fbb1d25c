//! Each matching rule, shown to include and to exclude (table-driven), and the ranking.

use super::*;
use crate::directory::tests::profile;
use crate::directory::{Eligibility, ServiceArea};
use crate::ids::RecipientId;
use crate::recipient::tests::profile as recipient;
use crate::values::{Country, LanguageTag, PostalCode, Region};
use uuid::Uuid;

fn need() -> NeedCode {
    NeedCode::parse("psy.fear-of-recurrence").unwrap()
}

/// The recipient of `recipient::tests`: patient, born 1958, Leuven (3000, BE-VBR),
/// Dutch-speaking, with preferential reimbursement. Age 67 here.
fn seeker_profile() -> RecipientProfile {
    recipient(RecipientId::from_uuid(Uuid::from_u128(7)))
}

type Tweak = fn(&mut ServiceProfile, &mut Capacity, &mut bool, &mut RecipientProfile);

/// One row: a change to a service (and the recipient), and what must follow.
struct Row {
    what: &'static str,
    tweak: Tweak,
    expect: Result<Reason, Exclusion>,
}

fn check(rows: &[Row]) {
    for row in rows {
        let mut p = profile().normalised();
        let mut capacity = Capacity::HasCapacity;
        let mut active = true;
        let mut r = seeker_profile();
        (row.tweak)(&mut p, &mut capacity, &mut active, &mut r);
        let p = p.normalised();
        let seeker = Seeker {
            need: &need(),
            recipient: &r,
            age: 67,
        };
        let verdict = judge(
            seeker,
            Candidate {
                id: ServiceId::from_uuid(Uuid::nil()),
                profile: &p,
                capacity,
                active,
            },
        );
        match (&row.expect, &verdict) {
            (Ok(reason), Ok((_, reasons))) => {
                assert!(reasons.contains(reason), "{}: {reasons:?}", row.what)
            }
            (Err(ex), Err(exclusions)) => {
                assert!(exclusions.contains(ex), "{}: {exclusions:?}", row.what)
            }
            _ => panic!("{}: expected {:?}, got {verdict:?}", row.what, row.expect),
        }
    }
}

fn postal(code: &str) -> PostalCode {
    PostalCode::parse(Country::BE, code).unwrap()
}

#[test]
fn every_rule_includes_and_excludes() {
    check(&[
        Row {
            what: "active",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::AddressesNeed),
        },
        Row {
            what: "retired",
            tweak: |_, _, a, _| *a = false,
            expect: Err(Exclusion::Retired),
        },
        Row {
            what: "need addressed",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::AddressesNeed),
        },
        Row {
            what: "need not addressed",
            tweak: |p, _, _, _| p.needs = vec![NeedCode::parse("soc.housing").unwrap()],
            expect: Err(Exclusion::NeedNotAddressed),
        },
        Row {
            what: "age in range",
            tweak: |p, _, _, _| p.eligibility.min_age = Some(65),
            expect: Ok(Reason::AgeEligible),
        },
        Row {
            what: "too young",
            tweak: |p, _, _, _| p.eligibility.min_age = Some(70),
            expect: Err(Exclusion::TooYoung { min_age: 70 }),
        },
        Row {
            what: "too old",
            tweak: |p, _, _, _| p.eligibility.max_age = Some(39),
            expect: Err(Exclusion::TooOld { max_age: 39 }),
        },
        Row {
            what: "serves patients",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::ServesPatients),
        },
        Row {
            what: "relatives only",
            tweak: |p, _, _, _| {
                p.eligibility = Eligibility {
                    patients: false,
                    ..Eligibility::default()
                }
            },
            expect: Err(Exclusion::RelativesOnly),
        },
        Row {
            what: "serves relatives",
            tweak: |_, _, _, r| {
                r.kind = RecipientKind::Relative {
                    patient: RecipientId::from_uuid(Uuid::from_u128(9)),
                }
            },
            expect: Ok(Reason::ServesRelatives),
        },
        Row {
            what: "patients only",
            tweak: |p, _, _, r| {
                p.eligibility.relatives = false;
                r.kind = RecipientKind::Relative {
                    patient: RecipientId::from_uuid(Uuid::from_u128(9)),
                };
            },
            expect: Err(Exclusion::PatientsOnly),
        },
        Row {
            what: "preferential reimbursement required and held",
            tweak: |p, _, _, _| p.eligibility.requires_preferential_reimbursement = true,
            expect: Ok(Reason::ForPreferentialReimbursement),
        },
        Row {
            what: "preferential reimbursement required, not held",
            tweak: |p, _, _, r| {
                p.eligibility.requires_preferential_reimbursement = true;
                r.preferential_reimbursement = PreferentialReimbursement::Unknown;
            },
            expect: Err(Exclusion::RequiresPreferentialReimbursement),
        },
        Row {
            what: "postal code listed",
            tweak: |p, _, _, _| {
                p.area = ServiceArea {
                    postal_codes: vec![postal("3000")],
                    ..ServiceArea::default()
                }
            },
            expect: Ok(Reason::InPostalArea),
        },
        Row {
            what: "region",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::InRegion),
        },
        Row {
            what: "country",
            tweak: |p, _, _, _| {
                p.area = ServiceArea {
                    countries: vec![Country::BE],
                    ..ServiceArea::default()
                }
            },
            expect: Ok(Reason::InCountry),
        },
        Row {
            what: "outside the area",
            tweak: |p, _, _, _| {
                p.area = ServiceArea {
                    countries: vec![Country::NL],
                    regions: vec![Region::parse("BE-WLG").unwrap()],
                    postal_codes: vec![postal("4000")],
                }
            },
            expect: Err(Exclusion::OutsideArea),
        },
        Row {
            what: "has capacity",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::HasCapacity),
        },
        Row {
            what: "waitlist",
            tweak: |_, c, _, _| {
                *c = Capacity::Waitlist {
                    estimated_wait_days: 30,
                }
            },
            expect: Ok(Reason::Waitlist { days: 30 }),
        },
        Row {
            what: "no capacity",
            tweak: |_, c, _, _| *c = Capacity::NoCapacity,
            expect: Err(Exclusion::NoCapacity),
        },
        Row {
            what: "speaks the language",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::SpeaksLanguage),
        },
        Row {
            what: "does not speak it (ranked lower, not left out)",
            tweak: |p, _, _, _| p.languages = vec![LanguageTag::parse("de").unwrap()],
            expect: Ok(Reason::LanguageNotSpoken),
        },
        Row {
            what: "free",
            tweak: |p, _, _, _| p.cost = Cost::Free,
            expect: Ok(Reason::Free),
        },
        Row {
            what: "reimbursed",
            tweak: |_, _, _, _| {},
            expect: Ok(Reason::Reimbursed),
        },
        Row {
            what: "fee",
            tweak: |p, _, _, _| p.cost = Cost::Fee,
            expect: Ok(Reason::Fee),
        },
    ]);
}

#[test]
fn a_service_failing_several_rules_lists_every_reason() {
    let mut p = profile().normalised();
    p.eligibility.max_age = Some(30);
    p.area = ServiceArea {
        countries: vec![Country::DE],
        ..ServiceArea::default()
    };
    let r = seeker_profile();
    let seeker = Seeker {
        need: &need(),
        recipient: &r,
        age: 67,
    };
    let verdict = judge(
        seeker,
        Candidate {
            id: ServiceId::from_uuid(Uuid::nil()),
            profile: &p,
            capacity: Capacity::NoCapacity,
            active: false,
        },
    );
    assert_eq!(
        verdict.unwrap_err(),
        vec![
            Exclusion::Retired,
            Exclusion::TooOld { max_age: 30 },
            Exclusion::OutsideArea,
            Exclusion::NoCapacity
        ]
    );
}

#[test]
fn the_ranking_orders_by_score_then_id_and_cuts_off_at_the_limit() {
    let r = seeker_profile();
    let seeker = Seeker {
        need: &need(),
        recipient: &r,
        age: 67,
    };
    let id = |n: u128| ServiceId::from_uuid(Uuid::from_u128(n));
    let base = profile().normalised();
    let mut free = base.clone();
    free.cost = Cost::Free; // 20 + 25 + 30 + 15 = 90
    let reimbursed = base.clone(); // 20 + 25 + 30 + 10 = 85
    let mut german = base.clone();
    german.languages = vec![LanguageTag::parse("de").unwrap()]; // 20 + 25 + 0 + 10 = 55
    let mut housing = base.clone();
    housing.needs = vec![NeedCode::parse("soc.housing").unwrap()];
    let mut far = base.clone();
    far.area = ServiceArea {
        countries: vec![Country::NL],
        ..ServiceArea::default()
    };
    let candidates = [
        Candidate {
            id: id(5),
            profile: &reimbursed,
            capacity: Capacity::HasCapacity,
            active: true,
        },
        Candidate {
            id: id(4),
            profile: &reimbursed,
            capacity: Capacity::HasCapacity,
            active: true,
        },
        Candidate {
            id: id(3),
            profile: &german,
            capacity: Capacity::HasCapacity,
            active: true,
        },
        Candidate {
            id: id(2),
            profile: &free,
            capacity: Capacity::HasCapacity,
            active: true,
        },
        Candidate {
            id: id(1),
            profile: &housing,
            capacity: Capacity::HasCapacity,
            active: true,
        },
        Candidate {
            id: id(6),
            profile: &far,
            capacity: Capacity::HasCapacity,
            active: true,
        },
    ];
    let ranking = rank(seeker, candidates, 3);
    let got: Vec<(ServiceId, u32, u32)> = ranking
        .suggested
        .iter()
        .map(|s| (s.service, s.rank, s.score))
        .collect();
    assert_eq!(got, vec![(id(2), 1, 90), (id(4), 2, 85), (id(5), 3, 85)]);
    assert_eq!(
        ranking.left_out,
        vec![
            LeftOut {
                service: id(3),
                reasons: vec![Exclusion::BelowCutoff { rank: 4 }]
            },
            LeftOut {
                service: id(6),
                reasons: vec![Exclusion::OutsideArea]
            },
        ],
        "the service for another need is not listed; every other one is, once"
    );
    let codes: Vec<String> = ranking.suggested[0]
        .reasons
        .iter()
        .map(|r| r.code())
        .collect();
    assert_eq!(
        codes,
        [
            "addresses_need",
            "serves_patients",
            "in_region",
            "has_capacity",
            "speaks_language",
            "free"
        ]
    );
    assert_eq!(
        rank(seeker, candidates, 3),
        ranking,
        "a ranking is a function of its inputs"
    );
}

#[test]
fn reason_and_exclusion_codes_are_storable_codes() {
    let codes = [
        Reason::Waitlist { days: 120 }.code(),
        Exclusion::BelowCutoff { rank: 10_000 }.code(),
        Exclusion::RequiresPreferentialReimbursement.code(),
        Reason::ForPreferentialReimbursement.code(),
    ];
    for c in codes {
        assert!(
            c.len() <= 40
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{c}"
        );
    }
}

/// Issue 19: rankings record `MATCHER_VERSION`, and their left-out lists are
/// recomputed by the rules of that version. This pins the rules' answers over a
/// grid of services and recipients to the version: a change to `judge` or `rank`
/// that answers differently fails here until the version is bumped (and the
/// digest updated with it).
#[test]
fn the_matcher_version_pins_its_rules() {
    let mut services = Vec::new();
    for i in 0..64u32 {
        let mut p = profile();
        if i % 5 == 0 {
            p.needs = vec![NeedCode::parse("psy.anxiety").unwrap()];
        }
        p.languages = vec![LanguageTag::parse(["nl", "fr", "en"][i as usize % 3]).unwrap()];
        p.area = match i % 4 {
            0 => ServiceArea {
                countries: vec![Country::BE],
                ..Default::default()
            },
            1 => ServiceArea {
                regions: vec![Region::parse(["BE-VBR", "BE-WLG"][(i / 4) as usize % 2]).unwrap()],
                ..Default::default()
            },
            2 => ServiceArea {
                postal_codes: vec![postal(["3000", "4000"][(i / 8) as usize % 2])],
                ..Default::default()
            },
            _ => ServiceArea {
                countries: vec![Country::NL],
                ..Default::default()
            },
        };
        p.eligibility = Eligibility {
            min_age: (i % 7 == 0).then_some(70),
            max_age: (i % 11 == 0).then_some(64),
            patients: i % 13 != 0,
            relatives: i % 6 != 0,
            requires_preferential_reimbursement: i % 9 == 0,
        };
        p.cost = [Cost::Free, Cost::Reimbursed, Cost::Fee][(i / 3) as usize % 3];
        let capacity = match i % 5 {
            0 => Capacity::NoCapacity,
            1 | 2 => Capacity::Waitlist {
                estimated_wait_days: (i * 3) as u16,
            },
            _ => Capacity::HasCapacity,
        };
        services.push((
            ServiceId::from_uuid(Uuid::from_u128(u128::from(i) + 1)),
            p.normalised(),
            capacity,
            i % 17 != 0,
        ));
    }
    // FNV-1a over every ranking's rendering.
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for (age, relative, lang, limit) in [
        (67, false, "nl", 5),
        (30, true, "fr", 3),
        (80, false, "de", 50),
        (17, false, "nl", 1),
    ] {
        let mut r = seeker_profile();
        r.language = LanguageTag::parse(lang).unwrap();
        if relative {
            r.kind = RecipientKind::Relative {
                patient: RecipientId::from_uuid(Uuid::from_u128(9)),
            };
            r.preferential_reimbursement = PreferentialReimbursement::No;
        }
        let seeker = Seeker {
            need: &need(),
            recipient: &r,
            age,
        };
        let ranking = rank(
            seeker,
            services.iter().map(|(id, p, c, a)| Candidate {
                id: *id,
                profile: p,
                capacity: *c,
                active: *a,
            }),
            limit,
        );
        let text = format!(
            "{:?}{:?}",
            ranking
                .suggested
                .iter()
                .map(|s| (
                    s.service,
                    s.rank,
                    s.score,
                    s.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>(),
            ranking
                .left_out
                .iter()
                .map(|l| (
                    l.service,
                    l.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
        );
        for b in text.bytes() {
            digest = (digest ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    assert_eq!(
        (MATCHER_VERSION, format!("{digest:016x}")),
        (1, "1401b09ae80e5ac1".to_string()),
        "the matcher's answers changed: bump MATCHER_VERSION (and this digest)"
    );
}
