//! The HTTP edge: GraphQL over HTTP, GraphiQL, health, readiness and metrics (the
//! page, its assets and the security headers of every response: [`web`]).
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
//!
//! Every request runs in a span from `tower-http`'s trace layer ([`trace_layer`]):
//! method and route at `INFO` (so a warning logged while answering says which
//! request it was), status and latency at `DEBUG` when the response is sent
//! (`CARELEDGER_LOG=tower_http=debug`). Never headers, bodies or the query string:
//! a GraphQL GET carries its query and variables there, and variables hold personal
//! data.

pub mod answer;
pub mod dashboard;
pub mod fhir;
pub mod graphql;
pub mod guard;
pub mod limits;
pub mod listener;
pub mod tokens;
pub mod unread;
pub mod validated;
pub mod web;
pub mod ws;

use crate::graphql::CareLedgerSchema;
use crate::ops::metrics::Metrics;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::routing::get;
use careledger_app::App;
use graphql::DocumentCache;
use limits::{InFlight, Limits, RateLimiter};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokens::TokenKey;
use tower_http::LatencyUnit;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnFailure, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct HttpState {
    pub schema: CareLedgerSchema,
    /// The same schema validating only what depends on variables, for documents
    /// [`validated`] knows to be valid otherwise.
    pub fast_schema: CareLedgerSchema,
    pub validated: validated::ValidatedDocuments,
    pub app: Arc<App>,
    pub keys: TokenKey,
    /// Set once the projections caught up with the log as it was at start.
    pub ready: Arc<AtomicBool>,
    /// Request counts and latencies (read by `/metrics`).
    pub metrics: Arc<Metrics>,
    pub documents: DocumentCache,
    pub limits: Limits,
    pub limiter: RateLimiter,
    pub in_flight: InFlight,
    /// Subscription sockets: their cap, and the signal closing them at shutdown.
    pub live: ws::LiveSockets,
    /// The server's public address (`--public-url`): FHIR's absolute URLs.
    pub public_url: Option<String>,
    /// The dashboard's sessions and aggregate pool.
    pub dashboard: dashboard::DashboardState,
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(web::page))
        .route("/assets/{name}", get(web::asset))
        .route("/graphql", get(get_or_subscribe).post(graphql::post))
        .route("/answer/{token}", get(answer::show).post(answer::answer))
        .merge(fhir::router())
        .merge(dashboard::router())
        .with_state(state.clone())
        .merge(crate::ops::router(crate::ops::OpsState {
            app: state.app.clone(),
            ready: state.ready.clone(),
            metrics: state.metrics.clone(),
        }))
        .fallback(web::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(trace_layer())
        // An answer given before the body was read closes its connection, so a
        // keep-alive client does not reuse it (unread).
        .layer(unread::CloseUnreadLayer)
        // Outermost: every response, refusals and 404s included, gets the
        // security headers (web).
        .layer(web::security_headers())
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions ([`ws`]), else a
/// GraphQL-over-HTTP query.
async fn get_or_subscribe(
    axum::extract::State(s): axum::extract::State<Arc<HttpState>>,
    request: Request,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    let upgrading = parts
        .headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrading {
        let headers = parts.headers.clone();
        let peer = parts.extensions.get::<listener::PeerIp>().map(|p| p.0);
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &s).await {
            Ok(upgrade) => ws::upgrade(s, upgrade, &headers, peer),
            Err(rejection) => axum::response::IntoResponse::into_response(rejection),
        };
    }
    let raw = axum::extract::RawQuery(parts.uri.query().map(str::to_string));
    graphql::get(axum::extract::State(s), parts.headers, raw).await
}

/// How a request's span is made.
type MakeRequestSpan = fn(&Request) -> tracing::Span;

/// The trace layer [`trace_layer`] builds.
pub type RequestTrace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    MakeRequestSpan,
    DefaultOnRequest,
    DefaultOnResponse,
>;

/// The trace layer of [`router`]: see the module documentation for what it
/// records, and why never the query string.
pub fn trace_layer() -> RequestTrace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as MakeRequestSpan)
        .on_request(DefaultOnRequest::new().level(Level::DEBUG))
        .on_response(
            DefaultOnResponse::new()
                .level(Level::DEBUG)
                .latency_unit(LatencyUnit::Micros),
        )
        // A 503 is an answer (not ready yet, over the time limit), not a fault;
        // faults are logged where they happen.
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
}

/// The request's span: its method and its route (`/assets/{name}`, not the
/// asset), or the bare path — `Uri::path`, which holds no query — for one no
/// route matched.
fn request_span(request: &Request) -> tracing::Span {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), path = %path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// Everything the subscriber writes, at every level.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The layer `router` uses, with everything at every level captured (span
    /// events included): a GraphQL GET's query string — where its variables are —
    /// and its headers appear nowhere; method, route, status and latency do.
    #[tokio::test]
    async fn a_request_span_holds_method_route_status_and_latency_but_no_query_string() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let app: Router = Router::new()
            .route("/graphql", get(|| async { "{}" }))
            .layer(trace_layer());
        let uri = "/graphql?query=%7B%20me%20%7D&variables=%7B%22secret%22%3A%22Xq7-personal%22%7D";
        let response = app
            .oneshot(
                Request::get(uri)
                    .header("authorization", "Bearer Tk9-header")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        drop(response);

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for absent in [
            "Xq7-personal",
            "Xq7",
            "secret",
            "variables",
            "query=",
            "Tk9-header",
        ] {
            assert!(!log.contains(absent), "{absent} logged in\n{log}");
        }
        for present in ["method=GET", "path=/graphql", "status=200", "latency="] {
            assert!(log.contains(present), "no {present} in\n{log}");
        }
    }
}
