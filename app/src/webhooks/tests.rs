//! The outbox's policy: what is sent (the filter; only referral status moves),
//! in which order (log order; a failing notification holds back the next and is
//! retried with capped exponential backoff), that a restart resumes after the
//! checkpoint, what a notification looks like, and who may manage subscriptions.

use super::manage::NewSubscription;
use super::notification::{self, IDEMPOTENCY_HEADER, Notice, SIGNATURE_HEADER};
use super::outbox::{Backoff, Outbox, OutboxSettings, checkpoint_name};
use super::port::{DeliveryFailure, Outgoing, WebhookSender};
use crate::policy::SiteScope;
use crate::{Access, App, AppError, CommandContext, Ports, Settings};
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::future::BoxFuture;
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{
    NeedCaseAction, Outcome, ReferralStatus, ShareConsent, SuggestedService,
};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{Actor, EventStore, Position, Role, SnapshotStore};
use careledger_domain::values::*;
use careledger_domain::webhook::{WebhookFilter, WebhookSecret};
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";

/// Records what it is sent; refuses the first `fail` attempts with a 503.
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Outgoing>>,
    fail: Mutex<u32>,
}

impl WebhookSender for Receiver {
    fn schemes(&self) -> &'static [&'static str] {
        &["http"]
    }
    fn post<'a>(&'a self, out: &'a Outgoing) -> BoxFuture<'a, Result<(), DeliveryFailure>> {
        Box::pin(async move {
            self.got.lock().unwrap().push(out.clone());
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(DeliveryFailure::Status(503));
            }
            Ok(())
        })
    }
}

impl Receiver {
    fn header(out: &Outgoing, name: &str) -> String {
        out.headers
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .clone()
    }
    /// (idempotency id, event number, Task URL) of each request, in order.
    fn seen(&self) -> Vec<(String, String, String)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|o| {
                let b: Value = serde_json::from_slice(&o.body).unwrap();
                let params = &b["entry"][0]["resource"]["parameter"];
                (
                    Self::header(o, IDEMPOTENCY_HEADER),
                    params[4]["valueString"].as_str().unwrap().to_string(),
                    b["entry"][1]["fullUrl"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
    async fn wait_for(&self, n: usize) -> Vec<(String, String, String)> {
        for _ in 0..500 {
            if self.got.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen = self.seen();
        assert_eq!(seen.len(), n, "requests received: {seen:?}");
        seen
    }
}

#[derive(Default)]
struct Snapshots(Mutex<HashMap<String, Vec<u8>>>);

impl SnapshotStore for Snapshots {
    fn load(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().unwrap().get(name).cloned())
    }
    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.0.lock().unwrap().insert(name.into(), bytes.to_vec());
        Ok(())
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.0.lock().unwrap().remove(name);
        Ok(())
    }
}

struct World {
    app: Arc<App>,
    _dir: tempfile::TempDir,
    admin: Access,
    org: OrganisationId,
    service: ServiceId,
    _runner: tokio::task::JoinHandle<()>,
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

fn access(role: Role, sites: SiteScope) -> Access {
    Access::new(
        Actor {
            subject: format!("{}-1", role.name()),
            role,
        },
        sites,
    )
}

fn site(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(
        SqliteEventStore::open(
            dir.path().join("s.sqlite"),
            Arc::new(SystemClock),
            SqliteOptions::default(),
        )
        .unwrap(),
    );
    let projector = Projector::new(Casework::default());
    let runner = tokio::spawn(careledger_projections::runner::run(
        projector.clone(),
        store.clone(),
    ));
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let app = Arc::new(App::new(
        Ports {
            store,
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir.path()).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(catalogue.clone()),
            projector,
        },
        Settings::default(),
    ));
    let admin = access(Role::Admin, SiteScope::All);
    let org = OrganisationId::from_uuid(Uuid::now_v7());
    let service = ServiceId::from_uuid(Uuid::now_v7());
    let mut profile = careledger_infra::hsds::read_example(&catalogue).unwrap()[0]
        .profile
        .clone();
    profile.organisation_id = Some(org);
    let register = DirectoryAction::Register {
        service,
        profile,
        capacity: Capacity::HasCapacity,
    };
    app.change_directory(&admin, &ctx(&admin), service, register)
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
    async fn subscribe(&self, filter: WebhookFilter) -> Uuid {
        let new = NewSubscription {
            name: "Regional portal".into(),
            endpoint: "http://127.0.0.1:9/hook".into(),
            filter,
            secret: WebhookSecret::new(SECRET.into()).unwrap(),
        };
        let (id, x) = self
            .app
            .create_webhook_subscription(&self.admin, &ctx(&self.admin), new)
            .await
            .unwrap();
        self.app
            .projector
            .wait_for(x.position, Duration::from_secs(5))
            .await
            .unwrap();
        id
    }

    fn coordinator(&self, s: &str) -> Access {
        access(Role::Coordinator, SiteScope::Only(vec![site(s)]))
    }

    /// Identify, suggest, request at site `s`: one referral move.
    async fn refer(&self, s: &str) -> (NeedCaseId, ReferralId) {
        self.refer_with(s, ShareConsent::ReferralOnly).await
    }

    async fn refer_with(&self, s: &str, consent: ShareConsent) -> (NeedCaseId, ReferralId) {
        let c = self.coordinator(s);
        let reg = RegisterCareRecipient {
            recipient: RecipientId::from_uuid(Uuid::now_v7()),
            site: site(s),
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
        let recipient = reg.recipient;
        self.app
            .register_care_recipient(&c, &ctx(&c), reg, None)
            .await
            .unwrap();
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
        self.act(s, id, suggest).await;
        let referral = ReferralId::from_uuid(Uuid::now_v7());
        let request = NeedCaseAction::RequestReferral {
            referral,
            service: self.service,
            consent,
        };
        self.act(s, id, request).await;
        (id, referral)
    }

    async fn act(&self, s: &str, id: NeedCaseId, action: NeedCaseAction) {
        let c = self.coordinator(s);
        self.app
            .need_case_command(&c, &ctx(&c), id, action)
            .await
            .unwrap();
    }

    fn outbox(&self, sender: Arc<Receiver>, snapshots: Arc<Snapshots>) -> Outbox {
        Arc::into_inner(Outbox::new(
            self.app.clone(),
            sender,
            snapshots,
            OutboxSettings {
                fhir_base: "http://careledger.test/fhir".into(),
                backoff: Backoff {
                    first: Duration::from_millis(5),
                    max: Duration::from_millis(20),
                },
            },
        ))
        .unwrap()
    }
}

/// Runs `outbox` as leader until the handle is aborted.
fn start(outbox: Outbox) -> (tokio::task::JoinHandle<()>, watch::Sender<bool>) {
    let (lead, leading) = watch::channel(true);
    (tokio::spawn(Arc::new(outbox).run(leading)), lead)
}

fn task_url(n: NeedCaseId, r: ReferralId) -> String {
    format!(
        "http://careledger.test/fhir/Task/{}",
        crate::fhir::referral_resource_id(n, r)
    )
}

#[test]
fn the_retry_delay_doubles_from_the_first_and_is_capped() {
    let b = Backoff {
        first: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };
    let delays: Vec<u64> = (1..=9).map(|f| b.delay(f).as_millis() as u64).collect();
    assert_eq!(
        delays,
        [
            500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
        ]
    );
    assert_eq!(b.delay(u32::MAX), Duration::from_secs(30), "no overflow");
}

#[test]
fn a_notification_is_an_id_only_history_bundle_signed_over_its_body() {
    let sub = Uuid::from_u128(7);
    let (n, r) = (
        NeedCaseId::from_uuid(Uuid::from_u128(1)),
        ReferralId::from_uuid(Uuid::from_u128(2)),
    );
    let notice = Notice {
        position: Position::new(42),
        event_number: 3,
        recorded_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        occurred_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        need_case: n,
        referral: r,
        status: ReferralStatus::Accepted,
    };
    let out = notification::outgoing("http://h/fhir", sub, "http://r/hook", SECRET, &notice);
    let again = notification::outgoing("http://h/fhir", sub, "http://r/hook", SECRET, &notice);
    assert_eq!(out, again, "a repeat sends the same bytes and headers");
    let b: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "history");
    let status = &b["entry"][0]["resource"];
    assert_eq!(status["resourceType"], "Parameters");
    let p = |name: &str| {
        status["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        p("subscription")["valueReference"]["reference"],
        format!("Subscription/{sub}")
    );
    assert_eq!(p("topic")["valueCanonical"], notification::TOPIC);
    assert_eq!(p("events-since-subscription-start")["valueString"], "3");
    let event = p("notification-event");
    assert_eq!(event["part"][0]["valueString"], "3");
    let task = format!(
        "http://h/fhir/Task/{}",
        crate::fhir::referral_resource_id(n, r)
    );
    assert_eq!(event["part"][2]["valueReference"]["reference"], task);
    let entry = &b["entry"][1];
    assert_eq!(entry["fullUrl"], task);
    assert!(entry.get("resource").is_none(), "id-only: no resource");
    assert_eq!(entry["request"]["method"], "PUT");
    // The signature is HMAC-SHA256 over the exact body under the secret.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&out.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        Receiver::header(&out, SIGNATURE_HEADER),
        format!("sha256={hex}")
    );
    assert_eq!(
        Receiver::header(&out, IDEMPOTENCY_HEADER),
        format!("{}.42", sub.simple())
    );
    let text = String::from_utf8(out.body.clone()).unwrap();
    assert!(!text.contains(SECRET), "the body never carries the secret");
}

/// A subscription filtered by site and status gets, in log order and once
/// each, exactly the referral moves that pass; another site's, other statuses
/// and changes made before it existed are not sent.
#[tokio::test]
async fn notifications_follow_the_filter_in_log_order_once_each() {
    let w = world().await;
    let (early, early_r) = w.refer("be-liege").await;
    let sub = w
        .subscribe(WebhookFilter {
            owners: vec![w.org],
            requester_sites: vec![site("be-liege")],
            statuses: vec![
                ReferralStatus::Requested,
                ReferralStatus::InProgress,
                ReferralStatus::Completed,
            ],
        })
        .await;
    let receiver = Arc::new(Receiver::default());
    let (task, _lead) = start(w.outbox(receiver.clone(), Arc::new(Snapshots::default())));
    let (n, r) = w.refer("be-liege").await;
    w.refer("be-leuven").await;
    w.act(
        "be-liege",
        early,
        NeedCaseAction::AcceptReferral { referral: early_r },
    )
    .await;
    w.act(
        "be-liege",
        n,
        NeedCaseAction::AcceptReferral { referral: r },
    )
    .await;
    w.act("be-liege", n, NeedCaseAction::StartReferral { referral: r })
        .await;
    w.act(
        "be-liege",
        n,
        NeedCaseAction::CompleteReferral {
            referral: r,
            outcome: Outcome::NeedMet,
        },
    )
    .await;
    let seen = receiver.wait_for(3).await;
    let numbers: Vec<&str> = seen.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    assert!(seen.iter().all(|s| s.2 == task_url(n, r)), "{seen:?}");
    let positions: Vec<u64> = seen
        .iter()
        .map(|s| s.0.split_once('.').unwrap().1.parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|p| p[0] < p[1]), "log order");
    assert!(
        seen.iter()
            .all(|s| s.0.starts_with(&sub.simple().to_string()))
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.seen().len(), 3, "nothing else is sent");
    let stats = w.app.telemetry.webhooks.snapshot();
    assert_eq!(stats[0].1.delivered, 3);
    assert_eq!(stats[0].1.waiting_since, None);
    task.abort();
}

/// A receiver that fails gets the same notification again, after growing
/// delays, and the next one only once it took the first; failures are counted;
/// a change that moves no referral is not notified.
#[tokio::test]
async fn a_failing_notification_is_retried_and_holds_back_the_next() {
    let w = world().await;
    w.subscribe(WebhookFilter::default()).await;
    let receiver = Arc::new(Receiver {
        fail: Mutex::new(3),
        ..Default::default()
    });
    let (n1, r1) = w
        .refer_with("be-liege", ShareConsent::ReferralAndContact)
        .await;
    // A consent withdrawal moves no referral: it notifies nothing.
    w.act(
        "be-liege",
        n1,
        NeedCaseAction::WithdrawConsent { referral: r1 },
    )
    .await;
    let (n2, r2) = w.refer("be-liege").await;
    let (task, _lead) = start(w.outbox(receiver.clone(), Arc::new(Snapshots::default())));
    let seen = receiver.wait_for(5).await;
    let urls: Vec<&str> = seen.iter().map(|s| s.2.as_str()).collect();
    let (a, b) = (task_url(n1, r1), task_url(n2, r2));
    assert_eq!(urls, [&a, &a, &a, &a, &b]);
    assert!(
        seen[..4].windows(2).all(|s| s[0] == s[1]),
        "every retry carries the same idempotency id and number"
    );
    // The outbox counts a delivery once the receiver's answer is back, which
    // can be a moment after the receiver saw the request.
    let mut stats = w.app.telemetry.webhooks.snapshot();
    for _ in 0..200 {
        if stats[0].1.delivered == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        stats = w.app.telemetry.webhooks.snapshot();
    }
    assert_eq!((stats[0].1.failed, stats[0].1.delivered), (3, 2));
    assert_eq!(stats[0].1.consecutive_failures, 0);
    task.abort();
}

/// Stopped and started again over the same checkpoints, the outbox sends what
/// followed its checkpoint only, numbering on; a deleted subscription gets
/// nothing more and its checkpoint goes.
#[tokio::test]
async fn a_restarted_outbox_resumes_after_its_checkpoint() {
    let w = world().await;
    let sub = w.subscribe(WebhookFilter::default()).await;
    let snapshots = Arc::new(Snapshots::default());
    let first = Arc::new(Receiver::default());
    let (task, lead) = start(w.outbox(first.clone(), snapshots.clone()));
    w.refer("be-liege").await;
    w.refer("be-liege").await;
    first.wait_for(2).await;
    task.abort();
    drop(lead);
    let (n, r) = w.refer("be-liege").await;
    let second = Arc::new(Receiver::default());
    let (task, _lead) = start(w.outbox(second.clone(), snapshots.clone()));
    let seen = second.wait_for(1).await;
    assert_eq!(
        (seen[0].1.as_str(), seen[0].2.clone()),
        ("3", task_url(n, r))
    );
    let stored: Value =
        serde_json::from_slice(&snapshots.load(&checkpoint_name(sub)).unwrap().unwrap()).unwrap();
    assert_eq!(stored["events"], 3);
    w.app
        .delete_webhook_subscription(&w.admin, &ctx(&w.admin), sub)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    w.refer("be-liege").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        second.seen().len(),
        1,
        "a deleted subscription gets nothing"
    );
    assert_eq!(snapshots.load(&checkpoint_name(sub)).unwrap(), None);
    task.abort();
}

/// Only administrators manage subscriptions; a refused creation writes nothing
/// (not even a key in the vault: a retry with good input then works).
#[tokio::test]
async fn only_administrators_manage_subscriptions_and_refusals_write_nothing() {
    let w = world().await;
    let head = w.app.store.head().await.unwrap();
    let new = |endpoint: &str| NewSubscription {
        name: "portal".into(),
        endpoint: endpoint.into(),
        filter: WebhookFilter::default(),
        secret: WebhookSecret::new(SECRET.into()).unwrap(),
    };
    for role in [
        Role::Coordinator,
        Role::QualityManager,
        Role::ExternalApp,
        Role::Provider,
    ] {
        let a = access(role, SiteScope::All);
        let r = w
            .app
            .create_webhook_subscription(&a, &ctx(&a), new("http://127.0.0.1:9/"))
            .await;
        assert!(matches!(r, Err(AppError::Forbidden(_))), "{role:?}");
        assert!(matches!(
            w.app.webhook_subscriptions(&a),
            Err(AppError::Forbidden(_))
        ));
        let d = w
            .app
            .delete_webhook_subscription(&a, &ctx(&a), Uuid::now_v7())
            .await;
        assert!(matches!(d, Err(AppError::Forbidden(_))), "{role:?}");
    }
    let code = |r: Result<_, AppError>| match r {
        Err(AppError::Rejected { code, .. }) => code,
        other => panic!("{:?}", other.map(|_: (Uuid, crate::Executed)| ())),
    };
    let key = Uuid::now_v7();
    let keyed = CommandContext {
        idempotency_key: Some(key),
        ..ctx(&w.admin)
    };
    for (endpoint, want) in [
        ("https://example.org/hook", "UNSUPPORTED_WEBHOOK_SCHEME"),
        ("ftp://example.org/", "INVALID_WEBHOOK_ENDPOINT"),
        ("http://user:pw@example.org/", "INVALID_WEBHOOK_ENDPOINT"),
    ] {
        let r = w
            .app
            .create_webhook_subscription(&w.admin, &keyed, new(endpoint))
            .await;
        assert_eq!(code(r), want, "{endpoint}");
    }
    assert_eq!(w.app.store.head().await.unwrap(), head, "nothing written");
    let (id, x) = w
        .app
        .create_webhook_subscription(&w.admin, &keyed, new("http://127.0.0.1:9/"))
        .await
        .unwrap();
    assert_eq!(id, key, "the idempotency key names the subscription");
    let (_, again) = w
        .app
        .create_webhook_subscription(&w.admin, &keyed, new("http://127.0.0.1:9/"))
        .await
        .unwrap();
    assert!(again.duplicate && again.position == x.position, "a retry");
    let d = w
        .app
        .delete_webhook_subscription(&w.admin, &ctx(&w.admin), Uuid::now_v7())
        .await;
    assert!(matches!(
        d,
        Err(AppError::Rejected {
            code: "WEBHOOK_SUBSCRIPTION_NOT_FOUND",
            ..
        })
    ));
}
