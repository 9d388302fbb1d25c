//! Relay's `node(id)`: any object by its global id, whichever feature owns it.

use super::casework::query::{load_need_case, load_recipient};
use super::casework::types::{CareRecipient, NeedCase};
use super::directory::types::{Service, service_by_id};
use super::support::ids::{GlobalId, Kind, clip};
use super::support::scalars::Position;
use super::support::{access, bad_input, consistent};
use async_graphql::{Context, ID, Interface, Object, Result};
use careledger_domain::ids::{NeedCaseId, RecipientId};

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global id."))]
pub enum Node {
    NeedCase(NeedCase),
    CareRecipient(CareRecipient),
    Service(Service),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id.
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: ID,
        min_position: Option<Position>,
    ) -> Result<Option<Node>> {
        access(ctx)?;
        consistent(ctx, min_position).await?;
        let g = GlobalId::decode(&id)
            .ok_or_else(|| bad_input(format!("'{}' is not a global id", clip(&id))))?;
        Ok(match g.kind {
            Kind::NeedCase => {
                load_need_case(ctx, NeedCaseId::from_uuid(g.uuid))?.map(Node::NeedCase)
            }
            Kind::CareRecipient => {
                load_recipient(ctx, RecipientId::from_uuid(g.uuid))?.map(Node::CareRecipient)
            }
            Kind::Service => {
                service_by_id(ctx, careledger_domain::ids::ServiceId::from_uuid(g.uuid))
                    .map(Node::Service)
            }
        })
    }
}
