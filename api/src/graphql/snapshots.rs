//! Snapshots of key answers (expect-test): what a client sees for a refusal, a
//! bad input, a missing credential and a shared read. They pin the shapes the
//! API promises (DESIGN §5: `userErrors { field message code }`, top-level
//! `errors` with `extensions.code`), so a change to any of them shows up as a
//! reviewed diff (`UPDATE_EXPECT=1 cargo test -p careledger-api snapshots`).

use super::build_schema;
use async_graphql::Request;
use careledger_app::{Access, App, Ports, Settings, SiteScope};
use careledger_domain::store::{Actor, Role};
use careledger_domain::values::Lang;
use careledger_infra::clock::SystemClock;
use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
use careledger_projections::Casework;
use careledger_projections::runner::Projector;
use expect_test::{Expect, expect};
use std::sync::Arc;

/// An application over a fresh embedded store in `dir` (also the fast-path
/// validation tests' server).
pub(crate) fn app(dir: &std::path::Path) -> Arc<App> {
    let store = SqliteEventStore::open(
        dir.join("s.sqlite"),
        Arc::new(SystemClock),
        SqliteOptions::default(),
    )
    .unwrap();
    Arc::new(App::new(
        Ports {
            store: Arc::new(store),
            vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir).unwrap()),
            clock: Arc::new(SystemClock),
            catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
            projector: Projector::new(Casework::default()),
        },
        Settings::default(),
    ))
}

fn coordinator() -> Access {
    Access::new(
        Actor {
            subject: "snapshot".into(),
            role: Role::Coordinator,
        },
        SiteScope::Only(vec![
            careledger_domain::values::SiteId::parse("be-liege").unwrap(),
        ]),
    )
}

/// Runs `query` as `access` (none: unauthenticated) and compares the whole JSON
/// answer, pretty-printed, with `expected`.
async fn check(query: &str, access: Option<Access>, expected: Expect) {
    let dir = tempfile::tempdir().unwrap();
    let schema = build_schema(app(dir.path()), Default::default());
    let mut request = Request::new(query).data(Lang::Fr);
    if let Some(a) = access {
        request = request.data(a);
    }
    let response = schema.execute(request).await;
    let json = serde_json::to_value(&response).unwrap();
    expected.assert_eq(&serde_json::to_string_pretty(&json).unwrap());
}

#[tokio::test]
async fn a_request_without_a_credential_is_unauthenticated() {
    check(
        "{ needCases(first: 1) { edges { cursor } } }",
        None,
        expect![[r#"
            {
              "data": null,
              "errors": [
                {
                  "extensions": {
                    "code": "UNAUTHENTICATED"
                  },
                  "locations": [
                    {
                      "column": 3,
                      "line": 1
                    }
                  ],
                  "message": "this request carries no valid bearer token",
                  "path": [
                    "needCases"
                  ]
                }
              ]
            }"#]],
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_a_user_error_and_nothing_is_written() {
    check(
        r#"mutation { registerCareRecipient(input: {
            site: "be-liege", birthYear: 1970, sex: FEMALE, country: "BE",
            postalCode: "99999", language: "fr", idempotencyKey: "not-a-uuid" }) {
            careRecipient { id } position duplicate userErrors { field code message } } }"#,
        Some(coordinator()),
        expect![[r#"
            {
              "data": {
                "registerCareRecipient": {
                  "careRecipient": null,
                  "duplicate": false,
                  "position": null,
                  "userErrors": [
                    {
                      "code": "INVALID_IDEMPOTENCY_KEY",
                      "field": "idempotencyKey",
                      "message": "an idempotency key is a UUIDv7, e.g. 0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b"
                    }
                  ]
                }
              }
            }"#]],
    )
    .await;
}

#[tokio::test]
async fn another_sites_record_is_forbidden() {
    check(
        r#"mutation { registerCareRecipient(input: {
            site: "de-aachen", birthYear: 1970, sex: FEMALE, country: "DE",
            postalCode: "52062", language: "de" }) {
            careRecipient { id } userErrors { field code message } } }"#,
        Some(coordinator()),
        expect![[r#"
            {
              "data": null,
              "errors": [
                {
                  "extensions": {
                    "code": "FORBIDDEN"
                  },
                  "locations": [
                    {
                      "column": 12,
                      "line": 1
                    }
                  ],
                  "message": "this record belongs to a site your credentials do not cover",
                  "path": [
                    "registerCareRecipient"
                  ]
                }
              ]
            }"#]],
    )
    .await;
}

#[tokio::test]
async fn a_need_for_an_unknown_recipient_is_refused_by_the_use_case() {
    check(
        r#"mutation { identifyNeed(input: {
            recipientId: "0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b", needCode: "psy.anxiety" }) {
            needCase { id } position userErrors { field code message } } }"#,
        Some(coordinator()),
        expect![[r#"
            {
              "data": {
                "identifyNeed": {
                  "needCase": null,
                  "position": null,
                  "userErrors": [
                    {
                      "code": "RECIPIENT_NOT_FOUND",
                      "field": "recipientId",
                      "message": "care recipient 0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b is not registered"
                    }
                  ]
                }
              }
            }"#]],
    )
    .await;
}

#[tokio::test]
async fn the_catalogue_answers_in_the_requested_language() {
    check(
        r#"{ catalogue(domain: SOCIAL) { version needs { code domain label } } }"#,
        Some(coordinator()),
        expect![[r#"
            {
              "data": {
                "catalogue": {
                  "needs": [
                    {
                      "code": "soc.financial-hardship",
                      "domain": "SOCIAL",
                      "label": "Difficultés financières"
                    },
                    {
                      "code": "soc.treatment-costs",
                      "domain": "SOCIAL",
                      "label": "Coûts des soins"
                    },
                    {
                      "code": "soc.health-insurance",
                      "domain": "SOCIAL",
                      "label": "Assurance maladie et remboursements"
                    },
                    {
                      "code": "soc.income-support",
                      "domain": "SOCIAL",
                      "label": "Aide au revenu"
                    },
                    {
                      "code": "soc.debt",
                      "domain": "SOCIAL",
                      "label": "Dettes"
                    },
                    {
                      "code": "soc.housing",
                      "domain": "SOCIAL",
                      "label": "Logement"
                    },
                    {
                      "code": "soc.home-adaptation",
                      "domain": "SOCIAL",
                      "label": "Adaptation du logement"
                    },
                    {
                      "code": "soc.home-nursing",
                      "domain": "SOCIAL",
                      "label": "Soins infirmiers à domicile"
                    },
                    {
                      "code": "soc.personal-care",
                      "domain": "SOCIAL",
                      "label": "Soins personnels"
                    },
                    {
                      "code": "soc.household",
                      "domain": "SOCIAL",
                      "label": "Tâches ménagères"
                    },
                    {
                      "code": "soc.meals",
                      "domain": "SOCIAL",
                      "label": "Repas et sécurité alimentaire"
                    },
                    {
                      "code": "soc.transport",
                      "domain": "SOCIAL",
                      "label": "Transport vers les soins"
                    },
                    {
                      "code": "soc.childcare",
                      "domain": "SOCIAL",
                      "label": "Garde d'enfants"
                    },
                    {
                      "code": "soc.dependants",
                      "domain": "SOCIAL",
                      "label": "Prise en charge de personnes dépendantes"
                    },
                    {
                      "code": "soc.paperwork",
                      "domain": "SOCIAL",
                      "label": "Démarches administratives"
                    },
                    {
                      "code": "soc.legal-advice",
                      "domain": "SOCIAL",
                      "label": "Conseil juridique"
                    },
                    {
                      "code": "soc.residence-status",
                      "domain": "SOCIAL",
                      "label": "Titre de séjour et accès aux soins"
                    },
                    {
                      "code": "soc.interpreter",
                      "domain": "SOCIAL",
                      "label": "Langue et interprétariat"
                    },
                    {
                      "code": "soc.health-literacy",
                      "domain": "SOCIAL",
                      "label": "Compréhension des informations de santé"
                    },
                    {
                      "code": "soc.digital-access",
                      "domain": "SOCIAL",
                      "label": "Accès numérique"
                    },
                    {
                      "code": "soc.social-contacts",
                      "domain": "SOCIAL",
                      "label": "Contacts sociaux"
                    },
                    {
                      "code": "soc.respite-care",
                      "domain": "SOCIAL",
                      "label": "Répit pour les aidants"
                    },
                    {
                      "code": "soc.palliative-home",
                      "domain": "SOCIAL",
                      "label": "Soins palliatifs à domicile"
                    },
                    {
                      "code": "soc.residential-care",
                      "domain": "SOCIAL",
                      "label": "Hébergement en institution"
                    },
                    {
                      "code": "soc.aids-equipment",
                      "domain": "SOCIAL",
                      "label": "Aides et matériel"
                    },
                    {
                      "code": "soc.utilities",
                      "domain": "SOCIAL",
                      "label": "Factures d'énergie"
                    },
                    {
                      "code": "soc.safety-at-home",
                      "domain": "SOCIAL",
                      "label": "Sécurité au domicile"
                    },
                    {
                      "code": "soc.pets",
                      "domain": "SOCIAL",
                      "label": "Garde d'animaux"
                    },
                    {
                      "code": "soc.leisure",
                      "domain": "SOCIAL",
                      "label": "Loisirs et vacances"
                    },
                    {
                      "code": "soc.mobility-allowance",
                      "domain": "SOCIAL",
                      "label": "Cartes de stationnement et aides à la mobilité"
                    },
                    {
                      "code": "soc.home-help",
                      "domain": "SOCIAL",
                      "label": "Aide familiale"
                    }
                  ],
                  "version": "2026.1"
                }
              }
            }"#]],
    )
    .await;
}
