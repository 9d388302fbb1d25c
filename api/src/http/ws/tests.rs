//! The shared path answers byte for byte what the executor answers: the same
//! documents, followed from the same position over the same changes, give the
//! same `next` messages; a document outside the shared path is executed and
//! gives the same data.

use super::shared::SharedOps;
use crate::graphql::live::shared::recognise_request;
use async_graphql::futures_util::{StreamExt, stream};
use async_graphql::http::{
    ClientMessage, WebSocket as GraphQLSocket, WebSocketProtocols as Protocols, WsMessage,
};
use careledger_app::policy::{Access, SiteScope};
use careledger_app::{App, CommandContext, Ports, Settings};
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{NeedCaseAction, SuggestedService};
use careledger_domain::recipient::{RecipientKind, RegisterCareRecipient};
use careledger_domain::store::{Actor, EventStore, Role};
use careledger_domain::values::*;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

struct World {
    app: Arc<App>,
    schema: crate::graphql::CareLedgerSchema,
    service: ServiceId,
    org: OrganisationId,
    projector: Arc<Projector>,
    _dir: tempfile::TempDir,
}

fn access(role: Role, sites: SiteScope, organisations: Vec<OrganisationId>) -> Access {
    Access {
        actor: Actor {
            subject: format!("{}-1", role.name()),
            role,
        },
        sites,
        organisations,
    }
}

fn coordinator() -> Access {
    let liege = SiteId::parse("be-liege").unwrap();
    access(Role::Coordinator, SiteScope::Only(vec![liege]), vec![])
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
    let projector = Projector::with_ring(Casework::default(), 1_024);
    tokio::spawn(careledger_projections::runner::run(
        projector.clone(),
        store.clone(),
    ));
    let catalogue = careledger_infra::catalogue::default_catalogue().unwrap();
    let app = Arc::new(App::new(
        Ports {
            store,
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir.path()).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: projector.clone(),
        },
        Settings::default(),
    ));
    let admin = access(Role::Admin, SiteScope::All, vec![]);
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
    let schema =
        crate::graphql::build_schema(app.clone(), crate::graphql::casework::types::LinkBase(None));
    World {
        app,
        schema,
        service,
        org,
        projector,
        _dir: dir,
    }
}

impl World {
    /// Identify, suggest, request and accept at Liège (four changes, three of a
    /// referral), and one change at Köln.
    async fn changes(&self) {
        let c = coordinator();
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
        let referral = ReferralId::from_uuid(Uuid::now_v7());
        for action in [
            NeedCaseAction::SuggestServices {
                services: vec![SuggestedService {
                    service: self.service,
                    reasons: vec![],
                    score: None,
                }],
                ranked: None,
            },
            NeedCaseAction::RequestReferral {
                referral,
                service: self.service,
                consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
            },
        ] {
            self.app
                .need_case_command(&c, &ctx(&c), id, action)
                .await
                .unwrap();
        }
        self.app
            .need_case_command(
                &c,
                &ctx(&c),
                id,
                NeedCaseAction::AcceptReferral { referral },
            )
            .await
            .unwrap();
        let koeln = access(
            Role::Coordinator,
            SiteScope::Only(vec![SiteId::parse("de-koeln").unwrap()]),
            vec![],
        );
        let other = RecipientId::from_uuid(Uuid::now_v7());
        let reg = RegisterCareRecipient {
            recipient: other,
            site: SiteId::parse("de-koeln").unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1950).unwrap(),
            sex: Sex::Male,
            postal_code: PostalCode::parse(Country::DE, "50667").unwrap(),
            language: LanguageTag::parse("de").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::Unknown,
            deprivation_decile: None,
            cancer_site_group: CancerSiteGroup::Breast,
            personal: None,
        };
        self.app
            .register_care_recipient(&koeln, &ctx(&koeln), reg, None)
            .await
            .unwrap();
        let need = NeedCode::parse("psy.anxiety").unwrap();
        self.app
            .identify_need(
                &koeln,
                &ctx(&koeln),
                NeedCaseId::from_uuid(Uuid::now_v7()),
                other,
                need,
            )
            .await
            .unwrap();
    }
}

fn request(query: &str, operation: Option<&str>, variables: Value) -> async_graphql::Request {
    let mut r = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables));
    r.operation_name = operation.map(str::to_string);
    r
}

/// The executor's first `n` messages for subscription `id` of `r`.
fn executed(
    w: &World,
    who: &Access,
    id: &str,
    r: async_graphql::Request,
    n: usize,
) -> tokio::task::JoinHandle<Vec<String>> {
    let input = stream::iter(vec![
        Ok(ClientMessage::ConnectionInit { payload: None }),
        Ok(ClientMessage::Start {
            id: id.to_string(),
            payload: r,
        }),
    ])
    .chain(stream::pending());
    let mut data = async_graphql::Data::default();
    data.insert(who.clone());
    let mut socket =
        GraphQLSocket::from_message_stream(w.schema.clone(), input, Protocols::GraphQLWS)
            .connection_data(data);
    tokio::spawn(async move {
        let mut out = Vec::new();
        while out.len() < n {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                Ok(Some(WsMessage::Text(t))) if !t.contains("connection_ack") => out.push(t),
                Ok(Some(WsMessage::Text(_))) => {}
                other => panic!("the executor gave {other:?}"),
            }
        }
        out
    })
}

/// The shared path's first `n` messages for subscription `id` of `r`.
fn shared(
    w: &World,
    who: &Access,
    id: &str,
    mut r: async_graphql::Request,
    n: usize,
) -> tokio::task::JoinHandle<Vec<String>> {
    let plan =
        recognise_request(&mut r).unwrap_or_else(|| panic!("on the shared path: {}", r.query));
    let follower = w.app.follow(who, plan.topic, plan.after).unwrap();
    let mut ops = SharedOps::default();
    ops.start(id.to_string(), plan.shape, follower);
    tokio::spawn(async move {
        let mut out = Vec::new();
        while out.len() < n {
            let next = std::future::poll_fn(|cx| ops.poll_next(cx));
            match tokio::time::timeout(Duration::from_secs(10), next).await {
                Ok(super::shared::Out::Text(t)) => out.push(t),
                _ => panic!("the shared path gave nothing or ended"),
            }
        }
        out
    })
}

/// The documents of the shared path, with the subscriber, and how many messages
/// the changes give each.
fn documents(
    w: &World,
    after: &str,
) -> Vec<(&'static str, Option<&'static str>, Value, Access, usize)> {
    let provider = access(Role::Provider, SiteScope::Only(vec![]), vec![w.org]);
    vec![
        (
            "subscription($site: String, $after: Position) { referralUpdated(site: $site, after: $after) { position status } }",
            None,
            json!({ "site": "be-liege", "after": after }),
            coordinator(),
            2,
        ),
        (
            "subscription S($after: Position!) { r: referralUpdated(site: \"be-liege\", after: $after) { t: __typename occurredAt s: status event serviceId referralId needCaseId p: position } }",
            Some("S"),
            json!({ "after": after }),
            coordinator(),
            2,
        ),
        (
            "subscription($o: ID, $after: Position) { referralUpdated(organisation: $o, after: $after) { referralId status position } }",
            None,
            json!({ "o": w.org.to_string(), "after": after }),
            provider,
            2,
        ),
        (
            "subscription { worklistChanged(site: \"be-liege\", after: \"AFTER\") { referralStatus referralId position needCaseId event occurredAt __typename } }",
            None,
            json!({}),
            coordinator(),
            4,
        ),
    ]
}

/// Each document of the shared path gives, over the same changes, the same
/// messages as the executor, byte for byte: aliases, the selection's order,
/// nulls, `__typename`; a change another site made reaches neither. The same
/// document with a directive is left to the executor, and still answers the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_path_answers_byte_for_byte_what_the_executor_answers() {
    let w = world().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = w.projector.position().raw().to_string();
    let mut runs = Vec::new();
    for (query, operation, vars, who, n) in documents(&w, &after) {
        let query = query.replace("AFTER", &after);
        // A directive (however harmless) keeps a document on the executor.
        let directed = query.replacen("position", "position @include(if: true)", 1);
        let kept = recognise_request(&mut request(&directed, operation, vars.clone()));
        assert!(kept.is_none(), "{directed}");
        runs.push((
            query.clone(),
            shared(&w, &who, "1", request(&query, operation, vars.clone()), n),
            executed(&w, &who, "1", request(&query, operation, vars.clone()), n),
            executed(&w, &who, "1", request(&directed, operation, vars), n),
        ));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.changes().await;
    for (query, shared, executed, directed) in runs {
        let shared = shared.await.unwrap();
        assert_eq!(shared, executed.await.unwrap(), "{query}");
        assert_eq!(shared, directed.await.unwrap(), "{query}");
        for m in &shared {
            let v: Value = serde_json::from_str(m).unwrap();
            assert_eq!(v["type"], json!("next"), "{m}");
        }
    }
}
