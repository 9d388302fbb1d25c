//! GraphQL subscriptions over WebSocket: `GET /graphql` upgraded with the
//! `graphql-transport-ws` subprotocol (the `graphql-ws` npm package's protocol,
//! <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>).
//!
//! async-graphql executes the operations ([`async_graphql::http::WebSocket`]);
//! this loop owns the socket and what the protocol leaves to the server, where
//! the library's own handling differs from the protocol or from our rules:
//!
//! * **authentication at `connection_init`**, with the credentials and rules of
//!   GraphQL over HTTP: the init payload's `authorization` (`"Bearer <token>"` or
//!   an API key), else the upgrade request's `Authorization` header. A refused
//!   credential closes the socket `4403`; no init within 10 s closes it `4408`; a
//!   `subscribe` before the init `4401`; a second init `4429`; a malformed
//!   message `4400`; a `subscribe` reusing the id of a running one `4409`.
//! * **the credential is checked again every 10 s**: once it expires (or the API
//!   key is revoked), the socket is closed `4403` and the client must sign in
//!   again; a subscription never outlives its credential by more than that.
//! * **every operation passes the HTTP edge's guards** (nesting, size, fragment
//!   expansion) and the credential's rate limit; only subscriptions are served
//!   (queries and mutations go with POST, where the in-flight cap, the deadline
//!   and the per-field rate apply: `NOT_A_SUBSCRIPTION`); at most
//!   [`MAX_OPERATIONS`] run per socket. A refused operation gets an `error`
//!   message for its id, with `extensions.code`, and the socket stays open.
//! * **bounded**: messages over 64 KiB are refused by the WebSocket layer; open
//!   sockets are capped (`--max-websockets`; past it the upgrade is answered
//!   `503`), and one address may hold `--max-connections-per-peer` of them; a
//!   client that stops reading makes its subscriptions stop being polled (TCP
//!   back-pressure) — the server keeps nothing for it — and one that reads
//!   nothing for 30 s while a write waits is dropped (it resumes with `after`);
//!   the credential re-check and shutdown go before deliveries.
//! * **shutdown** closes every socket with `1001` (clients reconnect with
//!   `after`).
//!
//! * **the shared path**: a subscription of one `referralUpdated` or
//!   `worklistChanged` field selecting plain fields
//!   ([`crate::graphql::live::shared`]) is not executed per change: its follower
//!   runs here and each change's rendering, made once for every subscriber of the
//!   same shape, is framed for the socket. The same messages, in the same
//!   order, as the executor's; any other document, or one whose arguments or
//!   authorisation fail, goes to the executor.
//!
//! Nothing a client sends is logged.

mod shared;

use super::HttpState;
use super::graphql::authenticate;
use crate::graphql::live::shared::{Shared, recognise_request};
use crate::graphql::support::lang_from_accept_language;
use async_graphql::futures_util::{FutureExt, SinkExt, StreamExt, stream};
use async_graphql::http::{
    ClientMessage, WebSocket as GraphQLSocket, WebSocketProtocols as Protocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use careledger_domain::values::Lang;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// The one subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client has to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the socket's credential is checked again.
pub const RECHECK: Duration = Duration::from_secs(10);
/// Operations one socket may run at once.
pub const MAX_OPERATIONS: usize = 16;
/// How long a write may wait for a client that does not read; then the
/// socket is dropped (it resumes with `after` when it reconnects).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages written per flush at most.
const MAX_BATCH: usize = 64;
/// The socket's read buffer (a larger message is read in several pieces).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// The largest message (and frame) accepted.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The sockets open now, and the signal that closes them at shutdown.
pub struct LiveSockets {
    slots: Arc<Semaphore>,
    max: usize,
    stopping: watch::Sender<bool>,
    /// Open sockets by client address, and how many one address may hold.
    peers: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    max_per_peer: usize,
}

/// One address's share of the sockets, given back when the socket ends.
struct PeerShare {
    peers: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    peer: Option<IpAddr>,
}

impl Drop for PeerShare {
    fn drop(&mut self) {
        if let Some(p) = self.peer {
            let mut m = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = m.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&p);
                }
            }
        }
    }
}

impl LiveSockets {
    /// At most `max` sockets open at once, `max_per_peer` from one address.
    pub fn new(max: usize, max_per_peer: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max.max(1))),
            max: max.max(1),
            stopping: watch::channel(false).0,
            peers: Default::default(),
            max_per_peer: max_per_peer.max(1),
        }
    }

    /// A share for `peer`, unless it holds its part already.
    fn share(&self, peer: Option<IpAddr>) -> Option<PeerShare> {
        if let Some(p) = peer {
            let mut m = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            let n = m.entry(p).or_insert(0);
            if *n >= self.max_per_peer {
                return None;
            }
            *n += 1;
        }
        Some(PeerShare {
            peers: self.peers.clone(),
            peer,
        })
    }

    /// Closes every open socket (`1001`) and refuses new ones.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Waits until every socket has closed (after [`Self::stop`]), at most `within`.
    pub async fn closed(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.slots.available_permits() < self.max && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    let body =
        serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The bearer credential of an `Authorization` value (`Bearer x` or an API key
/// given the same way).
fn bearer(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .unwrap_or(v)
        .trim()
}

/// Answers a WebSocket upgrade of `GET /graphql` from `peer`.
pub fn upgrade(
    s: Arc<HttpState>,
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return refusal(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_PROTOCOL",
            "subscribe over WebSocket with the graphql-transport-ws subprotocol",
        );
    }
    if *s.live.stopping.borrow() {
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "the server is shutting down; reconnect to another replica or later",
        );
    }
    let Some(share) = s.live.share(peer) else {
        let mut r = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_WEBSOCKETS",
            "this address holds as many subscription sockets as one address may; close one first",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
        return r;
    };
    let Ok(slot) = s.live.slots.clone().try_acquire_owned() else {
        let mut r = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_WEBSOCKETS",
            "the server holds as many subscription sockets as it is configured for; retry later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
        return r;
    };
    let header_credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(|h| bearer(h).to_string());
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .map(lang_from_accept_language)
        .unwrap_or(Lang::En);
    ws.protocols([PROTOCOL])
        // tungstenite zero-fills its whole read buffer before every read, also
        // one that finds nothing (128 KiB by default): with many sockets that
        // was a tenth of the server's time under fan-out. Clients send little.
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            serve(s, socket, header_credential, lang).await;
            drop((slot, share));
        })
}

type Sink = async_graphql::futures_util::stream::SplitSink<WebSocket, Message>;

/// A close frame's reason holds at most 123 bytes.
const MAX_REASON: usize = 123;

async fn close(sink: &mut Sink, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    })
    .await;
}

/// An `error` message refusing operation `id`.
fn operation_error(id: &str, code: &str, message: &str) -> Message {
    let m = serde_json::json!({ "id": id, "type": "error",
        "payload": [{ "message": message, "extensions": { "code": code } }] });
    Message::Text(m.to_string().into())
}

/// The credential a `connection_init` payload carries.
fn init_credential(payload: Option<&serde_json::Value>) -> Option<String> {
    let p = payload?.as_object()?;
    ["authorization", "Authorization"]
        .iter()
        .find_map(|k| p.get(*k)?.as_str())
        .map(|v| bearer(v).to_string())
}

/// What a client message asks of the loop.
enum Step {
    /// Hand it to the executor.
    Forward(Box<ClientMessage>),
    /// Run subscription `id` on the shared path, else (when it may not follow)
    /// hand it to the executor.
    Shared(String, Box<Shared>, Box<ClientMessage>),
    /// Stop subscription `id`.
    Stop(String),
    /// Answer this on the socket and go on.
    Answer(Message),
    /// Close with this code and reason.
    Close(u16, String),
    /// Nothing to do.
    Skip,
}

async fn serve(
    s: Arc<HttpState>,
    socket: WebSocket,
    header_credential: Option<String>,
    lang: Lang,
) {
    let (mut sink, mut source) = socket.split();
    // 1. connection_init, in time, first.
    let first = tokio::time::timeout(INIT_TIMEOUT, next_text(&mut source)).await;
    let payload = match first {
        Err(_) => return close(&mut sink, 4408, "Connection initialisation timeout").await,
        Ok(None) => return,
        Ok(Some(bytes)) => match ClientMessage::from_bytes(bytes) {
            Ok(ClientMessage::ConnectionInit { payload }) => payload,
            Ok(ClientMessage::Start { .. }) => return close(&mut sink, 4401, "Unauthorized").await,
            Ok(_) | Err(_) => {
                return close(&mut sink, 4400, "expected connection_init first").await;
            }
        },
    };
    let credential = init_credential(payload.as_ref()).or(header_credential);
    let access = match authenticate(&s, credential.as_deref()) {
        Ok(a) => a,
        Err(e) => return close(&mut sink, 4403, &format!("Forbidden: {e}")).await,
    };
    let limit_key = format!("{}:{}", access.actor.role.name(), access.actor.subject);

    // 2. The executor, fed through a channel so that every message is checked here first.
    // The executor takes what is queued each time it is polled (first in the loop
    // below), so the queue stays short; a client outrunning it is closed.
    let (to_executor, from_loop) = mpsc::channel::<ClientMessage>(64);
    let input = Box::pin(stream::unfold(from_loop, |mut rx| async move {
        rx.recv().await.map(|m| (Ok(m), rx))
    }));
    let mut data = async_graphql::Data::default();
    data.insert(access.clone());
    data.insert(lang);
    let mut executor =
        GraphQLSocket::from_message_stream(s.schema.clone(), input, Protocols::GraphQLWS)
            .connection_data(data);
    if to_executor
        .try_send(ClientMessage::ConnectionInit { payload: None })
        .is_err()
    {
        return;
    }
    let mut running: HashSet<String> = HashSet::new();
    let mut shared = shared::SharedOps::default();
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    let mut stopping = s.live.stopping.subscribe();
    let mut stop_now = std::pin::pin!(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    });
    loop {
        tokio::select! {
            biased;
            _ = recheck.tick() => {
                if authenticate(&s, credential.as_deref()).is_err() {
                    close(&mut sink, 4403, "Forbidden: the credential expired or was revoked; connect again").await;
                    break;
                }
            }
            () = &mut stop_now => {
                close(&mut sink, 1001, "the server is shutting down").await;
                break;
            }
            out = executor.next() => {
                // What else is ready goes out with it, in one flush (a write per
                // message cost a system call each under fan-out).
                let mut batch = vec![out];
                while batch.len() < MAX_BATCH {
                    match executor.next().now_or_never() {
                        Some(more) => batch.push(more),
                        None => break,
                    }
                }
                let mut end = None;
                for out in batch {
                    match out {
                        Some(WsMessage::Text(text)) => {
                            if let Some(id) = completed_id(&text) {
                                running.remove(&id);
                            }
                            if !written(tokio::time::timeout(WRITE_TIMEOUT, sink.feed(Message::Text(text.into()))).await) {
                                end = Some(None);
                                break;
                            }
                        }
                        Some(WsMessage::Close(code, reason)) => {
                            end = Some(Some((code, reason)));
                            break;
                        }
                        None => {
                            end = Some(None);
                            break;
                        }
                    }
                }
                if !written(tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await) {
                    break;
                }
                match end {
                    Some(Some((code, reason))) => {
                        close(&mut sink, code, &reason).await;
                        break;
                    }
                    Some(None) => break,
                    None => {}
                }
            }
            out = std::future::poll_fn(|cx| shared.poll_next(cx)) => {
                // As the executor's: what else is ready goes out in one flush.
                let mut batch = vec![out];
                while batch.len() < MAX_BATCH {
                    match std::future::poll_fn(|cx| shared.poll_next(cx)).now_or_never() {
                        Some(more) => batch.push(more),
                        None => break,
                    }
                }
                let mut ok = true;
                for out in batch {
                    let text = match out {
                        shared::Out::Text(t) => t,
                        shared::Out::Completed(id, t) => {
                            running.remove(&id);
                            t
                        }
                    };
                    if !written(tokio::time::timeout(WRITE_TIMEOUT, sink.feed(Message::Text(text.into()))).await) {
                        ok = false;
                        break;
                    }
                }
                if !ok || !written(tokio::time::timeout(WRITE_TIMEOUT, sink.flush()).await) {
                    break;
                }
            }
            incoming = source.next() => {
                let bytes = match incoming {
                    Some(Ok(Message::Text(t))) => axum::body::Bytes::from(t),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => {
                        // Completes the closing handshake (echoes the client's code).
                        let _ = sink.close().await;
                        break;
                    }
                    Some(Err(_)) | None => break,
                };
                let step = match check(&s, &limit_key, &mut running, &bytes) {
                    Step::Shared(id, plan, start) => {
                        let Shared { shape, topic, after } = *plan;
                        match s.app.follow(&access, topic, after) {
                            Ok(follower) => {
                                shared.start(id, shape, follower);
                                Step::Skip
                            }
                            // Refused: the executor answers as it always does.
                            Err(_) => Step::Forward(start),
                        }
                    }
                    Step::Stop(id) if shared.stop(&id) => {
                        Step::Answer(Message::Text(shared::complete(&id).into()))
                    }
                    Step::Stop(id) => Step::Forward(Box::new(ClientMessage::Stop { id })),
                    step => step,
                };
                match step {
                    Step::Forward(m) => {
                        if to_executor.try_send(*m).is_err() {
                            close(&mut sink, 1008, "too many messages at once").await;
                            break;
                        }
                    }
                    Step::Shared(..) | Step::Stop(_) => {}
                    Step::Answer(m) => {
                        if !written(tokio::time::timeout(WRITE_TIMEOUT, sink.send(m)).await) {
                            break;
                        }
                    }
                    Step::Close(code, reason) => {
                        close(&mut sink, code, &reason).await;
                        break;
                    }
                    Step::Skip => {}
                }
            }
        }
    }
}

/// Whether a write went out in time.
fn written<E>(r: Result<Result<(), E>, tokio::time::error::Elapsed>) -> bool {
    matches!(r, Ok(Ok(())))
}

/// The next text (or binary) message's bytes; `None` once the client is gone.
async fn next_text(
    source: &mut async_graphql::futures_util::stream::SplitStream<WebSocket>,
) -> Option<axum::body::Bytes> {
    loop {
        match source.next().await? {
            Ok(Message::Text(t)) => return Some(axum::body::Bytes::from(t)),
            Ok(Message::Binary(b)) => return Some(b),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

/// The id of an operation the executor finished (`complete`), if `text` says so.
fn completed_id(text: &str) -> Option<String> {
    if !text.contains("\"complete\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    (v.get("type")?.as_str()? == "complete").then(|| v.get("id")?.as_str().map(str::to_string))?
}

/// What to do with one message after the init.
fn check(s: &HttpState, limit_key: &str, running: &mut HashSet<String>, bytes: &[u8]) -> Step {
    if crate::http::guard::check_json("the message", bytes).is_err() {
        return Step::Close(4400, "Invalid message received".into());
    }
    let message = match ClientMessage::from_bytes(bytes) {
        Ok(m) => m,
        Err(_) => return Step::Close(4400, "Invalid message received".into()),
    };
    match message {
        ClientMessage::ConnectionInit { .. } => {
            Step::Close(4429, "Too many initialisation requests".into())
        }
        ClientMessage::Start { id, mut payload } => {
            if running.contains(&id) {
                return Step::Close(4409, format!("Subscriber for {id} already exists"));
            }
            if running.len() >= MAX_OPERATIONS {
                return Step::Answer(operation_error(
                    &id,
                    "TOO_MANY_OPERATIONS",
                    &format!(
                        "a socket runs at most {MAX_OPERATIONS} operations at once; complete one first"
                    ),
                ));
            }
            if let Err(r) = crate::http::guard::check_document(&payload.query) {
                return Step::Answer(operation_error(&id, r.code(), &r.to_string()));
            }
            s.documents.prepare(&mut payload);
            let name = payload.operation_name.clone();
            if let Ok(doc) = payload.parsed_query() {
                if let Err(r) = crate::http::guard::check_expansion(doc) {
                    return Step::Answer(operation_error(&id, r.code(), &r.to_string()));
                }
                // Queries and mutations go over HTTP, where the in-flight cap, the
                // request deadline and the per-field rate apply.
                if !crate::http::guard::is_subscription(doc, name.as_deref()) {
                    return Step::Answer(operation_error(
                        &id,
                        "NOT_A_SUBSCRIPTION",
                        "only subscriptions are served here; send queries and mutations with POST /graphql",
                    ));
                }
            }
            if s.limiter.take(limit_key, 1).is_err() {
                return Step::Answer(operation_error(
                    &id,
                    "RATE_LIMITED",
                    "this credential made more requests per second than it may; retry later",
                ));
            }
            running.insert(id.clone());
            let plan = recognise_request(&mut payload);
            let start = Box::new(ClientMessage::Start {
                id: id.clone(),
                payload,
            });
            match plan {
                Some(plan) => Step::Shared(id, Box::new(plan), start),
                None => Step::Forward(start),
            }
        }
        ClientMessage::Stop { id } => {
            running.remove(&id);
            Step::Stop(id)
        }
        ClientMessage::Ping { payload } => Step::Forward(Box::new(ClientMessage::Ping { payload })),
        ClientMessage::Pong { .. } => Step::Skip,
        ClientMessage::ConnectionTerminate => Step::Close(1000, "terminated".into()),
    }
}

#[cfg(test)]
mod tests;
