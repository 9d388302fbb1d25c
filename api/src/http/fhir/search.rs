//! `GET /fhir/{type}?…`: searches. A referral's resources (`Task`,
//! `ServiceRequest`, `Consent`) take `owner`, `requester`, `patient`,
//! `_lastUpdated` and `_count` (Task also `status` and `_include=Task:focus`);
//! `Condition` and `Patient` are searched by their patient (`patient`, `_id`),
//! `HealthcareService` by `organization`; `Organization` lists the directory's
//! organisations. Every search set is paged (`_count`, a `next` link).

#![allow(clippy::result_large_err)] // see the parent module

use super::read::{READABLE, unknown_type};
use super::{St, admit, app_error, base_url, outcome, query_pairs, resource};
use crate::fhir::bundle::{Entry, searchset};
use crate::fhir::search::{parse_referral_search, parse_simple_search};
use crate::fhir::{directory, resources};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use careledger_app::fhir::referral_resource_id;
use careledger_app::{Access, App};
use careledger_domain::ids::{OrganisationId, RecipientId, ServiceId};
use careledger_domain::values::Lang;
use serde_json::Value;

/// The search set's links: itself and, with a cursor, the next page.
fn links(
    base: &str,
    kind: &str,
    echo: &[(String, String)],
    next: Option<String>,
) -> (String, Option<String>) {
    let url = |extra: Option<(String, String)>| {
        let mut pairs = echo.to_vec();
        pairs.extend(extra);
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if qs.is_empty() {
            format!("{base}/fhir/{kind}")
        } else {
            format!("{base}/fhir/{kind}?{qs}")
        }
    };
    (url(None), next.map(|c| url(Some(("_cursor".into(), c)))))
}

fn bad(code: &str, message: &str) -> Response {
    outcome(StatusCode::BAD_REQUEST, code, message)
}

/// `GET /fhir/{kind}?…`.
pub async fn search(
    State(s): St,
    Path(kind): Path<String>,
    headers: HeaderMap,
    raw: RawQuery,
) -> Response {
    let (access, lang) = match admit(&s, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !READABLE.contains(&kind.as_str()) {
        return unknown_type(&kind);
    }
    let pairs = match query_pairs(&raw) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = s.app.read_models_at_head().await {
        return app_error(e);
    }
    let base = base_url(&s, &headers);
    let found = match kind.as_str() {
        "Task" | "ServiceRequest" | "Consent" => {
            referrals(&s.app, &access, lang, &kind, &base, &pairs)
        }
        "Condition" => conditions(&s.app, &access, lang, &base, &pairs).await,
        "Patient" => patients(&s.app, &access, &base, &pairs).await,
        "HealthcareService" => services(&s.app, &access, lang, &base, &pairs),
        "Organization" => organisations(&s.app, &access, &base, &pairs),
        _ => Err(bad(
            "not-supported",
            &format!("{kind} is read by id only (/fhir/{kind}/<id>)"),
        )),
    };
    match found {
        Ok(bundle) => resource(StatusCode::OK, &bundle),
        Err(r) => r,
    }
}

type Found = Result<Value, Response>;

fn referrals(
    app: &App,
    access: &Access,
    lang: Lang,
    kind: &str,
    base: &str,
    pairs: &[(String, String)],
) -> Found {
    let mut q = parse_referral_search(kind, pairs).map_err(|e| bad(e.code, &e.message))?;
    // A Consent's last change is its consent's, not its referral's.
    q.query.consent_time = kind == "Consent";
    let page = app
        .search_referrals(access, &q.query, q.after, q.count)
        .map_err(app_error)?;
    let mut entries = Vec::with_capacity(page.items.len() * 2);
    for r in &page.items {
        let id = referral_resource_id(r.need_case, r.referral.id);
        let resource = match kind {
            "Task" => resources::task(r),
            "ServiceRequest" => resources::service_request(r, &app.catalogue, lang),
            _ => resources::consent(r),
        };
        entries.push(Entry {
            full_url: format!("{base}/fhir/{kind}/{id}"),
            resource,
            mode: Some("match"),
        });
    }
    if q.include_focus {
        for r in &page.items {
            let id = referral_resource_id(r.need_case, r.referral.id);
            entries.push(Entry {
                full_url: format!("{base}/fhir/ServiceRequest/{id}"),
                resource: resources::service_request(r, &app.catalogue, lang),
                mode: Some("include"),
            });
        }
    }
    let next = page.next.map(|(n, r)| referral_resource_id(n, r));
    let (me, next) = links(base, kind, &q.echo, next);
    Ok(searchset(&me, next.as_deref(), entries))
}

/// The patient a `patient` parameter names.
fn patient_of(v: &str, param: &str) -> Result<RecipientId, Response> {
    let id = v.strip_prefix("Patient/").unwrap_or(v);
    RecipientId::parse(id).map_err(|_| {
        bad(
            "invalid",
            &format!(
                "{param}: '{}' is not a Patient reference (Patient/<uuid>)",
                v.chars().take(80).collect::<String>()
            ),
        )
    })
}

async fn conditions(
    app: &App,
    access: &Access,
    lang: Lang,
    base: &str,
    pairs: &[(String, String)],
) -> Found {
    let q = parse_simple_search("Condition", "patient", true, pairs)
        .map_err(|e| bad(e.code, &e.message))?;
    let patient = patient_of(q.value.as_deref().unwrap_or(""), "patient")?;
    let skip: usize = match q.cursor.as_deref().map(str::parse) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return Err(bad(
                "invalid",
                "_cursor: not a page token of this server (follow the bundle's next link)",
            ));
        }
    };
    let Some(r) = app.care_recipient(access, patient).map_err(app_error)? else {
        let (me, _) = links(base, "Condition", &q.echo, None);
        return Ok(searchset(&me, None, Vec::new()));
    };
    let mut entries = Vec::new();
    for id in r.need_cases.iter().skip(skip).take(q.count) {
        if let Some(c) = app
            .need_case(access, *id)
            .map_err(app_error)?
            .and_then(|v| resources::condition(&v, &app.catalogue, lang))
        {
            entries.push(Entry {
                full_url: format!("{base}/fhir/Condition/{id}"),
                resource: c,
                mode: Some("match"),
            });
        }
    }
    let end = skip.saturating_add(q.count);
    let next = (r.need_cases.len() > end).then(|| end.to_string());
    let (me, next) = links(base, "Condition", &q.echo, next);
    Ok(searchset(&me, next.as_deref(), entries))
}

async fn patients(app: &App, access: &Access, base: &str, pairs: &[(String, String)]) -> Found {
    let q =
        parse_simple_search("Patient", "_id", true, pairs).map_err(|e| bad(e.code, &e.message))?;
    let id = patient_of(q.value.as_deref().unwrap_or(""), "_id")?;
    let mut entries = Vec::new();
    if let Some(r) = app.care_recipient(access, id).map_err(app_error)? {
        let personal = app.personal_data(access, &r).await.map_err(app_error)?;
        entries.push(Entry {
            full_url: format!("{base}/fhir/Patient/{id}"),
            resource: resources::patient(&r, personal.as_ref()),
            mode: Some("match"),
        });
    }
    let (me, _) = links(base, "Patient", &q.echo, None);
    Ok(searchset(&me, None, entries))
}

fn services(
    app: &App,
    access: &Access,
    lang: Lang,
    base: &str,
    pairs: &[(String, String)],
) -> Found {
    let q = parse_simple_search("HealthcareService", "organization", false, pairs)
        .map_err(|e| bad(e.code, &e.message))?;
    let org = match q.value.as_deref() {
        None => None,
        Some(v) => Some(
            OrganisationId::parse(v.strip_prefix("Organization/").unwrap_or(v)).map_err(|_| {
                bad(
                    "invalid",
                    "organization: not an Organization reference (Organization/<uuid>)",
                )
            })?,
        ),
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(ServiceId::parse(c).map_err(|_| {
            bad(
                "invalid",
                "_cursor: not a page token of this server (follow the bundle's next link)",
            )
        })?),
    };
    let (items, more) = app
        .directory_services(access, org, after, q.count)
        .map_err(app_error)?;
    let next = more
        .then(|| {
            items
                .last()
                .and_then(|v| v.state.data())
                .map(|d| d.id.to_string())
        })
        .flatten();
    let entries = items
        .iter()
        .filter_map(|v| {
            let r = directory::healthcare_service(v, &app.catalogue, lang)?;
            Some(Entry {
                full_url: format!(
                    "{base}/fhir/HealthcareService/{}",
                    r["id"].as_str().unwrap_or("")
                ),
                resource: r,
                mode: Some("match"),
            })
        })
        .collect();
    let (me, next) = links(base, "HealthcareService", &q.echo, next);
    Ok(searchset(&me, next.as_deref(), entries))
}

fn organisations(app: &App, access: &Access, base: &str, pairs: &[(String, String)]) -> Found {
    let q = parse_simple_search("Organization", "_id", false, pairs)
        .map_err(|e| bad(e.code, &e.message))?;
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(OrganisationId::parse(c).map_err(|_| {
            bad(
                "invalid",
                "_cursor: not a page token of this server (follow the bundle's next link)",
            )
        })?),
    };
    let all = app.organisations(access).map_err(app_error)?;
    let wanted = q.value.as_deref().map(|v| v.to_string());
    let mut matching = all
        .iter()
        .filter(|(id, _)| wanted.as_ref().is_none_or(|w| id.to_string() == *w))
        .filter(|(id, _)| after.is_none_or(|a| *id > a));
    let mut entries = Vec::new();
    let mut last = None;
    for (id, services) in matching.by_ref().take(q.count) {
        if let Some(o) = directory::organization(*id, &services.iter().collect::<Vec<_>>()) {
            entries.push(Entry {
                full_url: format!("{base}/fhir/Organization/{id}"),
                resource: o,
                mode: Some("match"),
            });
        }
        last = Some(*id);
    }
    let next = matching.next().and(last).map(|l| l.to_string());
    let (me, next) = links(base, "Organization", &q.echo, next);
    Ok(searchset(&me, next.as_deref(), entries))
}
