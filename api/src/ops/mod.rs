//! Operations: liveness (`/healthz`), readiness (`/readyz`: the read models have
//! caught up with the log as it was at start) and Prometheus metrics
//! (`/metrics`). They share nothing with GraphQL but the application.

pub mod metrics;
pub mod webhooks;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use careledger_app::App;
use metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the operations endpoints read.
#[derive(Clone)]
pub struct OpsState {
    pub app: Arc<App>,
    /// Set once the projections caught up with the log as it was at start.
    pub ready: Arc<AtomicBool>,
    /// This server's metrics registry (one per instance, built in `startup`).
    pub metrics: Arc<Metrics>,
}

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<OpsState>) -> Response {
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

async fn metrics(State(s): State<OpsState>) -> Response {
    let head = s.app.store.head().await.map(|p| p.raw()).unwrap_or(0);
    let text = s.metrics.render(head, s.app.projector.position().raw());
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    r
}
