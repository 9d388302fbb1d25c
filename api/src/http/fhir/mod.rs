//! FHIR R4 over HTTP under `/fhir` (issue 17): `metadata`, read and search of
//! the resources [`crate::fhir`] builds (`search`), and a Task's history and
//! versions (`read`).
//!
//! The same credentials as GraphQL (a bearer token or an API key), the same
//! rate limit, and the application's use cases, so the same authorisation
//! rules: a coordinator reads their sites' records; a provider the Tasks,
//! ServiceRequests and Consents of the referrals addressed to their
//! organisations; an external application (or anyone) only the shared data —
//! the directory and the catalogue. Every error is an `OperationOutcome` with
//! the status it names: 400 (a search it cannot honour), 401, 403, 404, 405,
//! 406, 429, 503, 500 (whose cause is logged, never sent). `metadata` needs no
//! credential. Answers are `application/fhir+json`; a read carries `ETag`
//! (`W/"<versionId>"`) and `Last-Modified` when the resource has them.

// The refusals these helpers return are the responses sent, built once and
// moved once to the handler's return: boxing them would buy nothing.
#![allow(clippy::result_large_err)]

mod read;
mod search;

use super::HttpState;
use super::limits::Throttled;
use crate::fhir::FHIR_JSON;
use crate::fhir::bundle::operation_outcome;
use crate::graphql::support::lang_from_accept_language;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use careledger_app::{Access, AppError};
use careledger_domain::values::Lang;
use serde_json::Value;
use std::sync::Arc;

/// The `/fhir` routes.
pub fn router() -> Router<Arc<HttpState>> {
    Router::new()
        .route("/fhir/metadata", get(read::metadata).fallback(not_allowed))
        .route("/fhir/{kind}", get(search::search).fallback(not_allowed))
        .route("/fhir/{kind}/{id}", get(read::read).fallback(not_allowed))
        .route(
            "/fhir/{kind}/{id}/_history",
            get(read::history).fallback(not_allowed),
        )
        .route(
            "/fhir/{kind}/{id}/_history/{version}",
            get(read::vread).fallback(not_allowed),
        )
        .route("/fhir", axum::routing::any(not_found))
        .route("/fhir/{kind}/{id}/{*rest}", axum::routing::any(not_found))
}

/// An answer: a resource (or bundle) as FHIR JSON.
pub(crate) fn resource(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    r
}

/// An error: an `OperationOutcome` with one issue.
pub(crate) fn outcome(status: StatusCode, code: &str, message: &str) -> Response {
    resource(status, &operation_outcome(code, message))
}

async fn not_allowed() -> Response {
    let mut r = outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        "this FHIR interface is read-only: GET only",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    r
}

async fn not_found() -> Response {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such FHIR endpoint (see /fhir/metadata for what is served)",
    )
}

/// A use case's refusal or fault as an `OperationOutcome`.
pub(crate) fn app_error(e: AppError) -> Response {
    match &e {
        AppError::Forbidden(_) => outcome(StatusCode::FORBIDDEN, "forbidden", &e.to_string()),
        AppError::Rejected { .. } | AppError::Conflict { .. } => {
            outcome(StatusCode::BAD_REQUEST, "invalid", &e.to_string())
        }
        AppError::Lagging { .. } | AppError::Unavailable(_) => {
            tracing::warn!(error = %e, "FHIR read unavailable");
            let mut r = outcome(
                StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                "the server cannot answer just now; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
            r
        }
        AppError::Internal(_) => {
            tracing::error!(error = %e, "FHIR read failed");
            outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                "exception",
                "internal error (logged on the server)",
            )
        }
    }
}

/// What every FHIR request (but `metadata`) checks first: the media type it
/// may answer in, the credential, the rate limit. Gives the caller's access
/// and language, or the refusal to send.
pub(crate) fn admit(s: &HttpState, headers: &HeaderMap) -> Result<(Access, Lang), Response> {
    acceptable(headers)?;
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    let access = match super::graphql::authenticate(s, credential) {
        Ok(a) => a,
        Err(e) => {
            let mut r = outcome(StatusCode::UNAUTHORIZED, "login", &e.to_string());
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Err(r);
        }
    };
    let key = format!("{}:{}", access.actor.role.name(), access.actor.subject);
    match s.limiter.take(&key, 1) {
        Ok(()) => {}
        Err(Throttled::Wait(wait)) => {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut r = outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                &format!("this credential is over its rate limit; retry in {secs} s"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return Err(r);
        }
        Err(Throttled::OverBurst) => {
            return Err(outcome(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "this credential is over its rate limit",
            ));
        }
    }
    Ok((access, lang_of(headers)))
}

/// The labels' language: `Accept-Language`, English by default.
pub(crate) fn lang_of(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .map(lang_from_accept_language)
        .unwrap_or(Lang::En)
}

/// Refuses (406) a client that accepts neither FHIR JSON nor JSON.
pub(crate) fn acceptable(headers: &HeaderMap) -> Result<(), Response> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Ok(());
    };
    let ok = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .any(|t| {
            matches!(
                t,
                "application/fhir+json"
                    | "application/json"
                    | "application/*"
                    | "*/*"
                    | "application/json+fhir"
            )
        });
    if ok {
        Ok(())
    } else {
        Err(outcome(
            StatusCode::NOT_ACCEPTABLE,
            "not-supported",
            "this server answers application/fhir+json only",
        ))
    }
}

/// The address resources are named under: `--public-url`, else this request's
/// host over plain HTTP.
pub(crate) fn base_url(s: &HttpState, headers: &HeaderMap) -> String {
    if let Some(u) = &s.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The parameters of a query string, decoded.
pub(crate) fn query_pairs(raw: &RawQuery) -> Result<Vec<(String, String)>, Response> {
    serde_urlencoded::from_str(raw.0.as_deref().unwrap_or("")).map_err(|e| {
        outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("the query string cannot be decoded: {e}"),
        )
    })
}

/// The path parameters every read has.
pub(crate) type KindId = Path<(String, String)>;

/// The shared state every handler takes.
pub(crate) type St = State<Arc<HttpState>>;
