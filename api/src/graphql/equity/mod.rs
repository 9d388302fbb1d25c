//! Equity-of-access tables over GraphQL (DESIGN §4): each resolver maps its
//! arguments to a request of `careledger_app::equity`, waits for read-your-writes
//! between the use case's check and its computation, and maps the released table
//! ([`types`]) or the error ([`app_error`]). Only aggregates leave, with
//! disclosure control applied by the application for every role.

pub mod types;

use crate::graphql::support::scalars::Position;
use crate::graphql::support::{Deadline, access, app, app_error, consistent};
use async_graphql::{Context, Object, Result};
pub use careledger_app::equity::AggregatePool;
use careledger_app::equity::{TableRequest, TrendRequest, TwoWayRequest};
use std::time::Instant;
use types::{
    EquityFilterInput, EquityOutcome, EquityTable, EquityTrendPoint, EquityTwoWay, ReferenceKind,
    Stratifier,
};

#[derive(Default)]
pub struct EquityQuery;

/// What an equity table weighs in a document's complexity (DESIGN §6: no request
/// may out-rank the server). Each is tens of milliseconds of CPU over a large cube;
/// with [`crate::graphql::MAX_COMPLEXITY`] at 2,000 a document holds at most 19 one-way
/// tables, or 9 two-way tables or trends — a second or so of work, not minutes.
pub const TABLE_COST: usize = 100;
pub const TWO_WAY_COST: usize = 200;
pub const TREND_COST: usize = 200;

/// The request's deadline (set by the HTTP edge) and the server's aggregate pool.
fn bounds<'a>(ctx: &Context<'a>) -> (Option<&'a AggregatePool>, Option<Instant>) {
    (
        ctx.data_opt::<std::sync::Arc<AggregatePool>>()
            .map(|p| &**p),
        ctx.data_opt::<Deadline>().map(|d| d.0),
    )
}

#[Object]
impl EquityQuery {
    /// Equity of access by one stratifier: per group the rate with its interval,
    /// compared with a reference group; a summary; small cells suppressed.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "TABLE_COST + child_complexity")]
    async fn equity(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        by: Stratifier,
        outcome: EquityOutcome,
        #[graphql(default_with = "ReferenceKind::Largest")] reference: ReferenceKind,
        reference_group: Option<String>,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<EquityTable> {
        let app = app(ctx);
        let request = TableRequest {
            filter: EquityFilterInput::into_filter(filter),
            by: by.into(),
            outcome: outcome.into(),
            reference: reference.into(),
            reference_group,
            k,
        };
        let checked = app
            .check_equity_table(access(ctx)?, request)
            .map_err(app_error)?;
        consistent(ctx, min_position).await?;
        let (pool, deadline) = bounds(ctx);
        let table = app.equity_table(checked, pool, deadline).await;
        Ok(table.map_err(app_error)?.into())
    }

    /// A two-way table (stratifier × stratifier) of a rate outcome, with small
    /// cells suppressed and complementary suppression along rows and columns.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "TWO_WAY_COST + child_complexity")]
    async fn equity_two_way(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        rows: Stratifier,
        columns: Stratifier,
        outcome: EquityOutcome,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<EquityTwoWay> {
        let app = app(ctx);
        let request = TwoWayRequest {
            filter: EquityFilterInput::into_filter(filter),
            rows: rows.into(),
            columns: columns.into(),
            outcome: outcome.into(),
            k,
        };
        let checked = app
            .check_equity_two_way(access(ctx)?, request)
            .map_err(app_error)?;
        consistent(ctx, min_position).await?;
        let (pool, deadline) = bounds(ctx);
        let table = app.equity_two_way(checked, pool, deadline).await;
        Ok(table.map_err(app_error)?.into())
    }

    /// An outcome month by month for each group, each month suppressed on its own.
    #[graphql(complexity = "TREND_COST + child_complexity")]
    async fn equity_trend(
        &self,
        ctx: &Context<'_>,
        filter: Option<EquityFilterInput>,
        by: Stratifier,
        outcome: EquityOutcome,
        k: Option<i32>,
        min_position: Option<Position>,
    ) -> Result<Vec<EquityTrendPoint>> {
        let app = app(ctx);
        let request = TrendRequest {
            filter: EquityFilterInput::into_filter(filter),
            by: by.into(),
            outcome: outcome.into(),
            k,
        };
        let checked = app
            .check_equity_trend(access(ctx)?, request)
            .map_err(app_error)?;
        consistent(ctx, min_position).await?;
        let (pool, deadline) = bounds(ctx);
        let points = app.equity_trend(checked, pool, deadline).await;
        Ok(points
            .map_err(app_error)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}
