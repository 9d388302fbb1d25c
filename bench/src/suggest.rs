//! `suggest`: ranking the whole directory for one need case, as `suggestServices`
//! does — 10,000 active services, all addressing the need, with varied areas,
//! languages, eligibility, capacity and cost, so every rule does work.
//! Comparison point: one pass over the same candidates that only reads each
//! one's capacity (the cost of walking the need index, no judging).
//!
//! `suggest_event` (issue 19): the `ServicesSuggested` event that ranking
//! records, encoded as the store keeps it — now (what it was computed from) and
//! as schema v2 recorded it (every left-out service with its reasons) — and
//! the p99 of ranking and recording it both ways, in the same run.

use super::report;
use careledger_domain::DomainEvent;
use careledger_domain::directory::*;
use careledger_domain::ids::{EventId, ServiceId};
use careledger_domain::matching::{self, MATCHER_VERSION, Ranking, Seeker};
use careledger_domain::need_case::{NeedCaseEvent, RankingBasis, ServicesSuggested, Suggestion};
use careledger_domain::recipient::{RecipientKind, RecipientProfile};
use careledger_domain::store::{Actor, EventMetadata, Position, RecordedEvent, Role, StreamName};
use careledger_domain::values::*;
use careledger_projections::Casework;
use chrono::Utc;
use std::time::Instant;
use uuid::Uuid;

fn text(s: &str) -> Localized {
    Localized {
        en: s.into(),
        fr: s.into(),
        nl: s.into(),
        de: s.into(),
    }
}

pub fn suggest(services: usize, rounds: usize) {
    eprintln!("suggest: ranking {services} services for one need case, {rounds} times");
    let need = NeedCode::parse("psy.anxiety").unwrap();
    let regions = ["BE-VBR", "BE-BRU", "BE-WLG", "NL-LI", "NL-GE", "DE-PLZ-5"]
        .map(|r| Region::parse(r).unwrap());
    let langs = ["nl", "fr", "de", "en", "tr"].map(|l| LanguageTag::parse(l).unwrap());
    let mut model = Casework::default();
    for i in 0..services {
        let id = ServiceId::from_uuid(Uuid::now_v7());
        let profile = ServiceProfile {
            organisation: format!("Organisation {}", i % 300),
            organisation_id: None,
            name: text(&format!("Service {i}")),
            description: text("Supportive care"),
            needs: vec![need.clone(), NeedCode::parse("psy.depression").unwrap()],
            languages: vec![langs[i % 5].clone(), langs[(i / 5) % 5].clone()],
            area: match i % 3 {
                0 => ServiceArea {
                    regions: vec![regions[i % 6].clone()],
                    ..Default::default()
                },
                1 => ServiceArea {
                    countries: vec![[Country::BE, Country::NL, Country::DE][i % 3]],
                    ..Default::default()
                },
                _ => ServiceArea {
                    postal_codes: vec![
                        PostalCode::parse(Country::BE, &format!("{}", 1000 + (i % 9000))).unwrap(),
                    ],
                    ..Default::default()
                },
            },
            eligibility: Eligibility {
                min_age: (i % 7 == 0).then_some(18),
                max_age: (i % 11 == 0).then_some(39),
                patients: i % 13 != 0,
                relatives: true,
                requires_preferential_reimbursement: i % 17 == 0,
            },
            cost: [Cost::Free, Cost::Reimbursed, Cost::Fee][i % 3],
            contact: Contact::default(),
            cost_note: None,
            untranslated: vec![],
        }
        .normalised();
        let capacity = match i % 10 {
            0 => Capacity::NoCapacity,
            1..=3 => Capacity::Waitlist {
                estimated_wait_days: (i % 60) as u16,
            },
            _ => Capacity::HasCapacity,
        };
        let at = Utc::now();
        model.apply(&RecordedEvent {
            id: EventId::from_uuid(Uuid::now_v7()),
            stream: StreamName::service(id),
            version: 0,
            position: Position::new(i as u64 + 1),
            recorded_at: at,
            event: DomainEvent::Service(ServiceEvent::ServiceRegistered(ServiceRegistered {
                service: id,
                profile: Box::new(profile),
                capacity,
            })),
            metadata: EventMetadata {
                occurred_at: at,
                actor: Actor {
                    subject: "bench".into(),
                    role: Role::System,
                },
                site: None,
                correlation_id: Uuid::nil(),
                causation_id: None,
            },
        });
    }
    let postal = PostalCode::parse(Country::BE, "3000").unwrap();
    let recipient = RecipientProfile {
        recipient: careledger_domain::ids::RecipientId::from_uuid(Uuid::now_v7()),
        site: SiteId::parse("be-leuven").unwrap(),
        kind: RecipientKind::Patient,
        birth_year: BirthYear::parse(1960).unwrap(),
        sex: Sex::Female,
        region: postal.region(),
        postal_code: postal,
        country: Country::BE,
        language: LanguageTag::parse("nl").unwrap(),
        preferential_reimbursement: PreferentialReimbursement::Yes,
        deprivation_decile: None,
        cancer_site_group: CancerSiteGroup::Breast,
    };
    let seeker = Seeker {
        need: &need,
        recipient: &recipient,
        age: 66,
    };
    let dir = model.directory();
    assert_eq!(dir.candidates(&need).count(), services);

    let mut took = Vec::with_capacity(rounds);
    let mut suggested = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let ranking = matching::rank(seeker, dir.candidates(&need), 10);
        took.push(t.elapsed().as_secs_f64() * 1000.0);
        suggested = ranking.suggested.len();
        assert_eq!(ranking.suggested.len() + ranking.left_out.len(), services);
    }
    let mut walk = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let n = dir
            .candidates(&need)
            .filter(|c| c.capacity != Capacity::NoCapacity)
            .count();
        std::hint::black_box(n);
        walk.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Ranking and recording: the event the command path writes, encoded.
    let codec = careledger_infra::codec::Codec::default();
    let basis = RankingBasis {
        directory_position: model.position().raw(),
        matcher_version: MATCHER_VERSION,
        at: Utc::now(),
    };
    let record = |ranking: &Ranking, stored: bool| -> usize {
        let event = ServicesSuggested {
            suggestions: ranking
                .suggested
                .iter()
                .map(|s| Suggestion {
                    service: s.service,
                    rank: s.rank as u16,
                    reasons: s.reasons.iter().map(|r| r.code().into()).collect(),
                    score: Some(s.score),
                })
                .collect(),
            left_out: if stored {
                careledger_app::casework::left_out::left_out_services(ranking)
            } else {
                vec![]
            },
            ranked: (!stored).then_some(basis),
        };
        let e = DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(event));
        codec.encode(&e).payload.len()
    };
    let (mut now, mut v2) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let (mut bytes_now, mut bytes_v2) = (0, 0);
    for _ in 0..rounds {
        for (stored, took, bytes) in [
            (false, &mut now, &mut bytes_now),
            (true, &mut v2, &mut bytes_v2),
        ] {
            let t = Instant::now();
            let ranking = matching::rank(seeker, dir.candidates(&need), 10);
            *bytes = record(&ranking, stored);
            took.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let p99 = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)]
    };
    // Answering "why was it left out?": the same ranking made again over the
    // directory as it was at the recorded position, and its codes.
    let mut again = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let ranking = matching::rank(
            seeker,
            dir.candidates_at(&need, basis.directory_position),
            10,
        );
        let left = careledger_app::casework::left_out::left_out_services(&ranking);
        again.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(left.len(), services - 10);
    }
    let (p99_now, p99_v2, p99_again) = (p99(&mut now), p99(&mut v2), p99(&mut again));
    report(
        "suggest_event",
        bytes_now as f64,
        "bytes per ServicesSuggested (encoded payload)",
        Some(bytes_v2 as f64),
        &format!(
            "bytes of the same ranking's event as schema v2 stored it, every left-out service with its reasons ({services} services); p99 of ranking + recording: now {p99_now:.3} ms, v2 {p99_v2:.3} ms; recomputing the left-out list at the recorded position: p99 {p99_again:.3} ms"
        ),
        Some(p99_now),
        "no event grows with the directory",
    );
    let mean = took.iter().sum::<f64>() / took.len() as f64;
    let (p99_rank, p99_walk) = (p99(&mut took), p99(&mut walk));
    report(
        "suggest",
        mean,
        "ms per ranking (mean)",
        Some(p99_walk),
        &format!(
            "p99 of one walk over the same {services} candidates reading only their capacity (no judging), ms; {suggested} suggested, the rest left out with reasons"
        ),
        Some(p99_rank),
        "p99_ms <= 5 for 10,000 services",
    );
}
