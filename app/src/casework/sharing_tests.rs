//! Issue 16, consent and notes: who sees a recipient's contact details on a
//! referral and when; who writes and reads notes; that refusals write nothing
//! and that erasure makes notes unreadable, also when the read model is rebuilt.

use super::sharing::ReferralContact;
use super::tests::{app, coordinator_of, ctx, head, registration};
use super::*;
use crate::policy::{Denied, SiteScope};
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::ids::{NoteId, OrganisationId, ReferralId};
use careledger_domain::need_case::{NoteText, ShareConsent, Side, SuggestedService};
use careledger_domain::recipient::RecipientKind;
use careledger_domain::store::{Actor, Position, Role};
use uuid::Uuid;

const MARKER: &str = "Marker-7f3c: Anna calls back on Tuesday";

fn admin() -> Access {
    Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    )
}

fn provider_of(o: OrganisationId) -> Access {
    Access {
        actor: Actor {
            subject: "p".into(),
            role: Role::Provider,
        },
        sites: SiteScope::Only(vec![]),
        organisations: vec![o],
    }
}

/// A service of a new organisation and a recipient at Liège with names and
/// contact details.
async fn setup(app: &App) -> (OrganisationId, ServiceId, RecipientId) {
    let org = OrganisationId::from_uuid(Uuid::now_v7());
    let service = ServiceId::from_uuid(Uuid::now_v7());
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let mut profile = careledger_infra::hsds::read_example(&catalogue).unwrap()[0]
        .profile
        .clone();
    profile.organisation_id = Some(org);
    let admin = admin();
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
    let liege = coordinator_of("be-liege");
    let personal = PersonalData::new(
        Some("Anna".into()),
        Some("Peeters".into()),
        Some("+32 4 222 33 44".into()),
        Some("anna@example.be".into()),
        Some("Rue 1, 4000 Liège".into()),
    )
    .unwrap();
    let recipient = app
        .register_care_recipient(
            &liege,
            &ctx(&liege),
            registration("be-liege", RecipientKind::Patient),
            Some(personal),
        )
        .await
        .unwrap()
        .view
        .unwrap()
        .profile
        .recipient;
    (org, service, recipient)
}

/// A need case referred to `service` with `consent`.
async fn referred_with(
    app: &App,
    recipient: RecipientId,
    need: &str,
    service: ServiceId,
    consent: ShareConsent,
) -> (NeedCaseId, ReferralId) {
    let liege = coordinator_of("be-liege");
    let c = ctx(&liege);
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    app.identify_need(&liege, &c, id, recipient, NeedCode::parse(need).unwrap())
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
    app.need_case_command(&liege, &c, id, suggest)
        .await
        .unwrap();
    let referral = ReferralId::from_uuid(Uuid::now_v7());
    let request = NeedCaseAction::RequestReferral {
        referral,
        service,
        consent,
    };
    app.need_case_command(&liege, &c, id, request)
        .await
        .unwrap();
    (id, referral)
}

/// Brings the read model up to the log's head (the runner's job in a server).
async fn caught_up(app: &App) {
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
}

fn code(r: &Result<impl std::fmt::Debug, AppError>) -> Option<&'static str> {
    r.as_ref().err().and_then(AppError::code)
}

#[tokio::test]
async fn contact_details_reach_the_provider_only_with_consent_while_open_and_until_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (org, service, recipient) = setup(&app).await;
    let (with, a) = referred_with(
        &app,
        recipient,
        "psy.anxiety",
        service,
        ShareConsent::ReferralAndContact,
    )
    .await;
    let (without, b) = referred_with(
        &app,
        recipient,
        "psy.depression",
        service,
        ShareConsent::ReferralOnly,
    )
    .await;
    caught_up(&app).await;
    let provider = provider_of(org);
    let contact = app.referral_contact(&provider, with, a).await.unwrap();
    assert_eq!(
        contact,
        Some(ReferralContact {
            name: Some("Anna Peeters".into()),
            phone: Some("+32 4 222 33 44".into()),
            email: Some("anna@example.be".into()),
        })
    );
    assert!(!format!("{contact:?}").contains("Anna"));
    assert_eq!(
        app.referral_contact(&provider, without, b).await.unwrap(),
        None
    );
    // Another organisation's provider and a coordinator never get them.
    let stranger = provider_of(OrganisationId::from_uuid(Uuid::now_v7()));
    let r = app.referral_contact(&stranger, with, a).await;
    assert!(
        matches!(r, Err(AppError::Forbidden(Denied::Organisation))),
        "{r:?}"
    );
    let r = app
        .referral_contact(&stranger, NeedCaseId::from_uuid(Uuid::now_v7()), a)
        .await;
    assert!(
        matches!(r, Err(AppError::Forbidden(Denied::Organisation))),
        "{r:?}"
    );
    let liege = coordinator_of("be-liege");
    let r = app.referral_contact(&liege, with, a).await;
    assert!(
        matches!(r, Err(AppError::Forbidden(Denied::Role(_)))),
        "{r:?}"
    );

    // Withdrawing: the requester side only, of the need case's site; consent
    // that is not there cannot be withdrawn. Refusals write nothing.
    let before = head(&app).await;
    let withdraw = |referral| NeedCaseAction::WithdrawConsent { referral };
    let r = app
        .need_case_command(&provider, &ctx(&provider), with, withdraw(a))
        .await;
    assert!(
        matches!(r, Err(AppError::Forbidden(Denied::Role(_)))),
        "{r:?}"
    );
    let leuven = coordinator_of("be-leuven");
    let r = app
        .need_case_command(&leuven, &ctx(&leuven), with, withdraw(a))
        .await;
    assert!(matches!(r, Err(AppError::Forbidden(Denied::Site))), "{r:?}");
    let r = app
        .need_case_command(&liege, &ctx(&liege), without, withdraw(b))
        .await;
    assert_eq!(code(&r), Some("NO_CONSENT_TO_WITHDRAW"));
    let r = app
        .need_case_command(&liege, &ctx(&liege), with, withdraw(b))
        .await;
    assert_eq!(code(&r), Some("REFERRAL_NOT_FOUND"));
    assert_eq!(head(&app).await, before);

    let mut c = ctx(&liege);
    c.idempotency_key = Some(Uuid::now_v7());
    let done = app
        .need_case_command(&liege, &c, with, withdraw(a))
        .await
        .unwrap();
    let again = app
        .need_case_command(&liege, &c, with, withdraw(a))
        .await
        .unwrap();
    assert!(
        again.duplicate && again.position == done.position,
        "a retry writes nothing"
    );
    caught_up(&app).await;
    assert_eq!(
        app.referral_contact(&provider, with, a).await.unwrap(),
        None
    );

    // Closed referrals and erased recipients show no contact details either.
    let (other, d) = referred_with(
        &app,
        recipient,
        "psy.anger",
        service,
        ShareConsent::ReferralAndContact,
    )
    .await;
    caught_up(&app).await;
    assert!(
        app.referral_contact(&provider, other, d)
            .await
            .unwrap()
            .is_some()
    );
    let reject = NeedCaseAction::RejectReferral {
        referral: d,
        reason: careledger_domain::need_case::RejectionReason::NoCapacity,
    };
    app.need_case_command(&provider, &ctx(&provider), other, reject)
        .await
        .unwrap();
    caught_up(&app).await;
    assert_eq!(
        app.referral_contact(&provider, other, d).await.unwrap(),
        None
    );

    let (last, e) = referred_with(
        &app,
        recipient,
        "psy.fear-of-recurrence",
        service,
        ShareConsent::ReferralAndContact,
    )
    .await;
    app.erase_care_recipient(&admin(), &ctx(&admin()), recipient)
        .await
        .unwrap();
    caught_up(&app).await;
    assert_eq!(
        app.referral_contact(&provider, last, e).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn notes_are_sealed_shared_by_both_sides_and_unreadable_once_the_recipient_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let (org, service, recipient) = setup(&app).await;
    let (id, referral) = referred_with(
        &app,
        recipient,
        "psy.anxiety",
        service,
        ShareConsent::ReferralOnly,
    )
    .await;
    let (liege, provider) = (coordinator_of("be-liege"), provider_of(org));
    let text = |t: &str| NoteText::new(t).unwrap();
    let note = || NoteId::from_uuid(Uuid::now_v7());

    // Refused: other sites, other organisations, other roles, unknown
    // referrals, dates in the future — nothing written.
    let before = head(&app).await;
    let stranger = provider_of(OrganisationId::from_uuid(Uuid::now_v7()));
    let leuven = coordinator_of("be-leuven");
    let qm = Access::new(
        Actor {
            subject: "q".into(),
            role: Role::QualityManager,
        },
        SiteScope::Only(vec![SiteId::parse("be-liege").unwrap()]),
    );
    for (who, nc, r, want) in [
        (&stranger, id, referral, "organisation"),
        (
            &stranger,
            id,
            ReferralId::from_uuid(Uuid::now_v7()),
            "organisation",
        ),
        (
            &stranger,
            NeedCaseId::from_uuid(Uuid::now_v7()),
            referral,
            "organisation",
        ),
        (
            &provider,
            id,
            ReferralId::from_uuid(Uuid::now_v7()),
            "organisation",
        ),
        (&leuven, id, referral, "site"),
        (&qm, id, referral, "role"),
    ] {
        let r = app
            .add_referral_note(who, &ctx(who), nc, r, note(), text(MARKER))
            .await;
        let ok = matches!(
            (&r, want),
            (
                Err(AppError::Forbidden(Denied::Organisation)),
                "organisation"
            ) | (Err(AppError::Forbidden(Denied::Site)), "site")
                | (Err(AppError::Forbidden(Denied::Role(_))), "role")
        );
        assert!(ok, "{:?}: {r:?}", who.actor.role);
    }
    let r = app
        .add_referral_note(
            &liege,
            &ctx(&liege),
            id,
            ReferralId::from_uuid(Uuid::now_v7()),
            note(),
            text(MARKER),
        )
        .await;
    assert_eq!(code(&r), Some("REFERRAL_NOT_FOUND"));
    let mut future = ctx(&liege);
    future.occurred_at = Some(app.clock.now() + chrono::Duration::days(2));
    let r = app
        .add_referral_note(&liege, &future, id, referral, note(), text(MARKER))
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(head(&app).await, before);

    // Both sides write; a retry with the same key is the same note.
    let mut c = ctx(&liege);
    let key = Uuid::now_v7();
    c.idempotency_key = Some(key);
    let first = app
        .add_referral_note(
            &liege,
            &c,
            id,
            referral,
            NoteId::from_uuid(key),
            text(MARKER),
        )
        .await
        .unwrap();
    assert_eq!(first.note.side, Side::Requester);
    let retry = app
        .add_referral_note(
            &liege,
            &c,
            id,
            referral,
            NoteId::from_uuid(key),
            text(MARKER),
        )
        .await
        .unwrap();
    assert!(retry.duplicate && retry.position == first.position);
    let r = app
        .add_referral_note(
            &liege,
            &c,
            id,
            referral,
            NoteId::from_uuid(key),
            text("another text"),
        )
        .await;
    assert_eq!(code(&r), Some("IDEMPOTENCY_KEY_REUSED"));
    let answer = app
        .add_referral_note(
            &provider,
            &ctx(&provider),
            id,
            referral,
            note(),
            text("Seen; we call her."),
        )
        .await
        .unwrap();
    assert_eq!(answer.note.side, Side::Performer);

    // The log holds no note in clear.
    let log = app.store.read_all(Position::START, 1000).await.unwrap();
    for e in &log {
        let json = crate::audit::record_fields(&e.event).to_string() + &format!("{:?}", e.event);
        assert!(
            !json.contains("Marker-7f3c") && !json.contains("we call her"),
            "{json}"
        );
    }

    caught_up(&app).await;
    for reader in [&liege, &provider] {
        let notes = app.referral_notes(reader, id, referral).await.unwrap();
        let seen: Vec<_> = notes
            .iter()
            .map(|n| (n.side, n.text.as_ref().map(NoteText::as_str), n.erased))
            .collect();
        assert_eq!(
            seen,
            [
                (Side::Requester, Some(MARKER), false),
                (Side::Performer, Some("Seen; we call her."), false)
            ]
        );
    }
    for reader in [&stranger, &leuven, &qm] {
        assert!(app.referral_notes(reader, id, referral).await.is_err());
    }

    // Erased: no text, marked erased; no note can be written any more; and a
    // read model rebuilt from the log knows it too.
    app.erase_care_recipient(&admin(), &ctx(&admin()), recipient)
        .await
        .unwrap();
    caught_up(&app).await;
    let erased = |notes: Vec<super::sharing::NoteRead>| {
        notes.iter().all(|n| n.text.is_none() && n.erased) && notes.len() == 2
    };
    assert!(erased(
        app.referral_notes(&liege, id, referral).await.unwrap()
    ));
    let r = app
        .add_referral_note(
            &provider,
            &ctx(&provider),
            id,
            referral,
            note(),
            text("late"),
        )
        .await;
    assert_eq!(code(&r), Some("RECIPIENT_ERASED"));
    drop(app);
    let rebuilt = super::tests::app(dir.path());
    assert_eq!(rebuilt.projector.position(), Position::START);
    caught_up(&rebuilt).await;
    assert!(erased(
        rebuilt
            .referral_notes(&provider, id, referral)
            .await
            .unwrap()
    ));
}
