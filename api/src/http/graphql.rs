//! GraphQL over HTTP (see the module documentation of [`crate::http`]): content
//! negotiation, GET and POST, the credential (bearer token or API key), the
//! guards, limits and deadline, then execution.

use super::HttpState;
use super::limits::Throttled;
use crate::graphql::support::{Deadline, lang_from_accept_language};
use async_graphql::parser::types::ExecutableDocument;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Instant;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

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
    pub(crate) fn prepare(&self, request: &mut async_graphql::Request) {
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
) -> Result<careledger_app::Access, crate::http::tokens::AuthError> {
    careledger_app::credentials::access_for_key(&s.app, presented)
        .ok_or(crate::http::tokens::AuthError::UnknownApiKey)
}

/// The access a credential grants: a bearer token (JWT) or an API key, as
/// presented (without the `Bearer ` prefix), checked at the server's time now.
pub fn authenticate(
    s: &HttpState,
    credential: Option<&str>,
) -> Result<careledger_app::Access, crate::http::tokens::AuthError> {
    match credential.map(str::trim) {
        None => Err(crate::http::tokens::AuthError::Missing),
        Some(t) if t.starts_with(careledger_app::credentials::PREFIX) => api_key_access(s, t),
        Some(t) => s.keys.authenticate(t, s.app.clock.now().timestamp()),
    }
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
fn refused(media: &'static str, r: &crate::http::guard::Refusal) -> Response {
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

pub async fn post(State(s): State<Arc<HttpState>>, headers: HeaderMap, body: Bytes) -> Response {
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
    if let Err(r) = crate::http::guard::check_json("the JSON body", &body) {
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

pub async fn get(
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
        if let Err(r) = crate::http::guard::check_json("the variables", v.as_bytes()) {
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
        if let Err(r) = crate::http::guard::check_json("the extensions", x.as_bytes()) {
            return refused(media, &r);
        }
        match serde_json::from_str::<async_graphql::Extensions>(&x) {
            Ok(map) => request.extensions = map,
            Err(e) => return malformed(media, "the extensions", e),
        }
    }
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
    let _in_flight = s.metrics.start_request();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        });
    let access = match authenticate(s, token) {
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
    if let Err(r) = crate::http::guard::check_document(&request.query) {
        return refused(media, &r);
    }
    s.documents.prepare(&mut request);
    let mut mutation_fields = 0;
    let name = request.operation_name.clone();
    if let Ok(doc) = request.parsed_query() {
        if let Err(r) = crate::http::guard::check_expansion(doc) {
            return refused(media, &r);
        }
        match crate::http::guard::check_mutations(doc, name.as_deref()) {
            Ok(n) => mutation_fields = n,
            Err(r) => return refused(media, &r),
        }
        if crate::http::guard::is_subscription(doc, name.as_deref()) {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                "SUBSCRIPTION_OVER_HTTP",
                "subscriptions are served over WebSocket (graphql-transport-ws) at this same /graphql",
            );
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
    // A document valid before whose variables pass skips the rules that cannot
    // fail again (validated); any other runs every rule, and is remembered once
    // it is answered without error.
    let fast = s
        .validated
        .may_skip(&request.query, operation.as_deref(), &request.variables);
    let remember = match (fast, request.parsed_query()) {
        (false, Ok(doc)) => s
            .validated
            .checks_for(doc, operation.as_deref())
            .map(|c| (request.query.clone(), c)),
        _ => None,
    };
    let schema = if fast { &s.fast_schema } else { &s.schema };
    let run = schema.execute(request.data(access).data(lang).data(deadline));
    let mut response = match tokio::time::timeout_at(deadline.0.into(), run).await {
        Ok(r) => r,
        Err(_) => {
            s.metrics
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

    if let Some((query, checks)) = remember
        && response.errors.is_empty()
    {
        s.validated.remember(&query, operation.as_deref(), checks);
    }
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
    s.metrics.request(
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
}
