//! Where the read models stand against the log.

use super::support::scalars::Position;
use super::support::{allow, app, error};
use async_graphql::{Context, Object, Result, SimpleObject};
use careledger_app::policy::Action;

/// Where the read models stand.
#[derive(SimpleObject)]
pub struct ProjectionStatus {
    /// Every event up to this position is visible to queries.
    pub position: Position,
    /// The last committed event.
    pub head: Position,
}

#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// Where the read models stand against the log.
    async fn projections(&self, ctx: &Context<'_>) -> Result<ProjectionStatus> {
        allow(ctx, Action::ReadProjectionStatus)?;
        let app = app(ctx);
        let head = app
            .store
            .head()
            .await
            .map_err(|_| error("UNAVAILABLE", "the event store cannot be read right now"))?;
        Ok(ProjectionStatus {
            position: Position(app.projector.position().raw()),
            head: Position(head.raw()),
        })
    }
}
