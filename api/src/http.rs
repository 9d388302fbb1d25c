//! The HTTP edge: GraphQL over HTTP, GraphiQL, health, readiness and metrics.
//!
//! GraphQL follows the GraphQL-over-HTTP spec: `POST /graphql` with a JSON body,
//! `GET /graphql?query=…` for queries only (a mutation over GET is `405`); the
//! response is `application/graphql-response+json` when the client accepts it
//! (then a request that fails to parse or validate is a `400`), else
//! `application/json` (then such a request is answered `200`, as the spec asks for
//! legacy clients). A malformed body is `400`, a body over the limit `413`, an
//! unsupported content type `415`, an unacceptable `Accept` `406`, a missing or bad
//! bearer token `401`, a credential over its rate limit `429` (with `Retry-After`), a
//! request running past the time limit `503`. Each refusal carries a GraphQL error
//! with a code.

use crate::app::App;
use crate::auth::TokenKey;
use crate::graphql::{CareLedgerSchema, lang_from_accept_language};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

pub struct HttpState {
    pub schema: CareLedgerSchema,
    pub app: Arc<App>,
    pub keys: TokenKey,
    /// Set once the projections caught up with the log as it was at start.
    pub ready: Arc<AtomicBool>,
    pub documents: DocumentCache,
    pub limits: Limits,
    pub limiter: RateLimiter,
}

/// Abuse limits of the HTTP edge.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests per second per credential (0: no limit).
    pub rate_per_sec: f64,
    /// The bucket's size: requests a credential may make at once.
    pub burst: f64,
    /// The longest a GraphQL request may run.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_sec: 0.0,
            burst: 1.0,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// One token bucket per credential (role and subject).
#[derive(Default)]
pub struct RateLimiter {
    buckets: std::sync::Mutex<std::collections::HashMap<String, (f64, Instant)>>,
}

/// Credentials idle this long are forgotten (their bucket would be full anyway).
const BUCKET_IDLE: Duration = Duration::from_secs(120);
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// Takes one request from `key`'s bucket; `Err(wait)` when it is empty.
    pub fn take(&self, key: &str, limits: &Limits, now: Instant) -> Result<(), Duration> {
        if limits.rate_per_sec <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < BUCKET_IDLE);
        }
        let (tokens, at) = buckets
            .entry(key.to_string())
            .or_insert((limits.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * limits.rate_per_sec)
            .min(limits.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - *tokens) / limits.rate_per_sec,
            ))
        }
    }
}

/// Parsed GraphQL documents by query text. Clients send the same few documents
/// with different variables; parsing (a PEG parser) is the largest cost of a
/// small request, so each distinct text is parsed once. Bounded: once full, new
/// texts are parsed every time (and not kept), so a client sending ever-new
/// documents cannot grow it.
#[derive(Default)]
pub struct DocumentCache {
    map: std::sync::RwLock<std::collections::HashMap<String, ExecutableDocument>>,
}

const MAX_CACHED_DOCUMENTS: usize = 512;
/// Longer query texts are not kept.
const MAX_CACHED_QUERY_BYTES: usize = 8 * 1024;

impl DocumentCache {
    /// Gives `request` its parsed document from the cache, or parses it and keeps it.
    fn prepare(&self, request: &mut async_graphql::Request) {
        if let Some(doc) = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&request.query)
        {
            request.set_parsed_query(doc.clone());
            return;
        }
        if request.query.len() > MAX_CACHED_QUERY_BYTES {
            return;
        }
        if let Ok(doc) = request.parsed_query() {
            let doc = doc.clone();
            let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
            if map.len() < MAX_CACHED_DOCUMENTS {
                map.insert(request.query.clone(), doc);
            }
        }
    }
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A response with one top-level error (for requests that never reach execution).
fn request_error(status: StatusCode, media: &'static str, code: &str, message: &str) -> Response {
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    r
}

/// Which media type to answer in; `None` when the client accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return Some(JSON);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    if types.contains(&GRAPHQL_RESPONSE) {
        Some(GRAPHQL_RESPONSE)
    } else if types
        .iter()
        .any(|t| *t == JSON || *t == "*/*" || *t == "application/*")
    {
        Some(JSON)
    } else {
        None
    }
}

fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        JSON,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    )
}

/// The access an API key grants: an external application, at no site — the
/// catalogue, the directory and (suppressed) aggregates, never a site's records.
fn api_key_access(
    s: &HttpState,
    presented: &str,
) -> Result<crate::auth::Access, crate::auth::AuthError> {
    let id = crate::credentials::key_id(presented).ok_or(crate::auth::AuthError::UnknownApiKey)?;
    let model = s.app.projector.read();
    let key = model
        .api_key(id)
        .filter(|k| k.revoked_at.is_none())
        .ok_or(crate::auth::AuthError::UnknownApiKey)?;
    if !crate::credentials::matches(presented, &key.secret_sha256) {
        return Err(crate::auth::AuthError::UnknownApiKey);
    }
    Ok(crate::auth::Access {
        actor: careledger_domain::store::Actor {
            subject: format!("apikey-{id}"),
            role: careledger_domain::store::Role::ExternalApp,
        },
        sites: crate::auth::SiteScope::Only(Vec::new()),
    })
}

/// A request that is not a GraphQL request at all.
fn malformed(media: &'static str, what: &str, e: impl std::fmt::Display) -> Response {
    request_error(
        StatusCode::BAD_REQUEST,
        media,
        "BAD_REQUEST",
        &format!("{what} is not a GraphQL request: {e}"),
    )
}

async fn graphql_post(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let media = match negotiate(&headers) {
        Some(m) => m,
        None => return not_acceptable(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    if !content_type.trim_start().starts_with(JSON) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as application/json",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return malformed(media, "the JSON body", e),
    };
    execute(&s, &headers, media, request, false).await
}

async fn graphql_get(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let media = match negotiate(&headers) {
        Some(m) => m,
        None => return not_acceptable(),
    };
    let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => return malformed(media, "the query string", e),
    };
    execute(&s, &headers, media, request, true).await
}

async fn execute(
    s: &HttpState,
    headers: &HeaderMap,
    media: &'static str,
    mut request: async_graphql::Request,
    is_get: bool,
) -> Response {
    let started = Instant::now();
    let _in_flight = s.app.metrics.start_request();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    let access = match token.map(str::trim) {
        None => Err(crate::auth::AuthError::Missing),
        Some(t) if t.starts_with(crate::credentials::PREFIX) => api_key_access(s, t),
        Some(t) => s.keys.authenticate(t, s.app.clock.now().timestamp()),
    };
    let access = match access {
        Ok(a) => a,
        Err(e) => {
            let mut r = request_error(
                StatusCode::UNAUTHORIZED,
                media,
                "UNAUTHENTICATED",
                &e.to_string(),
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    };
    // The credential's key is only built when a limit is set.
    if s.limits.rate_per_sec > 0.0
        && let Err(wait) = s.limiter.take(
            &format!("{}:{}", access.actor.role.name(), access.actor.subject),
            &s.limits,
            Instant::now(),
        )
    {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut r = request_error(
            StatusCode::TOO_MANY_REQUESTS,
            media,
            "RATE_LIMITED",
            &format!(
                "this credential made more than {} requests per second (bursts up to {}); retry in {secs} s",
                s.limits.rate_per_sec, s.limits.burst
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    s.documents.prepare(&mut request);
    if is_get {
        let name = request.operation_name.clone();
        if let Ok(doc) = request.parsed_query() {
            let is_mutation = doc.operations.iter().any(|(n, op)| {
                op.node.ty == OperationType::Mutation
                    && (name.is_none() || n.map(|n| n.as_str()) == name.as_deref())
            });
            if is_mutation {
                let mut r = request_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    media,
                    "METHOD_NOT_ALLOWED",
                    "mutations must be sent with POST",
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                return r;
            }
        }
    }
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .map(lang_from_accept_language)
        .unwrap_or(careledger_domain::values::Lang::En);
    let operation = request.operation_name.clone();
    let run = s.schema.execute(request.data(access).data(lang));
    let mut response = match tokio::time::timeout(s.limits.request_timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            s.app
                .metrics
                .request(operation.as_deref(), false, started.elapsed());
            return request_error(
                StatusCode::SERVICE_UNAVAILABLE,
                media,
                "REQUEST_TIMEOUT",
                &format!(
                    "the request ran longer than {} ms and was abandoned; a mutation may or may not have been applied: retry it with the same idempotencyKey",
                    s.limits.request_timeout.as_millis()
                ),
            );
        }
    };

    // Errors from parsing and validation carry no code of ours: give them one, and
    // tell them apart (the request never executed) for the status code.
    let mut request_failed = false;
    if response.data == async_graphql::Value::Null && !response.errors.is_empty() {
        for e in &mut response.errors {
            let has_code = e
                .extensions
                .as_ref()
                .is_some_and(|x| x.get("code").is_some());
            if !has_code {
                request_failed = true;
                let code = if e.message.contains("nested too deep") {
                    "QUERY_TOO_DEEP"
                } else if e.message.contains("too complex") {
                    "QUERY_TOO_COMPLEX"
                } else {
                    "GRAPHQL_VALIDATION_FAILED"
                };
                e.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", code);
            }
        }
    }
    let status = if request_failed && media == GRAPHQL_RESPONSE {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    s.app.metrics.request(
        operation.as_deref(),
        response.errors.is_empty(),
        started.elapsed(),
    );
    // A request that never executed has no `data` entry (GraphQL-over-HTTP).
    let serialised = if request_failed {
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        serde_json::to_vec(&response)
    };
    let body = match serialised {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            return request_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    r
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Arc<HttpState>>) -> Response {
    let position = s.app.projector.position().raw();
    if s.ready.load(Ordering::Acquire) {
        (
            StatusCode::OK,
            format!("ready (projections at position {position})\n"),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: projections catching up (at position {position})\n"),
        )
            .into_response()
    }
}

async fn metrics(State(s): State<Arc<HttpState>>) -> Response {
    let head = s.app.store.head().await.map(|p| p.raw()).unwrap_or(0);
    let text = s.app.metrics.render(head, s.app.projector.position().raw());
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn graphiql() -> Html<&'static str> {
    Html(include_str!("graphiql.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn the_response_media_type_follows_the_accept_header() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(JSON));
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GRAPHQL_RESPONSE)
        );
        assert_eq!(negotiate(&accept("application/json")), Some(JSON));
        assert_eq!(negotiate(&accept("*/*")), Some(JSON));
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn a_credential_gets_its_burst_then_its_rate_and_others_are_not_touched() {
        let limits = Limits {
            rate_per_sec: 2.0,
            burst: 3.0,
            request_timeout: Duration::from_secs(1),
        };
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take("coordinator:a", &limits, t0).is_ok());
        }
        let wait = l.take("coordinator:a", &limits, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // Another credential has its own bucket.
        assert!(l.take("coordinator:b", &limits, t0).is_ok());
        // Half a second later one request is allowed again, not two.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.take("coordinator:a", &limits, t1).is_ok());
        assert!(l.take("coordinator:a", &limits, t1).is_err());
        // A long pause refills the bucket up to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.take("coordinator:a", &limits, t2).is_ok());
        }
        assert!(l.take("coordinator:a", &limits, t2).is_err());
        // Rate 0: no limit.
        let off = Limits::default();
        for _ in 0..1_000 {
            assert!(l.take("x", &off, t0).is_ok());
        }
    }
}
