//! Serving HTTP/1.1 connections with bounds on slow and on many clients.
//!
//! `axum::serve` has no knobs for a client that never finishes its headers or
//! trickles its body, and accepts every connection it is offered: a few hundred
//! such clients hold the server's sockets forever. This loop uses hyper's own
//! connection builder and tower-http's timeouts instead of hand-made timers:
//!
//! * **headers**: hyper's `header_read_timeout` closes a connection whose request
//!   headers (or, on a kept-alive connection, the next request's headers) have
//!   not all arrived in time;
//! * **bodies**: tower-http's `RequestBodyTimeoutLayer` fails a body that pauses
//!   longer than the body timeout between two chunks, and `TimeoutLayer` answers
//!   `408` to a request still unanswered after the request time limit plus the
//!   body timeout (a body trickled byte by byte cannot stretch a request past it);
//!   a declared `Content-Length` over the body limit is refused (`413`) before a
//!   byte of the body is read;
//! * **many**: at most `max_connections` are open at once; past it the loop stops
//!   accepting and further clients wait in the kernel's listen queue; one peer
//!   address may hold at most `max_per_peer` of them (more are closed at once), so
//!   one client cannot fill every slot.
//!
//! Connections may be upgraded to WebSocket (subscriptions, `http::ws`): an
//! upgraded socket leaves this loop's connection slot; `http::ws` caps them.
//!
//! Shutdown: stop accepting, then let open connections finish their requests
//! (hyper's graceful shutdown closes idle ones at once), for at most a grace period.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Bounds on connections and on how slowly a client may send.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    /// Open connections one peer address may hold (so that one client cannot
    /// take every slot; behind a reverse proxy every client is the proxy).
    pub max_per_peer: usize,
    /// Time allowed for a request's headers.
    pub header_timeout: Duration,
    /// Longest pause allowed between two chunks of a body.
    pub body_timeout: Duration,
    /// The GraphQL request time limit (the whole request is cut off at this plus
    /// `body_timeout`).
    pub request_timeout: Duration,
    /// The largest body accepted.
    pub max_body_bytes: usize,
}

/// The address of the client a request came from (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIp(pub std::net::IpAddr);

/// How long open connections may take to finish once shutdown began.
const GRACE: Duration = Duration::from_secs(10);

/// The router with the body and whole-request time limits applied.
pub fn bounded(router: Router, limits: &ConnectionLimits) -> Router {
    let max_body = limits.max_body_bytes;
    #[allow(deprecated)] // `TimeoutLayer::new` answers 408, which is what is wanted.
    let whole =
        tower_http::timeout::TimeoutLayer::new(limits.request_timeout + limits.body_timeout);
    router
        .layer(axum::middleware::map_request(
            move |req: Request| async move { refuse_oversized(req, max_body).map_err(|r| *r) },
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(whole)
        // Outermost, so the refusals above (413, 408) carry the security headers too.
        .layer(crate::http::web::security_headers())
}

/// A request announcing a body larger than the limit is answered `413` before
/// its body is read (the body limit alone would wait for the bytes to arrive).
fn refuse_oversized(req: Request, max: usize) -> Result<Request, Box<Response>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > max as u64 => {
            let body = serde_json::json!({ "errors": [{
                "message": format!("the request body is {n} bytes; at most {max} are accepted"),
                "extensions": { "code": "PAYLOAD_TOO_LARGE" } }] });
            let mut r = (StatusCode::PAYLOAD_TOO_LARGE, body.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(Box::new(r))
        }
        _ => Ok(req),
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish (at most [`GRACE`]).
pub async fn run(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let router = bounded(router, &limits);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    // Connections are upgradeable (WebSocket subscriptions), which hyper-util's
    // graceful watcher does not take: each connection watches `stop` and shuts
    // itself down gracefully; `open` ends once every connection task has ended.
    let (stop, _) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let peers: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>> =
        Default::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        {
            let mut held = peers.lock().unwrap_or_else(|e| e.into_inner());
            let n = held.entry(peer).or_insert(0);
            if *n >= limits.max_per_peer {
                // Closed at once: this peer holds its share of the slots already.
                drop(stream);
                continue;
            }
            *n += 1;
        }
        let _ = stream.set_nodelay(true);
        // The peer's address, for the limits applied after the connection's own
        // (an upgraded WebSocket leaves this loop's accounting).
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut r: hyper::Request<hyper::body::Incoming>| {
                r.extensions_mut().insert(PeerIp(peer));
                r
            },
        ));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let peers = peers.clone();
        let mut stopping = stop.subscribe();
        let open = open.clone();
        tokio::spawn(async move {
            let _open = open;
            let mut connection = std::pin::pin!(connection);
            // A client that goes away or times out ends its connection; nothing to report.
            let stop_now = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop_now => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            let mut held = peers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = held.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&peer);
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    stop.send_replace(true);
    drop(open);
    tokio::select! {
        _ = all_closed.recv() => {}
        () = tokio::time::sleep(GRACE) => {
            tracing::warn!("connections still open after the shutdown grace period; closing them");
        }
    }
}
