//! What every feature's schema shares: the caller and the application from the
//! request's context, errors with `extensions.code`, the command options and
//! how a use case's [`AppError`] becomes a `userError` or a top-level error,
//! read-your-writes, ids, scalars and paging.

pub mod commands;
pub mod ids;
pub mod paging;
pub mod scalars;

use async_graphql::{Context, ErrorExtensions};
use careledger_app::audit::LogUnreadable;
use careledger_app::personal::NotOpened;
use careledger_app::policy::{Action, Denied};
use careledger_app::{Access, App, AppError};
use careledger_domain::personal::VaultError;
use careledger_domain::store::Position as StorePosition;
use careledger_domain::values::Lang;
use scalars::Position;
use std::sync::Arc;
use std::time::Instant;

/// The moment a request's time runs out (set by the HTTP edge; aggregate work
/// that has not started by then never starts).
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub Instant);

/// The largest `first`/`last`.
pub const MAX_PAGE: i32 = 100;

/// A top-level error with `extensions.code`.
pub fn error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn access<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Access> {
    ctx.data_opt::<Access>().ok_or_else(|| {
        error(
            "UNAUTHENTICATED",
            "this request carries no valid bearer token",
        )
    })
}

/// The caller, if their role may do `action` at all (else `FORBIDDEN`).
pub fn allow<'a>(ctx: &Context<'a>, action: Action) -> async_graphql::Result<&'a Access> {
    let a = access(ctx)?;
    a.check(action).map_err(denied)?;
    Ok(a)
}

/// A refusal as a top-level `FORBIDDEN` error.
pub fn denied(d: Denied) -> async_graphql::Error {
    error("FORBIDDEN", d.message())
}

pub fn app<'a>(ctx: &Context<'a>) -> &'a Arc<App> {
    ctx.data_unchecked::<Arc<App>>()
}

/// The request's language (from `Accept-Language`), English by default.
pub fn lang_of(ctx: &Context<'_>) -> Lang {
    ctx.data_opt::<Lang>().copied().unwrap_or(Lang::En)
}

/// Picks the caller's language from an `Accept-Language` header: the supported
/// language with the highest weight, English when none is supported.
pub fn lang_from_accept_language(header: &str) -> Lang {
    let mut best: Option<(f32, usize, Lang)> = None;
    for (i, part) in header.split(',').enumerate() {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or("").trim();
        let q = bits
            .find_map(|b| {
                b.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
        if let Some(l) = Lang::from_tag(&primary)
            && q > 0.0
            && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi))
        {
            best = Some((q, i, l));
        }
    }
    best.map_or(Lang::En, |(_, _, l)| l)
}

pub fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    error("BAD_USER_INPUT", message)
}

/// Waits until the read models include `min` (read-your-writes), at most the
/// configured time; then `PROJECTION_NOT_CAUGHT_UP`.
pub async fn consistent(ctx: &Context<'_>, min: Option<Position>) -> async_graphql::Result<()> {
    let Some(min) = min else { return Ok(()) };
    let app = app(ctx);
    app.projector
        .wait_for(StorePosition::new(min.0), app.settings.consistency_timeout)
        .await
        .map_err(|e| {
            error(
                "PROJECTION_NOT_CAUGHT_UP",
                format!(
                    "the read models reached position {} but not {} within {} ms; retry shortly",
                    e.reached,
                    e.wanted,
                    app.settings.consistency_timeout.as_millis()
                ),
            )
        })
}

/// A use case's failure as a top-level error (refusals and conflicts included:
/// for queries, which have no `userErrors`).
pub fn app_error(e: AppError) -> async_graphql::Error {
    match e {
        AppError::Rejected { code, message, .. } | AppError::Conflict { code, message, .. } => {
            error(code, message)
        }
        AppError::Forbidden(d) => denied(d),
        AppError::Lagging {
            what,
            reached,
            wanted,
        } => error(
            "PROJECTION_NOT_CAUGHT_UP",
            format!("{what} reached position {reached} but not {wanted}; retry shortly"),
        ),
        AppError::Unavailable(source) => {
            tracing::error!(error = ?source, "unavailable");
            if source.downcast_ref::<NotOpened>().is_some() {
                error("UNAVAILABLE", "the personal data could not be opened")
            } else if source.downcast_ref::<LogUnreadable>().is_some() {
                error("UNAVAILABLE", "the event store cannot be read right now")
            } else if source.downcast_ref::<VaultError>().is_some() {
                error("UNAVAILABLE", "the key vault is unavailable; retry later")
            } else {
                error("UNAVAILABLE", "the event store is unavailable; retry later")
            }
        }
        AppError::Internal(source) => {
            tracing::error!(error = ?source, "internal error");
            if source.downcast_ref::<NotOpened>().is_some() {
                error("INTERNAL", "the personal data could not be opened")
            } else {
                error("INTERNAL", "internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            lang_from_accept_language("nl-BE,nl;q=0.9,en;q=0.8"),
            Lang::Nl
        );
        assert_eq!(
            lang_from_accept_language("es, de;q=0.5, fr;q=0.7"),
            Lang::Fr
        );
        assert_eq!(lang_from_accept_language("es, it"), Lang::En);
        assert_eq!(lang_from_accept_language(""), Lang::En);
        assert_eq!(lang_from_accept_language("de;q=0, nl;q=0.1"), Lang::Nl);
    }
}
