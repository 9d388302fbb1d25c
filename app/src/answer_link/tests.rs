//! Answer links: issued by the site's coordinators for an open referral; open
//! only with this server's signature, before expiry, while newest and while the
//! referral is open; the answers offered follow the referral's status; an answer
//! is the performer's, recorded as coming through the link.

use super::*;
use crate::policy::SiteScope;
use crate::{Ports, Settings};
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::ids::RecipientId;
use careledger_domain::need_case::{ShareConsent, SuggestedService};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{Clock, Position};
use careledger_domain::values::*;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A clock the test moves.
struct TestClock(AtomicI64);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0.load(Ordering::SeqCst), 0).unwrap()
    }
}

struct World {
    app: App,
    clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

fn coordinator(site: &str) -> Access {
    Access::new(
        Actor {
            subject: "c".into(),
            role: Role::Coordinator,
        },
        SiteScope::Only(vec![SiteId::parse(site).unwrap()]),
    )
}

fn ctx(a: &Access, key: Option<Uuid>) -> CommandContext {
    CommandContext {
        actor: a.actor.clone(),
        idempotency_key: key,
        expected_version: None,
        occurred_at: None,
        correlation_id: Uuid::now_v7(),
    }
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(Utc::now().timestamp())));
    let store = SqliteEventStore::open(
        dir.path().join("s.sqlite"),
        clock.clone(),
        SqliteOptions::default(),
    )
    .unwrap();
    let app = App::new(
        Ports {
            store: Arc::new(store),
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir.path()).unwrap()),
            clock: clock.clone(),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: Projector::new(Casework::default()),
        },
        Settings::default(),
    );
    World {
        app,
        clock,
        _dir: dir,
    }
}

/// A referral requested at Liège: the need case's id and the referral's.
async fn referred(w: &World) -> (NeedCaseId, ReferralId) {
    let admin = Access::new(
        Actor {
            subject: "a".into(),
            role: Role::Admin,
        },
        SiteScope::All,
    );
    let service = ServiceId::from_uuid(Uuid::now_v7());
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let profile = careledger_infra::hsds::read_example(&catalogue).unwrap()[0]
        .profile
        .clone();
    let register = DirectoryAction::Register {
        service,
        profile,
        capacity: Capacity::HasCapacity,
    };
    w.app
        .change_directory(&admin, &ctx(&admin, None), service, register)
        .await
        .unwrap();
    let c = coordinator("be-liege");
    let recipient = RecipientId::from_uuid(Uuid::now_v7());
    let reg = RegisterCareRecipient {
        recipient,
        site: SiteId::parse("be-liege").unwrap(),
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
    w.app
        .register_care_recipient(&c, &ctx(&c, None), reg, None)
        .await
        .unwrap();
    let id = NeedCaseId::from_uuid(Uuid::now_v7());
    let need = NeedCode::parse("psy.anxiety").unwrap();
    w.app
        .identify_need(&c, &ctx(&c, None), id, recipient, need)
        .await
        .unwrap();
    let steps = [
        NeedCaseAction::SuggestServices {
            services: vec![SuggestedService {
                service,
                reasons: vec![],
                score: None,
            }],
            ranked: None,
        },
        NeedCaseAction::RequestReferral {
            referral: ReferralId::from_uuid(Uuid::from_u128(77)),
            service,
            consent: ShareConsent::ReferralOnly,
        },
    ];
    for a in steps {
        w.app
            .need_case_command(&c, &ctx(&c, None), id, a)
            .await
            .unwrap();
    }
    (id, ReferralId::from_uuid(Uuid::from_u128(77)))
}

async fn head(w: &World) -> Position {
    w.app.store.head().await.unwrap()
}

#[tokio::test]
async fn a_link_opens_offers_the_allowed_answers_and_records_the_performers_answer() {
    let w = world();
    let (id, referral) = referred(&w).await;
    let c = coordinator("be-liege");
    let key = Uuid::now_v7();
    let link = w
        .app
        .issue_answer_link(&c, &ctx(&c, Some(key)), id, referral, 14, Lang::Nl)
        .await
        .unwrap();
    assert!(link.token.starts_with("al1."));
    assert_eq!(link.lang, Lang::Nl);
    // A retried issue gives the same link and writes nothing.
    let before = head(&w).await;
    let again = w
        .app
        .issue_answer_link(&c, &ctx(&c, Some(key)), id, referral, 14, Lang::Nl)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.token, link.token);
    assert_eq!(head(&w).await, before);

    let view = w.app.open_answer_link(&link.token).await.unwrap().unwrap();
    assert_eq!(view.status, ReferralStatus::Requested);
    assert_eq!(view.need.as_str(), "psy.anxiety");
    assert_eq!(view.answers, vec![AnswerKind::Accept, AnswerKind::Reject]);
    // An answer the status does not allow is refused and writes nothing.
    let before = head(&w).await;
    let e = w
        .app
        .answer_by_link(&link.token, LinkAnswer::Start, None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("TRANSITION_NOT_ALLOWED"), "{e:?}");
    assert_eq!(head(&w).await, before);

    let done = w
        .app
        .answer_by_link(&link.token, LinkAnswer::Accept, Some(Uuid::now_v7()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ReferralStatus::Accepted);
    let history = w.app.need_case_history(id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.event.event_type(), "ReferralAccepted");
    assert_eq!(last.metadata.actor.role, Role::Provider);
    assert_eq!(
        last.metadata.actor.subject,
        format!("answer-link:{}", AnswerLinkId::from_uuid(key))
    );
    let view = w.app.open_answer_link(&link.token).await.unwrap().unwrap();
    assert_eq!(
        view.answers,
        vec![AnswerKind::Waitlist, AnswerKind::Start, AnswerKind::Fail]
    );
    for a in [LinkAnswer::Start, LinkAnswer::Complete(Outcome::NeedMet)] {
        w.app
            .answer_by_link(&link.token, a, None)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        w.app
            .open_answer_link(&link.token)
            .await
            .unwrap()
            .unwrap_err(),
        LinkRefusal::Closed
    );
}

#[tokio::test]
async fn a_link_is_refused_when_forged_expired_or_replaced_and_issued_by_the_sites_coordinators_only()
 {
    let w = world();
    let (id, referral) = referred(&w).await;
    let c = coordinator("be-liege");
    let first = w
        .app
        .issue_answer_link(&c, &ctx(&c, None), id, referral, 2, Lang::Fr)
        .await
        .unwrap();
    let open = |t: String| {
        let app = &w.app;
        async move { app.open_answer_link(&t).await.unwrap() }
    };
    // Forged: a flipped character, another key's signature, garbage.
    let mut flipped = first.token.clone().into_bytes();
    let i = flipped.len() - 3;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let foreign = sign(
        &LinkKey::default(),
        &verify(&w.app.settings.answer_links, &first.token).unwrap(),
    );
    for bad in [flipped, foreign, "al1.x.y".into(), "".into()] {
        assert_eq!(open(bad).await.unwrap_err(), LinkRefusal::Invalid);
    }
    // Replaced by a newer link.
    let second = w
        .app
        .issue_answer_link(&c, &ctx(&c, None), id, referral, 2, Lang::Fr)
        .await
        .unwrap();
    assert_eq!(
        open(first.token.clone()).await.unwrap_err(),
        LinkRefusal::Replaced
    );
    let before = head(&w).await;
    assert_eq!(
        w.app
            .answer_by_link(&first.token, LinkAnswer::Accept, None)
            .await
            .unwrap()
            .unwrap_err(),
        LinkRefusal::Replaced
    );
    assert!(open(second.token.clone()).await.is_ok());
    // Expired: two days later.
    w.clock.0.fetch_add(2 * 86_400, Ordering::SeqCst);
    assert_eq!(
        open(second.token.clone()).await.unwrap_err(),
        LinkRefusal::Expired
    );
    assert_eq!(head(&w).await, before);

    // Issued by the coordinators of the need case's site only; bad validity refused.
    let provider = Access {
        actor: Actor {
            subject: "p".into(),
            role: Role::Provider,
        },
        sites: SiteScope::Only(vec![]),
        organisations: vec![careledger_domain::ids::OrganisationId::from_uuid(
            Uuid::now_v7(),
        )],
    };
    for (who, days, forbidden) in [
        (coordinator("be-leuven"), 14, true),
        (provider, 14, true),
        (c.clone(), 0, false),
        (c, 91, false),
    ] {
        let r = w
            .app
            .issue_answer_link(&who, &ctx(&who, None), id, referral, days, Lang::En)
            .await;
        if forbidden {
            assert!(matches!(r, Err(AppError::Forbidden(_))), "{r:?}");
        } else {
            assert_eq!(
                r.as_ref().err().and_then(AppError::code),
                Some("ANSWER_LINK_VALIDITY"),
                "{r:?}"
            );
        }
    }
    assert_eq!(head(&w).await, before);
}
