//! The GraphQL schema (DESIGN §5). Only this module knows GraphQL.
//!
//! * [`types`] — objects, enums, scalars; [`ids`] — opaque global ids.
//! * [`query`] — reads, all from the projections (but `history`, which is the log).
//! * [`directory`] — the service directory: `Service`, `services`, its mutations.
//! * [`equity`] — equity-of-access tables and trends from the equity cube.
//! * [`mutation`] — one mutation per lifecycle command, each through
//!   [`App::execute`](crate::app::App::execute).
//!
//! Business refusals are `userErrors { field message code }` in the payload;
//! top-level `errors` carry `extensions.code` for bad requests (`BAD_USER_INPUT`),
//! authorisation (`UNAUTHENTICATED`, `FORBIDDEN`), read-your-writes time-outs
//! (`PROJECTION_NOT_CAUGHT_UP`) and faults (`UNAVAILABLE`, `INTERNAL`; the cause is
//! logged, never sent).

pub mod audit;
pub mod credentials;
pub mod directory;
pub mod equity;
pub mod ids;
pub mod mutation;
pub mod query;
pub mod types;

use crate::app::App;
use crate::auth::Access;
use crate::authz::{Action, Denied};
use async_graphql::{Context, EmptySubscription, ErrorExtensions, Schema};
use careledger_domain::values::Lang;
use std::sync::Arc;

/// Every query: need cases and recipients, and the directory.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    query::CaseQuery,
    directory::DirectoryQuery,
    equity::EquityQuery,
    credentials::CredentialQuery,
);

/// Every mutation: the lifecycle commands, the directory's, API keys.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    mutation::CaseMutation,
    directory::DirectoryMutation,
    credentials::CredentialMutation,
);

pub type CareLedgerSchema = Schema<Query, Mutation, EmptySubscription>;

/// How deep a query may nest.
pub const MAX_DEPTH: usize = 12;
/// The most fields (weighted by page size for lists) a query may ask for.
pub const MAX_COMPLEXITY: usize = 2_000;
/// The largest `first`/`last`.
pub const MAX_PAGE: i32 = 100;

pub fn build_schema(app: Arc<App>) -> CareLedgerSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(app)
        .data(equity::AggregatePool::new())
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The SDL as checked in at `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

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

    /// The checked-in SDL is the code's: regenerate with
    /// `cargo run -- print-schema > api/schema.graphql` when this fails.
    #[test]
    fn the_checked_in_sdl_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        let current = sdl();
        if std::env::var_os("CARELEDGER_UPDATE_SDL").is_some() {
            std::fs::write(path, &current).unwrap();
            return;
        }
        assert!(
            on_disk == current,
            "api/schema.graphql is out of date: run `CARELEDGER_UPDATE_SDL=1 cargo test -p careledger-api the_checked_in_sdl` or `cargo run -- print-schema > api/schema.graphql`"
        );
    }
}
