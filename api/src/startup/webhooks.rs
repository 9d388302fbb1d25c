//! The webhook outbox's HTTP client (the adapter behind
//! `careledger_app::webhooks::port::WebhookSender`) and its wiring.
//!
//! One HTTP/1.1 connection per attempt, with hyper's own client connection (no
//! pool, no TLS: `http://` endpoints only, so a deployment that must reach an
//! `https://` receiver puts a TLS-originating proxy beside the server). It never
//! follows a redirect (a 3xx is a failed attempt), and the whole attempt —
//! connecting, sending, the answer's status line — must end within the timeout.

use careledger_app::webhooks::port::{DeliveryFailure, Outgoing, WebhookSender};
use careledger_domain::future::BoxFuture;
use hyper::Uri;
use std::time::Duration;

/// Posts notifications over plain HTTP/1.1.
pub struct HttpSender {
    pub timeout: Duration,
}

impl HttpSender {
    pub const SCHEMES: &'static [&'static str] = &["http"];

    async fn attempt(&self, out: &Outgoing) -> Result<(), DeliveryFailure> {
        let transport = |e: &dyn std::fmt::Display| DeliveryFailure::Transport(e.to_string());
        let uri: Uri = out.endpoint.parse().map_err(|e| transport(&e))?;
        if uri.scheme_str() != Some("http") {
            return Err(DeliveryFailure::Transport(
                "only http:// endpoints are delivered to".into(),
            ));
        }
        let host = uri
            .host()
            .ok_or_else(|| DeliveryFailure::Transport("no host".into()))?;
        let port = uri.port_u16().unwrap_or(80);
        // A bracketed IPv6 host connects without its brackets.
        let connect_host = host.trim_start_matches('[').trim_end_matches(']');
        let stream = tokio::net::TcpStream::connect((connect_host, port))
            .await
            .map_err(|e| transport(&e))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| transport(&e))?;
        let driver = tokio::spawn(connection);
        let authority = uri
            .authority()
            .map_or_else(|| host.to_string(), ToString::to_string);
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), ToString::to_string);
        let mut request = hyper::Request::post(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "CareLedger-Webhooks/1")
            .header(hyper::header::CONTENT_LENGTH, out.body.len());
        for (name, value) in &out.headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(axum::body::Body::from(out.body.clone()))
            .map_err(|e| transport(&e))?;
        let answer = sender.send_request(request).await;
        driver.abort();
        let status = answer.map_err(|e| transport(&e))?.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryFailure::Status(status.as_u16()))
        }
    }
}

impl WebhookSender for HttpSender {
    fn schemes(&self) -> &'static [&'static str] {
        Self::SCHEMES
    }

    fn post<'a>(&'a self, out: &'a Outgoing) -> BoxFuture<'a, Result<(), DeliveryFailure>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.attempt(out))
                .await
                .unwrap_or(Err(DeliveryFailure::Timeout))
        })
    }
}

/// The FHIR interface's absolute address for notifications' `fullUrl`s: the
/// public URL when configured, else the bound address.
pub fn fhir_base(public_url: Option<&str>, addr: std::net::SocketAddr) -> String {
    match public_url {
        Some(u) => format!("{}/fhir", u.trim_end_matches('/')),
        None => format!("http://{addr}/fhir"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers one request with `status` and returns what it read.
    async fn one_answer(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?x=1", l.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            while !String::from_utf8_lossy(&got).contains("{}") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nlocation: http://127.0.0.1:1/\r\n\r\n"
            );
            s.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&got).into_owned()
        });
        (url, task)
    }

    fn out(endpoint: String) -> Outgoing {
        Outgoing {
            endpoint,
            headers: vec![("x-careledger-signature", "sha256=ab".into())],
            body: b"{}".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_2xx_is_delivered_and_anything_else_is_a_failure_never_a_redirect_followed() {
        let sender = HttpSender {
            timeout: Duration::from_secs(5),
        };
        let (url, task) = one_answer("204 No Content").await;
        assert_eq!(sender.post(&out(url)).await, Ok(()));
        let request = task.await.unwrap();
        assert!(
            request.starts_with("POST /hook?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("x-careledger-signature: sha256=ab"));
        for (status, code) in [("307 Temporary Redirect", 307), ("500 Oops", 500)] {
            let (url, task) = one_answer(status).await;
            assert_eq!(
                sender.post(&out(url)).await,
                Err(DeliveryFailure::Status(code))
            );
            task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn no_listener_and_a_silent_one_are_failures() {
        let sender = HttpSender {
            timeout: Duration::from_millis(300),
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = format!("http://{}/", l.local_addr().unwrap());
        assert_eq!(
            sender.post(&out(silent)).await,
            Err(DeliveryFailure::Timeout)
        );
        drop(l);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        assert!(matches!(
            sender.post(&out(url)).await,
            Err(DeliveryFailure::Transport(_))
        ));
    }
}
