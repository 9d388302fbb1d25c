//! The port a webhook notification leaves through: an HTTP client the edge
//! provides (`api`'s adapter). It posts, does not follow redirects, and says
//! whether the receiver took the notification (a 2xx answer).

use careledger_domain::future::BoxFuture;

/// One HTTP POST to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub endpoint: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Why a delivery did not succeed. Says nothing of the body or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryFailure {
    /// The receiver answered, but not with 2xx (a redirect included: none is followed).
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    /// No answer within the time allowed.
    #[error("the receiver did not answer in time")]
    Timeout,
    /// No connection, or it broke.
    #[error("transport: {0}")]
    Transport(String),
}

/// Delivers webhook notifications.
pub trait WebhookSender: Send + Sync + 'static {
    /// The URL schemes it delivers to (e.g. `["http"]`).
    fn schemes(&self) -> &'static [&'static str];

    /// POSTs `out`; `Ok` when the receiver answered 2xx.
    ///
    /// # Errors
    /// Any other answer, a timeout or a transport failure.
    fn post<'a>(&'a self, out: &'a Outgoing) -> BoxFuture<'a, Result<(), DeliveryFailure>>;
}
