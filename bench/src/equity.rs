//! `projection_fold` and `equity_query`: a generated log of need cases (identified,
//! most suggested and referred, many completed, some closed) is folded into the
//! read models (all projections: casework, directory, equity cube); then
//! by-stratifier equity queries run against the cube.
//! Comparison point for the fold: decoding-free iteration over the same events
//! (the loop without folding). Memory: the process's resident set before and after.

use super::report;
use careledger_app::demo::Rng;
use careledger_domain::DomainEvent;
use careledger_domain::aggregate::{Aggregate, Command};
use careledger_domain::ids::{EventId, NeedCaseId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::*;
use careledger_domain::recipient::{RecipientKind, RecipientProfile};
use careledger_domain::store::{Actor, EventMetadata, Position, RecordedEvent, Role, StreamName};
use careledger_domain::values::*;
use careledger_projections::Casework;
use careledger_projections::equity::cube::{CubeFilter, Stratifier};
use careledger_projections::equity::report::{self, OutcomeKind, Reference};
use chrono::{Duration, TimeZone, Utc};
use std::time::Instant;
use uuid::Uuid;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) fn generate(cases: usize) -> Vec<RecordedEvent> {
    let mut out = Vec::with_capacity(cases * 5);
    Generator::new().cases(cases, &mut out);
    out
}

/// The generated need cases, made a chunk at a time (`memory_1m` and
/// `scale_10m` write them to a store without holding the whole log).
pub(crate) struct Generator {
    sites: [SiteId; 6],
    places: [(Country, &'static str); 6],
    langs: [LanguageTag; 6],
    needs: Vec<NeedCode>,
    services: Vec<ServiceId>,
    start: chrono::DateTime<Utc>,
    rng: Rng,
    actor: Actor,
}

impl Generator {
    pub(crate) fn new() -> Self {
        Self {
            sites: [
                "be-leuven",
                "be-liege",
                "de-aachen",
                "de-koeln",
                "nl-maastricht",
                "nl-nijmegen",
            ]
            .map(|s| SiteId::parse(s).unwrap()),
            places: [
                (Country::BE, "3000"),
                (Country::BE, "4000"),
                (Country::DE, "52062"),
                (Country::DE, "50667"),
                (Country::NL, "6211AB"),
                (Country::NL, "6511AA"),
            ],
            langs: ["nl", "fr", "de", "en", "tr", "ar"].map(|l| LanguageTag::parse(l).unwrap()),
            needs: careledger_infra::catalogue::default_catalogue()
                .unwrap()
                .needs()
                .iter()
                .map(|n| n.code().clone())
                .collect(),
            services: (0..200)
                .map(|_| ServiceId::from_uuid(Uuid::now_v7()))
                .collect(),
            start: Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0).unwrap(),
            rng: Rng::new(7),
            actor: Actor {
                subject: "bench".into(),
                role: Role::Coordinator,
            },
        }
    }

    /// `cases` more need cases' events appended to `out` (positions continue
    /// from `out`'s length).
    pub(crate) fn cases(&mut self, cases: usize, out: &mut Vec<RecordedEvent>) {
        let mut rng = std::mem::replace(&mut self.rng, Rng::new(0));
        let (sites, places, langs) = (&self.sites, self.places, &self.langs);
        let (needs, services, start, actor) =
            (&self.needs, &self.services, self.start, &self.actor);
        for i in 0..cases {
            let s = i % 6;
            let (country, pc) = places[s];
            let postal = PostalCode::parse(country, pc).unwrap();
            let profile = RecipientProfile {
                recipient: RecipientId::from_uuid(Uuid::now_v7()),
                site: sites[s].clone(),
                kind: if rng.chance(0.1) {
                    RecipientKind::Relative {
                        patient: RecipientId::from_uuid(Uuid::nil()),
                    }
                } else {
                    RecipientKind::Patient
                },
                birth_year: BirthYear::parse(1930 + rng.below(80) as i32).unwrap(),
                sex: [Sex::Female, Sex::Male][rng.below(2) as usize],
                region: postal.region(),
                postal_code: postal,
                country,
                language: langs[rng.below(6) as usize].clone(),
                preferential_reimbursement: [
                    PreferentialReimbursement::Yes,
                    PreferentialReimbursement::No,
                ][rng.below(2) as usize],
                deprivation_decile: Some(
                    DeprivationDecile::parse(rng.below(10) as u8 + 1).unwrap(),
                ),
                cancer_site_group: CancerSiteGroup::Breast,
            };
            let id = NeedCaseId::from_uuid(Uuid::now_v7());
            let stream = StreamName::need_case(id);
            let identified = start + Duration::hours(rng.below(500 * 24) as i64);
            let need = needs[rng.below(needs.len() as u64) as usize].clone();
            let referral = ReferralId::from_uuid(Uuid::now_v7());
            let service = services[rng.below(200) as usize];
            let mut actions = vec![(
                NeedCaseAction::IdentifyNeed {
                    need_case: id,
                    recipient: profile,
                    need,
                },
                identified,
            )];
            let mut at = identified;
            let mut step = |rng: &mut Rng, a: NeedCaseAction| {
                at += Duration::hours(1 + rng.below(20 * 24) as i64);
                (a, at)
            };
            if rng.chance(0.9) {
                actions.push(step(
                    &mut rng,
                    NeedCaseAction::SuggestServices {
                        services: vec![SuggestedService {
                            service,
                            reasons: vec![],
                            score: None,
                        }],
                        ranked: None,
                    },
                ));
                if rng.chance(0.75) {
                    actions.push(step(
                        &mut rng,
                        NeedCaseAction::RequestReferral {
                            referral,
                            service,
                            consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
                        },
                    ));
                    if rng.chance(0.85) {
                        actions.push(step(&mut rng, NeedCaseAction::AcceptReferral { referral }));
                        actions.push(step(&mut rng, NeedCaseAction::StartReferral { referral }));
                        if rng.chance(0.8) {
                            actions.push(step(
                                &mut rng,
                                NeedCaseAction::CompleteReferral {
                                    referral,
                                    outcome: Outcome::NeedMet,
                                },
                            ));
                        }
                    } else {
                        actions.push(step(
                            &mut rng,
                            NeedCaseAction::RejectReferral {
                                referral,
                                reason: RejectionReason::NoCapacity,
                            },
                        ));
                    }
                } else if rng.chance(0.5) {
                    actions.push(step(
                        &mut rng,
                        NeedCaseAction::CloseNeed {
                            reason: CloseReason::NoServiceAvailable,
                        },
                    ));
                }
            }
            let mut state = NeedCase::default();
            for (v, (action, at)) in actions.into_iter().enumerate() {
                let events = state
                    .decide(&Command {
                        action,
                        occurred_at: at,
                        now: at,
                    })
                    .expect("a valid plan");
                for e in events {
                    state.apply(&e, at);
                    out.push(RecordedEvent {
                        id: EventId::from_uuid(Uuid::nil()),
                        stream: stream.clone(),
                        version: v as u64,
                        position: Position::new(out.len() as u64 + 1),
                        recorded_at: at,
                        event: DomainEvent::NeedCase(e),
                        metadata: EventMetadata {
                            occurred_at: at,
                            actor: actor.clone(),
                            site: None,
                            correlation_id: Uuid::nil(),
                            causation_id: None,
                        },
                    });
                }
            }
        }
        self.rng = rng;
    }
}

pub fn run(cases: usize, queries: usize, fold_wanted: bool, query_wanted: bool) {
    eprintln!("projection_fold / equity_query: generating {cases} need cases");
    let events = generate(cases);
    let before = rss_mb();
    let t = Instant::now();
    let mut count = 0usize;
    for e in &events {
        count += std::hint::black_box(e.version as usize & 1);
    }
    let walk = events.len() as f64 / t.elapsed().as_secs_f64().max(1e-9);
    std::hint::black_box(count);
    let t = Instant::now();
    let mut model = Casework::default();
    for e in &events {
        model.apply(e);
    }
    let fold = events.len() as f64 / t.elapsed().as_secs_f64();
    let after = rss_mb();
    if fold_wanted {
        report(
            "projection_fold",
            fold,
            "events/s",
            Some(walk),
            &format!(
                "a loop over the same {} events without folding; the read models of {cases} need cases (all projections) take ~{:.0} MB (resident set {before:.0} MB with the generated events before folding, {after:.0} MB after); equity cube: {} cells, {:.0} MB on the heap",
                events.len(),
                after - before,
                model.equity().cell_count(),
                model.equity().heap_bytes() as f64 / 1e6
            ),
            None,
            ">= 500000 events/s folded into all projections",
        );
    }
    drop(events);
    if query_wanted {
        let by = [
            Stratifier::Language,
            Stratifier::AgeBand,
            Stratifier::Region,
            Stratifier::DeprivationQuintile,
            Stratifier::Site,
        ];
        // The same tables without and with the cell-key perturbation of every
        // released count (as quality managers and external applications get them).
        let method = careledger_projections::equity::disclosure::CellKeyMethod::new(
            b"benchmark disclosure secret, 32 bytes",
        );
        let timed = |perturb: bool| {
            let mut took = Vec::with_capacity(queries);
            for q in 0..queries {
                let t = Instant::now();
                let mut groups = model
                    .equity()
                    .groups(by[q % by.len()], &CubeFilter::default());
                if perturb {
                    for (_, c) in &mut groups {
                        *c = method.perturb(c);
                    }
                }
                let table = report::table(
                    &groups,
                    OutcomeKind::ReferralRate,
                    &Reference::MostFavourable,
                    5,
                );
                std::hint::black_box(table.to_csv("x"));
                took.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            took.sort_by(f64::total_cmp);
            let p99 = took[((took.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)];
            let mean = took.iter().sum::<f64>() / took.len() as f64;
            (mean, p99)
        };
        // The dashboard's other tables, timed once each (where its time goes).
        if std::env::var_os("CARELEDGER_BENCH_PROFILE_TABLES").is_some() {
            let f = CubeFilter::default();
            let t = Instant::now();
            std::hint::black_box(model.equity().times(Stratifier::Language, &f));
            let times = t.elapsed();
            let t = Instant::now();
            std::hint::black_box(model.equity().trend(Stratifier::Language, &f));
            let trend = t.elapsed();
            let t = Instant::now();
            std::hint::black_box(model.equity_two_way(Stratifier::Language, Stratifier::Sex, &f));
            let two_way = t.elapsed();
            eprintln!("equity tables: times {times:?}, trend {trend:?}, two-way {two_way:?}");
        }
        let (exact_mean, exact_p99) = timed(false);
        let (mean, p99) = timed(true);
        report(
            "equity_query",
            mean,
            "ms per by-stratifier table (mean), counts perturbed",
            Some(exact_mean),
            &format!(
                "the same tables with exact counts in the same run (mean; p99 {exact_p99:.3} ms): {queries} by-stratifier referral-rate tables (with cell-key perturbation, intervals, tests, suppression, CSV) over {cases} need cases, in process; resident set {:.0} MB",
                rss_mb()
            ),
            Some(p99),
            "p99_ms <= 20 at 1,000,000 need cases",
        );
    }
}
