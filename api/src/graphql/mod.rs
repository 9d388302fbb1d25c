//! The GraphQL schema (DESIGN §5), one folder or file per feature. Only this
//! module knows GraphQL; every resolver calls the application's use cases
//! (`careledger_app`) and maps their answers and errors.
//!
//! * [`casework`] — recipients, need cases, referrals: types, queries, mutations.
//! * [`directory`] — the service directory: `Service`, `services`, its mutations.
//! * [`equity`] — equity-of-access tables and trends.
//! * [`credentials`] — API keys. [`audit`] — the audit trail and stream history.
//! * [`provider`] — the performing organisation's inbox (answers go through the
//!   case-work referral mutations).
//! * [`live`] — subscriptions: live referral and worklist changes.
//! * [`catalogue`] — the needs catalogue. [`node`] — `node(id)`. [`status`] —
//!   where the read models stand.
//! * [`support`] — what they share (context, errors, ids, scalars, paging).
//!
//! Business refusals are `userErrors { field message code }` in the payload;
//! top-level `errors` carry `extensions.code` for bad requests (`BAD_USER_INPUT`),
//! authorisation (`UNAUTHENTICATED`, `FORBIDDEN`), read-your-writes time-outs
//! (`PROJECTION_NOT_CAUGHT_UP`) and faults (`UNAVAILABLE`, `INTERNAL`; the cause is
//! logged, never sent).

pub mod audit;
pub mod casework;
pub mod catalogue;
pub mod credentials;
pub mod directory;
pub mod equity;
pub mod live;
pub mod node;
pub mod provider;
pub mod status;
pub mod support;
pub mod webhooks;

use async_graphql::Schema;
use careledger_app::App;
use std::sync::Arc;

/// Every query: case work, the needs catalogue, the audit trail, where the read
/// models stand, the directory, equity tables, API keys and providers' inboxes.
#[derive(async_graphql::MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    casework::query::CaseQuery,
    catalogue::CatalogueQuery,
    audit::AuditQuery,
    status::StatusQuery,
    directory::query::DirectoryQuery,
    equity::EquityQuery,
    credentials::CredentialQuery,
    provider::ProviderQuery,
    webhooks::WebhookQuery,
);

/// Every mutation: the lifecycle commands, notes on referrals, the directory's,
/// API keys.
#[derive(async_graphql::MergedObject, Default)]
pub struct Mutation(
    casework::mutation::CaseMutation,
    casework::notes::NoteMutation,
    casework::links::LinkMutation,
    directory::mutation::DirectoryMutation,
    credentials::CredentialMutation,
    webhooks::WebhookMutation,
);

/// Every subscription (served over WebSocket): live referral and worklist changes.
pub type Subscription = live::LiveSubscription;

pub type CareLedgerSchema = Schema<Query, Mutation, Subscription>;

/// How deep a query may nest.
pub const MAX_DEPTH: usize = 12;
/// The most fields (weighted by page size for lists) a query may ask for.
pub const MAX_COMPLEXITY: usize = 2_000;

/// The schema over `app`; answer links are made absolute from `links`.
pub fn build_schema(app: Arc<App>, links: casework::types::LinkBase) -> CareLedgerSchema {
    builder(app, links, Arc::new(equity::AggregatePool::new())).finish()
}

/// The schema over `app` twice, sharing everything (the aggregate pool too):
/// validating every rule (`Strict`, async-graphql's default), and validating only
/// what depends on a request's variables beyond their types — complexity, depth
/// (`Fast`). The HTTP edge runs a document on the second only once the first
/// accepted it and the request's variables are known to pass the one
/// variable-dependent rule (`crate::http::validated`).
pub fn build_schemas(
    app: Arc<App>,
    links: casework::types::LinkBase,
) -> (CareLedgerSchema, CareLedgerSchema) {
    let pool = Arc::new(equity::AggregatePool::new());
    let strict = builder(app.clone(), links.clone(), pool.clone()).finish();
    let fast = builder(app, links, pool)
        .validation_mode(async_graphql::ValidationMode::Fast)
        .finish();
    (strict, fast)
}

fn builder(
    app: Arc<App>,
    links: casework::types::LinkBase,
    pool: Arc<equity::AggregatePool>,
) -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(app)
    .data(links)
    .data(pool)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

/// The schema's types as async-graphql registers them (which argument takes
/// which input type), for `crate::http::validated`. async-graphql shows them to
/// an extension only: a schema of the same types with one extension answers one
/// `{ __typename }` and hands them over.
pub async fn schema_env() -> async_graphql::SchemaEnv {
    use async_graphql::extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextValidation,
    };
    use std::sync::Mutex;
    type Slot = Arc<Mutex<Option<async_graphql::SchemaEnv>>>;
    struct Capture(Slot);
    impl ExtensionFactory for Capture {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(Capture(self.0.clone()))
        }
    }
    #[async_graphql::async_trait::async_trait]
    impl Extension for Capture {
        async fn validation(
            &self,
            ctx: &ExtensionContext<'_>,
            next: NextValidation<'_>,
        ) -> Result<async_graphql::ValidationResult, Vec<async_graphql::ServerError>> {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.schema_env.clone());
            next.run(ctx).await
        }
    }
    let slot: Slot = Default::default();
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(Capture(slot.clone()))
    .finish()
    .execute("{ __typename }")
    .await;
    let env = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    env.expect("validation ran")
}

/// The SDL as checked in at `api/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

#[cfg(test)]
pub(crate) mod snapshots;

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in SDL is the code's. When this fails on purpose, update it
    /// with `UPDATE_EXPECT=1 cargo test -p careledger-api the_checked_in_sdl`
    /// (or `cargo run -- print-schema > api/schema.graphql`) and review the diff.
    #[test]
    fn the_checked_in_sdl_matches_the_code() {
        expect_test::expect_file!["../../schema.graphql"].assert_eq(&sdl());
    }
}
