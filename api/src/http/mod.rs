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

pub mod graphql;
pub mod guard;
pub mod limits;
pub mod listener;
pub mod tokens;
pub mod web;

use crate::graphql::CareLedgerSchema;
use crate::ops::metrics::Metrics;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use careledger_app::App;
use graphql::DocumentCache;
use limits::{InFlight, Limits, RateLimiter};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokens::TokenKey;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub struct HttpState {
    pub schema: CareLedgerSchema,
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
}

pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/", get(web::page))
        .route("/assets/{name}", get(web::asset))
        .route("/graphql", get(graphql::get).post(graphql::post))
        .with_state(state.clone())
        .merge(crate::ops::router(crate::ops::OpsState {
            app: state.app.clone(),
            ready: state.ready.clone(),
            metrics: state.metrics.clone(),
        }))
        .fallback(web::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost: every response, refusals and 404s included, gets the
        // security headers (web).
        .layer(axum::middleware::map_response(web::security_headers))
}
