//! Issue 19: a ranking's left-out services are recomputed from the directory as
//! it was, and equal what the ranking stored before (the old computation,
//! `left_out_services` of the ranking made at suggestion time, is the oracle) —
//! also after the directory changed; rankings recorded before answer as stored;
//! a ranking by another matcher version says so.

use super::left_out::{LeftOutAnswer, left_out_services};
use super::tests::{coordinator_of, ctx};
use super::*;
use crate::directory::{ServiceRecord, import_services};
use crate::policy::SiteScope;
use crate::{Ports, Settings};
use careledger_domain::DomainEvent;
use careledger_domain::directory::{Capacity, Cost, ServiceArea};
use careledger_domain::ids::{EventId, ServiceId};
use careledger_domain::need_case::{LeftOutService, NeedCaseEvent, ServicesSuggested, Suggestion};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{
    Actor, EventMetadata, ExpectedVersion, NewEvent, Position, Role, StreamName,
};
use careledger_domain::values::*;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use uuid::Uuid;

/// An app whose read models follow the log, as a server's do.
fn app(dir: &std::path::Path) -> Arc<App> {
    let store = SqliteEventStore::open(
        dir.join("s.sqlite"),
        Arc::new(SystemClock),
        SqliteOptions::default(),
    )
    .unwrap();
    let app = Arc::new(App::new(
        Ports {
            store: Arc::new(store),
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: Projector::new(Casework::default()),
        },
        Settings::default(),
    ));
    tokio::spawn(careledger_projections::runner::run(
        app.projector.clone(),
        app.store.clone(),
    ));
    app
}

/// A small deterministic generator (splitmix64), so a failing seed reruns.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const NEEDS: [&str; 2] = ["psy.anxiety", "psy.depression"];

/// A service of the example package made random where the matcher looks: its
/// needs, languages, area, eligibility, cost, capacity and status.
fn service(rng: &mut Rng, template: &ServiceRecord) -> ServiceRecord {
    let mut p = template.profile.clone();
    p.needs = match rng.below(4) {
        0 => vec![NeedCode::parse(NEEDS[1]).unwrap()],
        1 => NEEDS.iter().map(|n| NeedCode::parse(n).unwrap()).collect(),
        _ => vec![NeedCode::parse(NEEDS[0]).unwrap()],
    };
    let langs = ["nl", "fr", "de", "en"];
    p.languages = vec![LanguageTag::parse(langs[rng.below(4) as usize]).unwrap()];
    p.area = match rng.below(4) {
        0 => ServiceArea {
            countries: vec![[Country::BE, Country::NL][rng.below(2) as usize]],
            ..Default::default()
        },
        1 => ServiceArea {
            regions: vec![
                Region::parse(["BE-WLG", "BE-VBR", "BE-BRU"][rng.below(3) as usize]).unwrap(),
            ],
            ..Default::default()
        },
        _ => ServiceArea {
            postal_codes: vec![
                PostalCode::parse(
                    Country::BE,
                    ["4000", "4020", "1000", "3000"][rng.below(4) as usize],
                )
                .unwrap(),
            ],
            ..Default::default()
        },
    };
    let e = &mut p.eligibility;
    e.min_age = rng.chance(20).then(|| [18, 40, 65][rng.below(3) as usize]);
    e.max_age = rng.chance(20).then_some(90).filter(|_| e.min_age.is_none());
    e.patients = rng.chance(85);
    e.relatives = !e.patients || rng.chance(70);
    e.requires_preferential_reimbursement = rng.chance(15);
    p.cost = [Cost::Free, Cost::Reimbursed, Cost::Fee][rng.below(3) as usize];
    ServiceRecord {
        id: ServiceId::from_uuid(Uuid::now_v7()),
        profile: p,
        capacity: capacity(rng),
        active: rng.chance(90),
    }
}

fn capacity(rng: &mut Rng) -> Capacity {
    match rng.below(5) {
        0 => Capacity::NoCapacity,
        1 => Capacity::Waitlist {
            estimated_wait_days: rng.below(90) as u16,
        },
        _ => Capacity::HasCapacity,
    }
}

fn recipient(rng: &mut Rng, site: &str) -> RegisterCareRecipient {
    RegisterCareRecipient {
        recipient: careledger_domain::ids::RecipientId::from_uuid(Uuid::now_v7()),
        site: SiteId::parse(site).unwrap(),
        kind: RecipientKind::Patient,
        birth_year: BirthYear::parse(1930 + rng.below(80) as i32).unwrap(),
        sex: Sex::Female,
        postal_code: PostalCode::parse(
            Country::BE,
            ["4000", "4020", "1000", "3000"][rng.below(4) as usize],
        )
        .unwrap(),
        language: LanguageTag::parse(["fr", "nl", "de"][rng.below(3) as usize]).unwrap(),
        preferential_reimbursement: if rng.chance(50) {
            PreferentialReimbursement::Yes
        } else {
            PreferentialReimbursement::No
        },
        deprivation_decile: None,
        cancer_site_group: CancerSiteGroup::Breast,
        personal: None,
    }
}

fn template() -> ServiceRecord {
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let s = careledger_infra::hsds::read_example(&catalogue)
        .unwrap()
        .remove(0);
    ServiceRecord {
        id: s.id,
        profile: s.profile,
        capacity: s.capacity,
        active: true,
    }
}

/// The need case as the log has it now, and its stream version.
async fn fresh(app: &App, id: NeedCaseId) -> (careledger_domain::need_case::NeedCaseData, u64) {
    let history = app.read_stream(&StreamName::need_case(id)).await.unwrap();
    let case = crate::aggregates::fold::<careledger_domain::need_case::NeedCase>(&history);
    (
        case.data().unwrap().clone(),
        history.last().unwrap().version,
    )
}

/// What the latest suggestion of `case` records.
async fn latest(app: &App, case: NeedCaseId) -> ServicesSuggested {
    let history = app.need_case_history(case).await.unwrap();
    history
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap()
}

/// Appends a suggestion as an older build (or another matcher) recorded it.
async fn append(
    app: &App,
    id: NeedCaseId,
    version: u64,
    event: ServicesSuggested,
) -> careledger_domain::store::Appended {
    app.store
        .append(
            StreamName::need_case(id),
            ExpectedVersion::Exact(version),
            vec![NewEvent {
                id: EventId::from_uuid(Uuid::now_v7()),
                event: DomainEvent::NeedCase(NeedCaseEvent::ServicesSuggested(event)),
                metadata: EventMetadata {
                    occurred_at: chrono::Utc::now(),
                    actor: coordinator_of("be-liege").actor,
                    site: Some(SiteId::parse("be-liege").unwrap()),
                    correlation_id: Uuid::now_v7(),
                    causation_id: None,
                },
            }],
        )
        .await
        .unwrap()
}

fn admin() -> Access {
    Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    )
}

/// The need case's audit trail, as an administrator reads it.
async fn trail(app: &App, id: NeedCaseId) -> Vec<careledger_domain::store::RecordedEvent> {
    app.audit_trail(
        &admin(),
        crate::audit::AuditQuery {
            stream: Some(StreamName::need_case(id)),
            ..Default::default()
        },
        Position::START,
        10,
    )
    .await
    .unwrap()
    .events
}

#[tokio::test]
async fn a_recomputed_left_out_list_is_the_one_the_ranking_stored_even_after_the_directory_changed()
{
    let template = template();
    let liege = coordinator_of("be-liege");
    let mut changed_since = 0;
    let mut left_out_seen = 0;
    for seed in 0..8u64 {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let mut rng = Rng(seed);
        let mut services: Vec<ServiceRecord> = (0..20 + rng.below(40))
            .map(|_| service(&mut rng, &template))
            .collect();
        import_services(&app, &services, || {}).await.unwrap();

        // Several need cases, each ranked; the oracle is what the ranking
        // stored before issue 19: its left-out list, made at suggestion time.
        let mut cases = Vec::new();
        for _ in 0..4 {
            let r = recipient(&mut rng, "be-liege");
            let rid = r.recipient;
            app.register_care_recipient(&liege, &ctx(&liege), r, None)
                .await
                .unwrap();
            let id = NeedCaseId::from_uuid(Uuid::now_v7());
            let need = NeedCode::parse(NEEDS[rng.below(2) as usize]).unwrap();
            app.identify_need(&liege, &ctx(&liege), id, rid, need)
                .await
                .unwrap();
            let limit = 1 + rng.below(8) as usize;
            if app
                .suggest_ranked(&liege, &ctx(&liege), id, limit)
                .await
                .is_err()
            {
                continue; // nothing eligible: nothing recorded
            }
            let event = latest(&app, id).await;
            let basis = event.ranked.expect("a ranking records its basis");
            assert!(event.left_out.is_empty(), "nothing left out is stored");
            let (case, version) = fresh(&app, id).await;
            let (ranking, _) = app.rank_services(&case, basis.at, limit);
            let stored_before = left_out_services(&ranking);
            left_out_seen += stored_before.len();
            cases.push((case, version, basis, stored_before));
        }

        // The directory changes: services added, retired, re-capacitated, and
        // one no longer addressing its needs' first.
        let added: Vec<ServiceRecord> = (0..5).map(|_| service(&mut rng, &template)).collect();
        for s in services.iter_mut() {
            match rng.below(6) {
                0 => s.active = false,
                1 => s.capacity = capacity(&mut rng),
                2 => {
                    s.profile.needs = vec![
                        NeedCode::parse(if s.profile.needs[0].as_str() == NEEDS[0] {
                            NEEDS[1]
                        } else {
                            NEEDS[0]
                        })
                        .unwrap(),
                    ];
                }
                _ => {}
            }
        }
        services.extend(added);
        import_services(&app, &services, || {}).await.unwrap();

        for (case, version, basis, stored_before) in &cases {
            let answer = app.need_case_left_out(case, *version).await.unwrap();
            assert_eq!(
                answer,
                LeftOutAnswer::Recomputed {
                    basis: *basis,
                    left_out: stored_before.clone(),
                },
                "seed {seed}"
            );
            let now = app.rank_services(case, basis.at, case.suggestions.len()).0;
            if left_out_services(&now) != *stored_before {
                changed_since += 1;
            }
        }
    }
    assert!(left_out_seen > 100, "{left_out_seen}");
    // Most rankings would answer differently over today's directory: the
    // recomputation really reads the directory as it was.
    assert!(changed_since > 10, "{changed_since}");
}

/// A ranking recorded before issue 19 (schema v2) answers with its stored list,
/// in the need case and in the audit trail; one ranked by another version of
/// the matcher's rules is not recomputed and says so.
#[tokio::test]
async fn stored_left_out_lists_answer_as_stored_and_another_matcher_version_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let template = template();
    import_services(&app, std::slice::from_ref(&template), || {})
        .await
        .unwrap();
    let r = recipient(&mut Rng(1), "be-liege");
    let rid = r.recipient;
    app.register_care_recipient(&liege, &ctx(&liege), r, None)
        .await
        .unwrap();
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    let need = template.profile.needs[0].clone();
    app.identify_need(&liege, &ctx(&liege), id, rid, need)
        .await
        .unwrap();
    let gone = ServiceId::from_uuid(Uuid::now_v7());
    let stored = vec![LeftOutService {
        service: gone,
        reasons: vec!["no_capacity".into(), "outside_service_area".into()],
    }];
    let suggestions = vec![Suggestion {
        service: template.id,
        rank: 1,
        reasons: ["addresses_need".into()].into(),
        score: Some(40),
    }];
    let v2 = append(
        &app,
        id,
        0,
        ServicesSuggested {
            suggestions: suggestions.clone(),
            left_out: stored.clone(),
            ranked: None,
        },
    )
    .await;
    let (case, version) = fresh(&app, id).await;
    assert_eq!(
        app.need_case_left_out(&case, version).await.unwrap(),
        LeftOutAnswer::Stored(stored.clone())
    );
    let events = trail(&app, id).await;
    let shown = crate::audit::lifecycle_fields(&events[1].event);
    assert_eq!(
        shown["left_out"],
        serde_json::json!([{"service": gone.to_string(), "reasons": ["no_capacity"]}])
    );
    assert!(shown.get("ranked").is_none());

    let basis = careledger_domain::need_case::RankingBasis {
        directory_position: v2.last_position().raw(),
        matcher_version: careledger_domain::matching::MATCHER_VERSION + 1,
        at: chrono::Utc::now(),
    };
    append(
        &app,
        id,
        1,
        ServicesSuggested {
            suggestions,
            left_out: vec![],
            ranked: Some(basis),
        },
    )
    .await;
    let (case, version) = fresh(&app, id).await;
    let answer = app.need_case_left_out(&case, version).await.unwrap();
    assert_eq!(answer, LeftOutAnswer::MatcherChanged { basis });
    assert_eq!(answer.unavailable(), Some("MATCHER_CHANGED"));
    let events = trail(&app, id).await;
    let shown = crate::audit::lifecycle_fields(&events[2].event);
    assert_eq!(shown["left_out"], serde_json::json!([]));
    assert_eq!(shown["ranked"]["left_out_unavailable"], "MATCHER_CHANGED");
}

/// The audit trail and a stream's history show a ranking's recomputed list as
/// if stored, the audit trail with the recipient-side reasons withheld.
#[tokio::test]
async fn the_audit_trail_shows_a_rankings_recomputed_left_out_services() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let template = template();
    let mut rng = Rng(7);
    let services: Vec<ServiceRecord> = (0..30).map(|_| service(&mut rng, &template)).collect();
    import_services(&app, &services, || {}).await.unwrap();
    let r = recipient(&mut rng, "be-liege");
    let rid = r.recipient;
    app.register_care_recipient(&liege, &ctx(&liege), r, None)
        .await
        .unwrap();
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    app.identify_need(
        &liege,
        &ctx(&liege),
        id,
        rid,
        NeedCode::parse(NEEDS[0]).unwrap(),
    )
    .await
    .unwrap();
    app.suggest_ranked(&liege, &ctx(&liege), id, 2)
        .await
        .unwrap();
    let (case, version) = fresh(&app, id).await;
    let want = app.need_case_left_out(&case, version).await.unwrap();
    assert!(want.services().len() > 5, "{want:?}");
    let events = trail(&app, id).await;
    let shown = crate::audit::lifecycle_fields(&events[1].event);
    let listed: Vec<String> = shown["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["service"].as_str().unwrap().to_string())
        .collect();
    let service_side: Vec<String> = want
        .services()
        .iter()
        .filter(|l| {
            l.reasons
                .iter()
                .any(|r| crate::audit::service_side_reason(r))
        })
        .map(|l| l.service.to_string())
        .collect();
    assert!(!service_side.is_empty());
    assert_eq!(listed, service_side);
    assert_eq!(
        shown["ranked"]["matcher_version"],
        careledger_domain::matching::MATCHER_VERSION
    );
    let history = app
        .stream_history(&liege, StreamName::need_case(id), 0, 10)
        .await
        .unwrap();
    let record = crate::audit::record_fields(&history[1].event);
    assert_eq!(
        record["left_out"].as_array().unwrap().len(),
        want.services().len()
    );
}
