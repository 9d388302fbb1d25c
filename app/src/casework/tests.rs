//! Given a store, when a case-work use case is refused, then the typed error
//! says why and nothing was written (the log's head did not move).

use super::*;
use crate::policy::SiteScope;
use crate::{Ports, Settings};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{Actor, Position, Role};
use careledger_domain::values::*;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use uuid::Uuid;

pub(super) fn app(dir: &std::path::Path) -> App {
    let store = SqliteEventStore::open(
        dir.join("s.sqlite"),
        Arc::new(SystemClock),
        SqliteOptions::default(),
    )
    .unwrap();
    App::new(
        Ports {
            store: Arc::new(store),
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: Projector::new(Casework::default()),
        },
        Settings::default(),
    )
}

pub(super) fn coordinator_of(site: &str) -> Access {
    Access::new(
        Actor {
            subject: "c".into(),
            role: Role::Coordinator,
        },
        SiteScope::Only(vec![SiteId::parse(site).unwrap()]),
    )
}

pub(super) fn ctx(access: &Access) -> CommandContext {
    CommandContext {
        actor: access.actor.clone(),
        idempotency_key: None,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    }
}

pub(super) fn registration(site: &str, kind: RecipientKind) -> RegisterCareRecipient {
    RegisterCareRecipient {
        recipient: RecipientId::from_uuid(Uuid::now_v7()),
        site: SiteId::parse(site).unwrap(),
        kind,
        birth_year: BirthYear::parse(1970).unwrap(),
        sex: Sex::Female,
        postal_code: PostalCode::parse(Country::BE, "4000").unwrap(),
        language: LanguageTag::parse("fr").unwrap(),
        preferential_reimbursement: PreferentialReimbursement::No,
        deprivation_decile: None,
        cancer_site_group: CancerSiteGroup::Breast,
        personal: None,
    }
}

/// A need case of `recipient` for `need`, with `service` suggested and a
/// referral to it requested: its id and the referral's.
pub(super) async fn referred(
    app: &App,
    coordinator: &Access,
    recipient: RecipientId,
    need: &str,
    service: ServiceId,
) -> (NeedCaseId, careledger_domain::ids::ReferralId) {
    use careledger_domain::need_case::SuggestedService;
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    let c = ctx(coordinator);
    let need = NeedCode::parse(need).unwrap();
    app.identify_need(coordinator, &c, id, recipient, need)
        .await
        .unwrap();
    let suggest = NeedCaseAction::SuggestServices {
        services: vec![SuggestedService {
            service,
            reasons: vec![],
            score: None,
        }],
        ranked: None,
    };
    app.need_case_command(coordinator, &c, id, suggest)
        .await
        .unwrap();
    let referral = careledger_domain::ids::ReferralId::from_uuid(Uuid::now_v7());
    let request = NeedCaseAction::RequestReferral {
        referral,
        service,
        consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
    };
    app.need_case_command(coordinator, &c, id, request)
        .await
        .unwrap();
    (id, referral)
}

pub(super) async fn head(app: &App) -> Position {
    app.store.head().await.unwrap()
}

#[tokio::test]
async fn registering_at_a_site_the_caller_does_not_cover_is_forbidden_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let r = app
        .register_care_recipient(
            &liege,
            &ctx(&liege),
            registration("be-leuven", RecipientKind::Patient),
            None,
        )
        .await;
    assert!(
        matches!(r, Err(AppError::Forbidden(crate::policy::Denied::Site))),
        "{r:?}"
    );
    assert_eq!(head(&app).await, Position::START);
}

#[tokio::test]
async fn a_relative_of_an_unknown_patient_is_refused_like_another_sites_patient() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (liege, leuven) = (coordinator_of("be-liege"), coordinator_of("be-leuven"));
    // A patient of Leuven exists; Liège's coordinator names them, and an unknown id.
    let patient = app
        .register_care_recipient(
            &leuven,
            &ctx(&leuven),
            registration("be-leuven", RecipientKind::Patient),
            None,
        )
        .await
        .unwrap()
        .view
        .unwrap()
        .profile
        .recipient;
    let before = head(&app).await;
    for named in [patient, RecipientId::from_uuid(Uuid::now_v7())] {
        let r = app
            .register_care_recipient(
                &liege,
                &ctx(&liege),
                registration("be-liege", RecipientKind::Relative { patient: named }),
                None,
            )
            .await;
        assert!(
            matches!(
                &r,
                Err(AppError::Rejected {
                    code: "PATIENT_NOT_FOUND",
                    field: Some("patientId"),
                    ..
                })
            ),
            "{r:?}"
        );
    }
    assert_eq!(head(&app).await, before);
}

#[tokio::test]
async fn a_need_outside_the_catalogue_or_for_an_unknown_recipient_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    let unknown = RecipientId::from_uuid(Uuid::now_v7());
    let r = app
        .identify_need(
            &liege,
            &ctx(&liege),
            id,
            unknown,
            NeedCode::parse("psy.nothing-like-it").unwrap(),
        )
        .await;
    assert!(
        matches!(
            &r,
            Err(AppError::Rejected {
                field: Some("needCode"),
                ..
            })
        ),
        "{r:?}"
    );
    let r = app
        .identify_need(
            &liege,
            &ctx(&liege),
            id,
            unknown,
            NeedCode::parse("psy.anxiety").unwrap(),
        )
        .await;
    assert!(
        matches!(
            &r,
            Err(AppError::Rejected {
                field: Some("recipientId"),
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(head(&app).await, Position::START);
}

#[tokio::test]
async fn a_ranking_limit_outside_1_to_50_is_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    for limit in [0, MAX_RANKED + 1] {
        let r = app.suggest_ranked(&liege, &ctx(&liege), id, limit).await;
        assert!(
            matches!(
                &r,
                Err(AppError::Rejected {
                    code: "INVALID_LIMIT",
                    ..
                })
            ),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn erasing_is_for_administrators_and_an_unknown_recipient_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let id = RecipientId::from_uuid(Uuid::now_v7());
    let r = app.erase_care_recipient(&liege, &ctx(&liege), id).await;
    assert!(
        matches!(
            r,
            Err(AppError::Forbidden(crate::policy::Denied::Role(
                Action::EraseRecipient
            )))
        ),
        "{r:?}"
    );
    let admin = Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    );
    let r = app.erase_care_recipient(&admin, &ctx(&admin), id).await;
    assert!(
        matches!(
            &r,
            Err(AppError::Rejected {
                code: "RECIPIENT_NOT_FOUND",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(head(&app).await, Position::START);
}

/// Issue 16: a provider answers, as the performing side, the referrals whose
/// service belongs to one of their organisations; another organisation's
/// referral and a requester-side command are refused with typed errors and
/// nothing written; a coordinator may still answer on the performer's behalf.
#[tokio::test]
async fn a_provider_answers_only_its_organisations_referrals_as_the_performer() {
    use careledger_domain::directory::{Capacity, DirectoryAction};
    use careledger_domain::ids::{OrganisationId, ReferralId};
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let liege = coordinator_of("be-liege");
    let admin = Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    );
    let org = OrganisationId::from_uuid(Uuid::now_v7());
    let provider_of = |o: OrganisationId| Access {
        actor: Actor {
            subject: "p".into(),
            role: Role::Provider,
        },
        sites: SiteScope::Only(vec![]),
        organisations: vec![o],
    };
    // A service of `org`, a need case at Liège, a referral to the service.
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
    let recipient = app
        .register_care_recipient(
            &liege,
            &ctx(&liege),
            registration("be-liege", RecipientKind::Patient),
            None,
        )
        .await
        .unwrap()
        .view
        .unwrap()
        .profile
        .recipient;
    let (id, referral) = referred(&app, &liege, recipient, "psy.anxiety", service).await;

    let before = head(&app).await;
    let stranger = provider_of(OrganisationId::from_uuid(Uuid::now_v7()));
    let accept = NeedCaseAction::AcceptReferral { referral };
    let r = app
        .need_case_command(&stranger, &ctx(&stranger), id, accept.clone())
        .await;
    assert!(
        matches!(
            r,
            Err(AppError::Forbidden(crate::policy::Denied::Organisation))
        ),
        "{r:?}"
    );
    let provider = provider_of(org);
    let close = NeedCaseAction::CloseNeed {
        reason: careledger_domain::need_case::CloseReason::Moved,
    };
    let r = app
        .need_case_command(&provider, &ctx(&provider), id, close)
        .await;
    assert!(
        matches!(r, Err(AppError::Forbidden(crate::policy::Denied::Role(_)))),
        "{r:?}"
    );
    assert_eq!(head(&app).await, before);

    // A second need case of the same recipient, referred to the same service.
    let (_, referral2) = referred(&app, &liege, recipient, "psy.depression", service).await;

    let done = app
        .need_case_command(&provider, &ctx(&provider), id, accept)
        .await
        .unwrap();
    assert!(!done.case_visible, "a provider does not see the need case");

    // The inbox (fed from the log here, as the runner does in a server): the
    // unanswered referral first, then the answered one; another organisation's
    // inbox and a coordinator are refused; entries carry the need.
    let from = app.projector.position();
    crate::projection::fold_log(
        app.store.as_ref(),
        from,
        None,
        |e| app.projector.apply(e),
        |_| {},
    )
    .await
    .unwrap();
    let first = careledger_projections::casework::Slice::First { n: 10, after: None };
    let inbox = app.referral_inbox(&provider, org, None, first).unwrap();
    let order: Vec<(ReferralId, bool)> = inbox
        .items
        .iter()
        .map(|(k, i)| (i.referral.id, k.0))
        .collect();
    assert_eq!(order, [(referral2, false), (referral, true)]);
    assert_eq!(inbox.items[0].1.need.as_str(), "psy.depression");
    assert!(!inbox.items[0].1.unanswered_overdue);
    let other = app.referral_inbox(&stranger, org, None, first);
    assert!(matches!(
        other,
        Err(AppError::Forbidden(crate::policy::Denied::Organisation))
    ));
    let coordinator = app.referral_inbox(&liege, org, None, first);
    assert!(matches!(
        coordinator,
        Err(AppError::Forbidden(crate::policy::Denied::Role(_)))
    ));
    let start = NeedCaseAction::StartReferral { referral };
    let done = app
        .need_case_command(&liege, &ctx(&liege), id, start)
        .await
        .unwrap();
    assert!(done.case_visible);
    let history = app.need_case_history(id).await.unwrap();
    let roles: Vec<Role> = history
        .iter()
        .rev()
        .take(2)
        .map(|e| e.metadata.actor.role)
        .collect();
    assert_eq!(roles, [Role::Coordinator, Role::Provider]);
}
