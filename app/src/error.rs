//! Why a use case did nothing: one typed error for every use case, converted once
//! at each edge (GraphQL `userErrors` or a top-level error with `extensions.code`;
//! a CLI message; an HTTP status).

use crate::policy::Denied;
use careledger_domain::store::StoreError;
use std::sync::Arc;

/// The cause of a fault, kept for the log (never sent to a caller).
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Why a command or query did nothing (and wrote nothing).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// Bad input or a business rule (a domain refusal): the caller can fix it.
    /// Shown as a `userError`.
    #[error("{message}")]
    Rejected {
        field: Option<&'static str>,
        code: &'static str,
        message: String,
    },
    /// The caller's role may not do this, or the record belongs to a site the
    /// caller's credentials do not cover ([`Denied::message`] says which).
    #[error("{}", .0.message())]
    Forbidden(Denied),
    /// A read model has not yet reached a position the answer depends on (the
    /// caller's `minPosition`, or the log's head for a ranking); retry shortly.
    #[error("{what} reached position {reached} but not {wanted}")]
    Lagging {
        /// Which read model, for people: e.g. "the directory's read model".
        what: &'static str,
        reached: u64,
        wanted: u64,
    },
    /// Another writer got there first: the caller's expected version is stale, its
    /// idempotency key names another command, or the record kept changing. The
    /// caller can reload and retry. Shown as a `userError` too.
    #[error("{message}")]
    Conflict {
        field: Option<&'static str>,
        code: &'static str,
        message: String,
    },
    /// A store or the key vault cannot be reached; retrying later may work.
    #[error("unavailable: {0}")]
    Unavailable(#[source] Source),
    /// A fault of ours. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(#[source] Source),
}

/// A message as an error source (for causes that are only text).
#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl AppError {
    pub fn rejected(
        field: Option<&'static str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AppError::Rejected {
            field,
            code,
            message: message.into(),
        }
    }

    pub fn conflict(
        field: Option<&'static str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AppError::Conflict {
            field,
            code,
            message: message.into(),
        }
    }

    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Unavailable(Arc::new(source))
    }

    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Arc::new(source))
    }

    /// A fault described only by text.
    pub fn internal_msg(message: impl Into<String>) -> Self {
        AppError::Internal(Arc::new(Message(message.into())))
    }

    /// Unavailability described only by text.
    pub fn unavailable_msg(message: impl Into<String>) -> Self {
        AppError::Unavailable(Arc::new(Message(message.into())))
    }

    /// The stable code of a refusal or conflict (`None` for the others).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            AppError::Rejected { code, .. } | AppError::Conflict { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Unavailable { .. } => AppError::unavailable(e),
            other => AppError::internal(other),
        }
    }
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        AppError::Forbidden(d)
    }
}

impl From<careledger_projections::runner::NotCaughtUp> for AppError {
    fn from(e: careledger_projections::runner::NotCaughtUp) -> Self {
        AppError::Lagging {
            what: "the read models",
            reached: e.reached.raw(),
            wanted: e.wanted.raw(),
        }
    }
}
