//! An answer given before the request's body was read closes the connection.
//!
//! Some answers come before the body is read: a `POST` to a read-only FHIR
//! endpoint (`405`), to a path no route serves (`404`), a body announced over the
//! limit (`413`). HTTP/1.1 cannot carry the next request on that connection until
//! the unread body has gone by, so hyper closes it after the answer, without
//! saying so. A keep-alive client (a connection pool) that has the answer puts the
//! connection back in its pool and sends its next request into a socket the server
//! is closing: "peer disconnected", at random, on a request that did nothing wrong
//! (measured: one e2e test in CI, `fhir::bad_requests_…`, whose next request after
//! a refused `POST` failed so).
//!
//! [`CloseUnreadLayer`] tells the client: when the body the request announced was not
//! read to its end by the time the answer is ready, the answer carries
//! `Connection: close` (RFC 9112 §9.6), so the client does not reuse the
//! connection. A request whose body was read keeps its connection.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// The middleware (see the module documentation), as a layer: a tower service
/// calling its inner service directly, where `axum::middleware::from_fn` clones
/// the whole inner stack for every request (a few per cent of a small request).
#[derive(Clone, Copy, Debug, Default)]
pub struct CloseUnreadLayer;

impl<S> tower::Layer<S> for CloseUnreadLayer {
    type Service = CloseUnread<S>;
    fn layer(&self, inner: S) -> CloseUnread<S> {
        CloseUnread { inner }
    }
}

#[derive(Clone, Debug)]
pub struct CloseUnread<S> {
    inner: S,
}

type Answer<E> = Pin<Box<dyn std::future::Future<Output = Result<Response, E>> + Send>>;

impl<S> tower::Service<Request> for CloseUnread<S>
where
    S: tower::Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !announces_body(request.headers()) {
            return Box::pin(self.inner.call(request));
        }
        let read = Arc::new(AtomicBool::new(false));
        let (parts, body) = request.into_parts();
        let body = Body::new(Tracked {
            inner: body,
            read: read.clone(),
        });
        let answer = self.inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let mut response = answer.await?;
            if !read.load(Ordering::Acquire) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}

/// Whether the request announces a body: a `Content-Length` other than 0, or a
/// `Transfer-Encoding` (chunked).
fn announces_body(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
}

/// The request body, noting when it has been read to its end.
struct Tracked {
    inner: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::post;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/reads",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route("/ignores", post(|| async { "refused" }))
            .layer(CloseUnreadLayer)
    }

    async fn connection(path: &str, body: &'static str, length: Option<&str>) -> Option<String> {
        let mut request = Request::post(path);
        if let Some(length) = length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        let response = app()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        assert!(response.status().is_success());
        response
            .headers()
            .get(header::CONNECTION)
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[tokio::test]
    async fn an_answer_that_left_the_body_unread_closes_the_connection() {
        assert_eq!(
            connection("/ignores", "{}", Some("2")).await.as_deref(),
            Some("close")
        );
        // Read to its end: the connection stays open for the next request.
        assert_eq!(connection("/reads", "{}", Some("2")).await, None);
        // No body announced: nothing to read, nothing to close.
        assert_eq!(connection("/ignores", "", Some("0")).await, None);
        assert_eq!(connection("/ignores", "", None).await, None);
    }
}
