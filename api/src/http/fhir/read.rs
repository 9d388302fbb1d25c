//! The `/fhir` handlers: `metadata`, read, Task search, history and vread.

#![allow(clippy::result_large_err)] // see the parent module

use super::{KindId, St, admit, app_error, base_url, outcome, resource};
use crate::fhir::bundle::{Entry, history as history_bundle};
use crate::fhir::resources;
use crate::fhir::{directory, resources::task};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use careledger_app::fhir::{ReferralRecord, parse_referral_resource_id};
use careledger_app::policy::Denied;
use careledger_app::{Access, App, AppError};
use careledger_domain::ids::{NeedCaseId, OrganisationId, RecipientId, ServiceId};
use careledger_domain::values::Lang;
use serde_json::Value;

/// The resource types a read serves.
pub(super) const READABLE: [&str; 8] = [
    "Task",
    "ServiceRequest",
    "Consent",
    "Condition",
    "Patient",
    "Organization",
    "HealthcareService",
    "CodeSystem",
];

pub(super) fn unknown_type(kind: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-supported",
        &format!(
            "the resource type '{}' is not served here (served: {})",
            kind.chars().take(64).collect::<String>(),
            READABLE.join(", ")
        ),
    )
}

fn missing(kind: &str) -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("no {kind} with this id"),
    )
}

/// `GET /fhir/metadata`: the CapabilityStatement (no credential needed).
pub async fn metadata(State(s): St, headers: HeaderMap) -> Response {
    if let Err(r) = super::acceptable(&headers) {
        return r;
    }
    let base = base_url(&s, &headers);
    resource(
        StatusCode::OK,
        &directory::capability_statement(&base, env!("CARGO_PKG_VERSION"), s.app.clock.now()),
    )
}

/// A referral from the read models (which the handler has brought up to the
/// log's head as it was when the request came).
fn referral(app: &App, access: &Access, id: &str) -> Result<Option<ReferralRecord>, AppError> {
    let Some((n, r)) = parse_referral_resource_id(id) else {
        return Ok(None);
    };
    app.referral_record(access, n, r)
}

/// A read's answer, with `ETag` and `Last-Modified` from its `meta`.
fn found(body: Value) -> Response {
    let mut r = resource(StatusCode::OK, &body);
    if let Some(v) = body["meta"]["versionId"].as_str()
        && let Ok(h) = HeaderValue::from_str(&format!("W/\"{v}\""))
    {
        r.headers_mut().insert(header::ETAG, h);
    }
    if let Some(t) = body["meta"]["lastUpdated"].as_str()
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(t)
        && let Ok(h) =
            HeaderValue::from_str(&t.to_utc().format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        r.headers_mut().insert(header::LAST_MODIFIED, h);
    }
    r
}

/// The resource `kind/id` as `access` may read it; `None` when there is none.
async fn lookup(
    app: &App,
    access: &Access,
    lang: Lang,
    kind: &str,
    id: &str,
) -> Result<Option<Value>, AppError> {
    let catalogue = &app.catalogue;
    Ok(match kind {
        "Task" => referral(app, access, id)?.map(|r| task(&r)),
        "ServiceRequest" => {
            referral(app, access, id)?.map(|r| resources::service_request(&r, catalogue, lang))
        }
        "Consent" => referral(app, access, id)?.map(|r| resources::consent(&r)),
        "Condition" => match NeedCaseId::parse(id) {
            Ok(n) => app
                .need_case(access, n)?
                .and_then(|v| resources::condition(&v, catalogue, lang)),
            Err(_) => None,
        },
        "Patient" => match RecipientId::parse(id) {
            Ok(p) => match app.care_recipient(access, p)? {
                Some(r) => {
                    let personal = app.personal_data(access, &r).await?;
                    Some(resources::patient(&r, personal.as_ref()))
                }
                None => None,
            },
            Err(_) => None,
        },
        "Organization" => match OrganisationId::parse(id) {
            Ok(o) => {
                let services = app.organisation_services(access, o)?;
                directory::organization(o, &services.iter().collect::<Vec<_>>())
            }
            Err(_) => None,
        },
        "HealthcareService" => match ServiceId::parse(id) {
            Ok(sv) => app
                .directory_service(access, sv)?
                .and_then(|v| directory::healthcare_service(&v, catalogue, lang)),
            Err(_) => None,
        },
        "CodeSystem" => {
            access.check(careledger_app::policy::Action::ReadShared)?;
            (id == "needs").then(|| directory::code_system(catalogue))
        }
        _ => None,
    })
}

/// `GET /fhir/{kind}/{id}`.
pub async fn read(State(s): St, Path((kind, id)): KindId, headers: HeaderMap) -> Response {
    let (access, lang) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !READABLE.contains(&kind.as_str()) {
        return unknown_type(&kind);
    }
    if let Err(e) = s.app.read_models_at_head().await {
        return app_error(e);
    }
    match lookup(&s.app, &access, lang, &kind, &id).await {
        Ok(Some(body)) => found(body),
        Ok(None) => missing(&kind),
        // A provider learns nothing of referrals addressed to others: such a
        // referral looks like none (as the provider's GraphQL mutations answer).
        Err(AppError::Forbidden(Denied::Organisation)) => missing(&kind),
        Err(e) => app_error(e),
    }
}

/// A Task's versions, oldest first (after the admission and type checks).
async fn task_versions(
    s: &super::HttpState,
    access: &Access,
    kind: &str,
    id: &str,
) -> Result<Vec<ReferralRecord>, Response> {
    if kind != "Task" {
        return Err(if READABLE.contains(&kind) {
            outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                &format!("history is served for Task only, not {kind}"),
            )
        } else {
            unknown_type(kind)
        });
    }
    let Some((n, r)) = parse_referral_resource_id(id) else {
        return Err(missing(kind));
    };
    match s.app.referral_versions(access, n, r).await {
        Ok(v) if v.is_empty() => Err(missing(kind)),
        Ok(v) => Ok(v),
        Err(AppError::Forbidden(Denied::Organisation)) => Err(missing(kind)),
        Err(e) => Err(app_error(e)),
    }
}

/// `GET /fhir/Task/{id}/_history`: every version, newest first.
pub async fn history(State(s): St, Path((kind, id)): KindId, headers: HeaderMap) -> Response {
    let (access, _) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let versions = match task_versions(&s, &access, &kind, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let base = base_url(&s, &headers);
    let entries = versions
        .iter()
        .map(|r| Entry {
            full_url: format!("{base}/fhir/Task/{id}"),
            resource: task(r),
            mode: None,
        })
        .collect();
    resource(
        StatusCode::OK,
        &history_bundle(
            &format!("{base}/fhir/Task/{id}/_history"),
            &format!("Task/{id}"),
            entries,
        ),
    )
}

/// `GET /fhir/Task/{id}/_history/{version}`: one version.
pub async fn vread(
    State(s): St,
    Path((kind, id, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (access, _) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let versions = match task_versions(&s, &access, &kind, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match versions
        .iter()
        .find(|r| r.log.version.to_string() == version)
    {
        Some(r) => found(task(r)),
        None => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!(
                "Task {id} has no version '{}'",
                version.chars().take(20).collect::<String>()
            ),
        ),
    }
}
