//! The HTTP edge: GraphQL over HTTP, GraphiQL, health, readiness and metrics (the
//! page, its assets and the security headers of every response: [`crate::web`]).
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
use async_graphql::parser::types::ExecutableDocument;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    pub in_flight: InFlight,
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
    /// Requests one credential may have running at once.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate_per_sec: 0.0,
            burst: 1.0,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 8,
        }
    }
}

/// The per-credential rate limit: a GCRA token bucket (the `governor` crate) keyed
/// by role and subject. Each mutation field of a request costs one token (a query
/// costs one), so a document of aliased mutations is charged for every write.
pub struct RateLimiter<C: governor::clock::Clock = governor::clock::DefaultClock> {
    /// `None`: no limit.
    inner: Option<KeyedLimiter<C>>,
    clock: C,
}

type KeyedLimiter<C> = governor::RateLimiter<
    String,
    governor::state::keyed::DefaultKeyedStateStore<String>,
    C,
    governor::middleware::NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

/// Credentials are forgotten once this many are tracked and their buckets are full.
const MAX_BUCKETS: usize = 100_000;

/// Why the rate limiter said no.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throttled {
    /// Retry after this long.
    Wait(Duration),
    /// The request alone costs more than the bucket holds.
    OverBurst,
}

impl RateLimiter {
    pub fn new(limits: &Limits) -> Self {
        Self::with_clock(limits, governor::clock::DefaultClock::default())
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(&Limits::default())
    }
}

impl<C: governor::clock::Clock + Clone> RateLimiter<C> {
    pub fn with_clock(limits: &Limits, clock: C) -> Self {
        let inner = (limits.rate_per_sec > 0.0).then(|| {
            let period =
                Duration::from_secs_f64(1.0 / limits.rate_per_sec).max(Duration::from_nanos(1));
            let burst =
                std::num::NonZeroU32::new(limits.burst.max(1.0).min(f64::from(u32::MAX)) as u32)
                    .unwrap_or(std::num::NonZeroU32::MIN);
            let quota = governor::Quota::with_period(period)
                .expect("a positive period")
                .allow_burst(burst);
            governor::RateLimiter::new(quota, Default::default(), clock.clone())
        });
        Self { inner, clock }
    }

    /// Takes `cost` tokens from `key`'s bucket (at least one).
    pub fn take(&self, key: &str, cost: u32) -> Result<(), Throttled> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        if limiter.len() >= MAX_BUCKETS {
            limiter.retain_recent();
        }
        let cost = std::num::NonZeroU32::new(cost).unwrap_or(std::num::NonZeroU32::MIN);
        match limiter.check_key_n(&key.to_string(), cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Throttled::Wait(not_until.wait_time_from(self.clock.now()))),
            Err(_) => Err(Throttled::OverBurst),
        }
    }
}

/// Requests each credential has running, capped so that one caller cannot hold
/// every worker (a refused request is answered `429 TOO_MANY_IN_FLIGHT` at once).
#[derive(Default)]
pub struct InFlight {
    running: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

/// One running request; leaving it (dropping) frees its place.
pub struct InFlightGuard<'a> {
    owner: &'a InFlight,
    key: String,
}

impl InFlight {
    /// A place for one more request of `key`, if it has fewer than `max` running.
    pub fn enter(&self, key: &str, max: usize) -> Option<InFlightGuard<'_>> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(key.to_string()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(InFlightGuard {
            owner: self,
            key: key.to_string(),
        })
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut running = self.owner.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.key);
            }
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
        .route("/", get(crate::web::page))
        .route("/assets/{name}", get(crate::web::asset))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(crate::web::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost: every response, refusals and 404s included, gets the
        // security headers (crate::web).
        .layer(axum::middleware::map_response(crate::web::security_headers))
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

/// A request refused by a [`guard`](crate::guard) before it was parsed.
fn refused(media: &'static str, r: &crate::guard::Refusal) -> Response {
    request_error(StatusCode::BAD_REQUEST, media, r.code(), &r.to_string())
}

/// Whether a `Content-Type` is `application/json` (any case, optional
/// parameters; a charset, if given, must be UTF-8). `application/jsonx` is not.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return false;
    }
    parts.all(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        !k.trim().eq_ignore_ascii_case("charset")
            || v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
    })
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
    if !is_json(content_type) {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the request as application/json",
        );
    }
    // Nothing recursive reads the body before its nesting is known to be bounded.
    if let Err(r) = crate::guard::check_json("the JSON body", &body) {
        return refused(media, &r);
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return malformed(media, "the JSON body", e),
    };
    execute(&s, &headers, media, request, false).await
}

/// The parameters of a GET request (GraphQL over HTTP §GET).
#[derive(Default)]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn parse_get(raw: &str) -> Result<GetParams, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| format!("cannot decode it: {e}"))?;
    let mut p = GetParams::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "query" => &mut p.query,
            "operationName" => &mut p.operation_name,
            "variables" => &mut p.variables,
            "extensions" => &mut p.extensions,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(format!("the parameter '{k}' is given twice"));
        }
    }
    Ok(p)
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
    let p = match parse_get(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return malformed(media, "the query string", e),
    };
    let Some(text) = p.query.filter(|q| !q.trim().is_empty()) else {
        return malformed(media, "the query string", "it has no 'query' parameter");
    };
    let mut request = async_graphql::Request::new(text);
    if let Some(name) = p.operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(v) = p.variables.filter(|v| !v.is_empty()) {
        if let Err(r) = crate::guard::check_json("the variables", v.as_bytes()) {
            return refused(media, &r);
        }
        match serde_json::from_str::<serde_json::Value>(&v) {
            Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Null)) => {
                request = request.variables(async_graphql::Variables::from_json(v));
            }
            Ok(_) => return malformed(media, "the variables", "they are not a JSON object"),
            Err(e) => return malformed(media, "the variables", e),
        }
    }
    if let Some(x) = p.extensions.filter(|x| !x.is_empty()) {
        if let Err(r) = crate::guard::check_json("the extensions", x.as_bytes()) {
            return refused(media, &r);
        }
        match serde_json::from_str::<async_graphql::Extensions>(&x) {
            Ok(map) => request.extensions = map,
            Err(e) => return malformed(media, "the extensions", e),
        }
    }
    execute(&s, &headers, media, request, true).await
}

/// The moment a request's time is up: resolvers doing CPU-bound work check it
/// before they start (see `graphql::equity`), so work past the limit never begins.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

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
    let credential = format!("{}:{}", access.actor.role.name(), access.actor.subject);
    // The document's nesting is bounded before the (recursive) parser sees it.
    if let Err(r) = crate::guard::check_document(&request.query) {
        return refused(media, &r);
    }
    s.documents.prepare(&mut request);
    let mut mutation_fields = 0;
    let name = request.operation_name.clone();
    if let Ok(doc) = request.parsed_query() {
        if let Err(r) = crate::guard::check_expansion(doc) {
            return refused(media, &r);
        }
        match crate::guard::check_mutations(doc, name.as_deref()) {
            Ok(n) => mutation_fields = n,
            Err(r) => return refused(media, &r),
        }
        if is_get && mutation_fields > 0 {
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
    // Every mutation field is charged (a query costs one).
    match s.limiter.take(&credential, mutation_fields.max(1) as u32) {
        Ok(()) => {}
        Err(Throttled::Wait(wait)) => {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut r = request_error(
                StatusCode::TOO_MANY_REQUESTS,
                media,
                "RATE_LIMITED",
                &format!(
                    "this credential made more than {} requests (or mutation fields) per second (bursts up to {}); retry in {secs} s",
                    s.limits.rate_per_sec, s.limits.burst
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return r;
        }
        Err(Throttled::OverBurst) => {
            return request_error(
                StatusCode::TOO_MANY_REQUESTS,
                media,
                "RATE_LIMITED",
                &format!(
                    "this request's {mutation_fields} mutation fields cost more than this credential's burst of {}",
                    s.limits.burst
                ),
            );
        }
    }
    let Some(_running) = s.in_flight.enter(&credential, s.limits.max_in_flight) else {
        let mut r = request_error(
            StatusCode::TOO_MANY_REQUESTS,
            media,
            "TOO_MANY_IN_FLIGHT",
            &format!(
                "this credential already has {} requests running; wait for one to finish",
                s.limits.max_in_flight
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        return r;
    };
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .map(lang_from_accept_language)
        .unwrap_or(careledger_domain::values::Lang::En);
    let operation = request.operation_name.clone();
    let deadline = Deadline(started + s.limits.request_timeout);
    let run = s
        .schema
        .execute(request.data(access).data(lang).data(deadline));
    let mut response = match tokio::time::timeout_at(deadline.0.into(), run).await {
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
    fn only_application_json_is_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/json;charset=\"UTF-8\""));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json("application/json; charset=latin1"));
        assert!(!is_json("text/plain"));
        assert!(!is_json(""));
    }

    #[test]
    fn get_parameters_keep_the_operation_name_and_refuse_repeats() {
        let p = parse_get("query=query%20A%7Ba%7D&operationName=A&variables=%7B%7D").unwrap();
        assert_eq!(p.query.as_deref(), Some("query A{a}"));
        assert_eq!(p.operation_name.as_deref(), Some("A"));
        assert_eq!(p.variables.as_deref(), Some("{}"));
        assert!(parse_get("query=a&query=b").is_err());
    }

    /// The bucket (governor's GCRA) gives a credential its burst, then its rate;
    /// each credential has its own; a request costs one token per mutation field.
    #[test]
    fn a_credential_gets_its_burst_then_its_rate_and_others_are_not_touched() {
        use governor::clock::FakeRelativeClock;
        let limits = Limits {
            rate_per_sec: 2.0,
            burst: 3.0,
            ..Limits::default()
        };
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(&limits, clock.clone());
        for _ in 0..3 {
            assert!(l.take("coordinator:a", 1).is_ok());
        }
        let Err(Throttled::Wait(wait)) = l.take("coordinator:a", 1) else {
            panic!("the fourth request must wait")
        };
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another credential has its own bucket.
        assert!(l.take("coordinator:b", 1).is_ok());
        // Half a second later one request is allowed again, not two.
        clock.advance(Duration::from_millis(500));
        assert!(l.take("coordinator:a", 1).is_ok());
        assert!(l.take("coordinator:a", 1).is_err());
        // A long pause refills the bucket up to the burst, no more.
        clock.advance(Duration::from_secs(60));
        assert!(
            l.take("coordinator:a", 3).is_ok(),
            "three mutation fields at once"
        );
        assert!(l.take("coordinator:a", 1).is_err());
        // More than the burst at once can never pass.
        clock.advance(Duration::from_secs(60));
        assert_eq!(l.take("coordinator:a", 4), Err(Throttled::OverBurst));
        // Rate 0: no limit.
        let off = RateLimiter::with_clock(&Limits::default(), clock);
        for _ in 0..1_000 {
            assert!(off.take("x", 10).is_ok());
        }
    }

    #[test]
    fn a_credential_has_at_most_its_cap_of_requests_running() {
        let f = InFlight::default();
        let a1 = f.enter("a", 2).unwrap();
        let _a2 = f.enter("a", 2).unwrap();
        assert!(f.enter("a", 2).is_none());
        assert!(f.enter("b", 2).is_some(), "others are not touched");
        drop(a1);
        assert!(
            f.enter("a", 2).is_some(),
            "a finished request frees its place"
        );
    }
}
