//! Following a topic: what was missed, then live, each change once and in order;
//! a follower older than the ring reads the log; nobody follows what they may
//! not read.

use super::*;
use crate::policy::SiteScope;
use crate::{CommandContext, Ports, Settings};
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{NeedCaseAction, ReferralStatus, SuggestedService};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::*;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use std::time::Duration;
use uuid::Uuid;

struct World {
    app: App,
    _dir: tempfile::TempDir,
    admin: Access,
    org: OrganisationId,
    service: ServiceId,
    _runner: tokio::task::JoinHandle<()>,
}

fn access(role: Role, sites: &[&str], orgs: Vec<OrganisationId>) -> Access {
    Access {
        actor: Actor {
            subject: format!("{}-1", role.name()),
            role,
        },
        sites: SiteScope::Only(sites.iter().map(|s| SiteId::parse(s).unwrap()).collect()),
        organisations: orgs,
    }
}

fn ctx(a: &Access) -> CommandContext {
    CommandContext {
        actor: a.actor.clone(),
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    }
}

/// An application with its projection running, a ring of `ring` changes, and
/// one service of one organisation in the directory.
async fn world(ring: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(
            dir.path().join("s.sqlite"),
            Arc::new(SystemClock),
            SqliteOptions::default(),
        )
        .unwrap(),
    );
    let projector = Projector::with_ring(Casework::default(), ring);
    let runner = tokio::spawn(careledger_projections::runner::run(
        projector.clone(),
        store.clone(),
    ));
    let app = App::new(
        Ports {
            store,
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir.path()).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector,
        },
        Settings::default(),
    );
    let admin = Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    );
    let org = OrganisationId::from_uuid(Uuid::now_v7());
    let service = ServiceId::from_uuid(Uuid::now_v7());
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let mut profile = careledger_infra::hsds::read_example(&catalogue).unwrap()[0]
        .profile
        .clone();
    profile.organisation_id = Some(org);
    app.change_directory(
        &admin,
        &ctx(&admin),
        service,
        DirectoryAction::Register {
            service,
            profile,
            capacity: Capacity::HasCapacity,
        },
    )
    .await
    .unwrap();
    World {
        app,
        _dir: dir,
        admin,
        org,
        service,
        _runner: runner,
    }
}

impl World {
    fn coordinator(&self, site: &str) -> Access {
        access(Role::Coordinator, &[site], vec![])
    }

    async fn recipient(&self, site: &str) -> RecipientId {
        let c = self.coordinator(site);
        let reg = RegisterCareRecipient {
            recipient: RecipientId::from_uuid(Uuid::now_v7()),
            site: SiteId::parse(site).unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1970).unwrap(),
            sex: Sex::Female,
            postal_code: PostalCode::parse(Country::BE, "4000").unwrap(),
            language: LanguageTag::parse("fr").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::No,
            deprivation_decile: None,
            cancer_site_group: CancerSiteGroup::Breast,
            personal: None,
        };
        let id = reg.recipient;
        self.app
            .register_care_recipient(&c, &ctx(&c), reg, None)
            .await
            .unwrap();
        id
    }

    /// Identify, suggest, request at `site`: three changes.
    async fn refer(&self, site: &str) -> (NeedCaseId, ReferralId) {
        let c = self.coordinator(site);
        let recipient = self.recipient(site).await;
        let id = NeedCaseId::from_uuid(Uuid::now_v7());
        let need = NeedCode::parse("psy.anxiety").unwrap();
        self.app
            .identify_need(&c, &ctx(&c), id, recipient, need)
            .await
            .unwrap();
        let suggest = NeedCaseAction::SuggestServices {
            services: vec![SuggestedService {
                service: self.service,
                reasons: vec![],
                score: None,
            }],
            ranked: None,
        };
        self.app
            .need_case_command(&c, &ctx(&c), id, suggest)
            .await
            .unwrap();
        let referral = ReferralId::from_uuid(Uuid::now_v7());
        let request = NeedCaseAction::RequestReferral {
            referral,
            service: self.service,
            consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
        };
        self.app
            .need_case_command(&c, &ctx(&c), id, request)
            .await
            .unwrap();
        (id, referral)
    }

    async fn answer(&self, site: &str, id: NeedCaseId, action: NeedCaseAction) {
        let c = self.coordinator(site);
        self.app
            .need_case_command(&c, &ctx(&c), id, action)
            .await
            .unwrap();
    }
}

async fn next(f: &mut Follower) -> Arc<Change> {
    tokio::time::timeout(Duration::from_secs(5), f.next())
        .await
        .expect("a change within 5 s")
        .unwrap()
}

/// Nothing more arrives within a short wait.
async fn nothing_more(f: &mut Follower) {
    let r = tokio::time::timeout(Duration::from_millis(200), f.next()).await;
    assert!(r.is_err(), "unexpected change: {:?}", r.map(|c| c.unwrap()));
}

/// A follower of a site given `after` gets what it missed, then each live
/// change, once and in log order; another site's changes never arrive; a
/// second follower resuming from the first one's last position gets exactly
/// the rest.
#[tokio::test]
async fn a_follower_gets_what_it_missed_then_each_live_change_once_in_order() {
    let w = world(1_024).await;
    let start = w.app.store.head().await.unwrap();
    let (liege_case, referral) = w.refer("be-liege").await;
    let (leuven_case, leuven_referral) = w.refer("be-leuven").await;
    let liege = w.coordinator("be-liege");
    let mut f = w
        .app
        .follow(
            &liege,
            Topic::Site(SiteId::parse("be-liege").unwrap()),
            Some(start),
        )
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next(&mut f).await);
    }
    assert_eq!(
        seen.iter().map(|c| c.event_type).collect::<Vec<_>>(),
        vec!["NeedIdentified", "ServicesSuggested", "ReferralRequested"]
    );
    assert!(seen.iter().all(|c| c.need_case == liege_case));
    nothing_more(&mut f).await;

    // Live: the provider's answers, interleaved with another site's work.
    w.answer(
        "be-liege",
        liege_case,
        NeedCaseAction::AcceptReferral { referral },
    )
    .await;
    let accept = NeedCaseAction::AcceptReferral {
        referral: leuven_referral,
    };
    w.answer("be-leuven", leuven_case, accept).await;
    w.answer(
        "be-liege",
        liege_case,
        NeedCaseAction::StartReferral { referral },
    )
    .await;
    let accepted = next(&mut f).await;
    let started = next(&mut f).await;
    assert_eq!(
        accepted
            .referral
            .as_ref()
            .map(|r| (r.status, r.organisation)),
        Some((Some(ReferralStatus::Accepted), Some(w.org)))
    );
    assert_eq!(started.event_type, "ReferralStarted");
    // A note moves no status: the change says which referral, with no status.
    let c = w.coordinator("be-liege");
    w.app
        .add_referral_note(
            &c,
            &ctx(&c),
            liege_case,
            referral,
            careledger_domain::ids::NoteId::from_uuid(Uuid::now_v7()),
            careledger_domain::need_case::NoteText::new("rappeler lundi").unwrap(),
        )
        .await
        .unwrap();
    let note = next(&mut f).await;
    assert_eq!(note.event_type, "ReferralNoteAdded");
    assert_eq!(
        note.referral.as_ref().map(|r| (r.referral, r.status)),
        Some((referral, None))
    );
    nothing_more(&mut f).await;
    let all: Vec<_> = seen
        .iter()
        .chain([&accepted, &started, &note])
        .map(|c| c.position)
        .collect();
    assert!(all.windows(2).all(|p| p[0] < p[1]), "in log order: {all:?}");

    // A reconnect after the third change replays exactly the last two.
    let mut again = w
        .app
        .follow(
            &liege,
            Topic::Site(SiteId::parse("be-liege").unwrap()),
            Some(seen[2].position),
        )
        .unwrap();
    assert_eq!(next(&mut again).await.position, accepted.position);
    assert_eq!(next(&mut again).await.position, started.position);
    assert_eq!(next(&mut again).await.position, note.position);
    nothing_more(&mut again).await;
    let _ = &w.admin;
}

/// A consumer slower than the ring is long still gets every change once: it
/// reads the log for what fell out of the ring, then the ring again; the same
/// for a provider's organisation topic.
#[tokio::test]
async fn a_follower_behind_the_ring_reads_the_log_and_misses_nothing() {
    let w = world(2).await;
    let provider = access(Role::Provider, &[], vec![w.org]);
    let mut slow = w
        .app
        .follow(
            &w.coordinator("be-liege"),
            Topic::Site(SiteId::parse("be-liege").unwrap()),
            None,
        )
        .unwrap();
    let mut inbox = w
        .app
        .follow(&provider, Topic::Organisation(w.org), None)
        .unwrap();
    let (a, ra) = w.refer("be-liege").await;
    let (b, _) = w.refer("be-leuven").await;
    w.answer(
        "be-liege",
        a,
        NeedCaseAction::AcceptReferral { referral: ra },
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next(&mut slow).await);
    }
    assert_eq!(
        got.iter().map(|c| c.event_type).collect::<Vec<_>>(),
        vec![
            "NeedIdentified",
            "ServicesSuggested",
            "ReferralRequested",
            "ReferralAccepted"
        ]
    );
    assert!(got.iter().all(|c| c.need_case == a));
    nothing_more(&mut slow).await;
    // The organisation sees both referrals to its service and the answer, not
    // the identifications or suggestions.
    let mut org = Vec::new();
    for _ in 0..3 {
        org.push(next(&mut inbox).await);
    }
    assert_eq!(
        org.iter()
            .map(|c| (c.need_case, c.event_type))
            .collect::<Vec<_>>(),
        vec![
            (a, "ReferralRequested"),
            (b, "ReferralRequested"),
            (a, "ReferralAccepted")
        ]
    );
    nothing_more(&mut inbox).await;
}

/// Following needs the matching read: a coordinator follows their own sites,
/// a provider their own organisations, nobody anything else.
#[tokio::test]
async fn nobody_follows_what_they_may_not_read() {
    let w = world(16).await;
    let liege = SiteId::parse("be-liege").unwrap();
    let refused =
        |a: &Access, t: Topic| matches!(w.app.follow(a, t, None), Err(AppError::Forbidden(_)));
    assert!(refused(
        &w.coordinator("be-leuven"),
        Topic::Site(liege.clone())
    ));
    assert!(refused(
        &w.coordinator("be-liege"),
        Topic::Organisation(w.org)
    ));
    let other = OrganisationId::from_uuid(Uuid::now_v7());
    let provider = access(Role::Provider, &[], vec![other]);
    assert!(refused(&provider, Topic::Organisation(w.org)));
    assert!(refused(&provider, Topic::Site(liege.clone())));
    assert!(refused(
        &access(Role::QualityManager, &["be-liege"], vec![]),
        Topic::Site(liege.clone())
    ));
    assert!(refused(
        &access(Role::ExternalApp, &[], vec![]),
        Topic::Site(liege.clone())
    ));
    assert!(
        w.app
            .follow(&w.coordinator("be-liege"), Topic::Site(liege), None)
            .is_ok()
    );
    assert!(
        w.app
            .follow(
                &access(Role::Provider, &[], vec![w.org]),
                Topic::Organisation(w.org),
                None
            )
            .is_ok()
    );
    let _ = &w.admin;
}
