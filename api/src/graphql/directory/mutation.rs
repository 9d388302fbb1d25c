//! The directory's mutations (administrators): each maps its input and calls
//! [`careledger_app::App::change_directory`].

use super::inputs::*;
use super::types::*;
use crate::graphql::support::commands::{CommandOptions, Invalid, command_context, refusal};
use crate::graphql::support::scalars::Position;
use crate::graphql::support::{allow, app};
use async_graphql::{Context, Object, Result};
use careledger_app::CommandContext;
use careledger_app::policy::Action;
use careledger_domain::directory::{Capacity, DirectoryAction};
use careledger_domain::ids::ServiceId;
use std::sync::Arc;
use uuid::Uuid;

/// Runs a directory command. Only administrators manage the directory.
async fn run(
    ctx: &Context<'_>,
    options: &CommandOptions,
    build: impl FnOnce(&CommandContext) -> Result<(ServiceId, DirectoryAction), Invalid>,
) -> Result<ServicePayload> {
    let access = allow(ctx, Action::ManageDirectory)?;
    let prepared = command_context(access, options).and_then(|c| build(&c).map(|b| (c, b)));
    let (cctx, (id, action)) = match prepared {
        Ok(p) => p,
        Err(Invalid(e)) => {
            return Ok(ServicePayload {
                user_errors: vec![e],
                ..Default::default()
            });
        }
    };
    match app(ctx).change_directory(access, &cctx, id, action).await {
        Ok(x) => Ok(ServicePayload {
            service: x.view.map(|v| Service(Arc::new(v))),
            position: Some(Position(x.position)),
            duplicate: x.duplicate,
            unchanged: x.unchanged,
            user_errors: vec![],
        }),
        Err(e) => Ok(ServicePayload {
            user_errors: vec![refusal(e)?],
            ..Default::default()
        }),
    }
}

#[derive(Default)]
pub struct DirectoryMutation;

#[Object]
impl DirectoryMutation {
    /// Adds a service to the directory (administrators).
    async fn register_service(
        &self,
        ctx: &Context<'_>,
        input: RegisterServiceInput,
    ) -> Result<ServicePayload> {
        let catalogue = app(ctx).catalogue.clone();
        run(ctx, &input.options, |c| {
            let id = match &input.service_id {
                Some(id) => service_id(id)?,
                None => ServiceId::from_uuid(c.idempotency_key.unwrap_or_else(Uuid::now_v7)),
            };
            let capacity = input
                .capacity
                .as_ref()
                .map(capacity)
                .transpose()?
                .unwrap_or(Capacity::HasCapacity);
            let profile = profile(input.profile.clone(), &catalogue)?;
            Ok((
                id,
                DirectoryAction::Register {
                    service: id,
                    profile,
                    capacity,
                },
            ))
        })
        .await
    }

    /// Replaces a service's profile; the same profile again changes nothing.
    async fn update_service(
        &self,
        ctx: &Context<'_>,
        input: UpdateServiceInput,
    ) -> Result<ServicePayload> {
        let catalogue = app(ctx).catalogue.clone();
        run(ctx, &input.options, |_| {
            let id = service_id(&input.service_id)?;
            Ok((
                id,
                DirectoryAction::Update {
                    profile: profile(input.profile.clone(), &catalogue)?,
                },
            ))
        })
        .await
    }

    /// Records whether the service takes referrals, or its waiting time.
    async fn change_service_capacity(
        &self,
        ctx: &Context<'_>,
        input: ChangeServiceCapacityInput,
    ) -> Result<ServicePayload> {
        run(ctx, &input.options, |_| {
            Ok((
                service_id(&input.service_id)?,
                DirectoryAction::ChangeCapacity {
                    capacity: capacity(&input.capacity)?,
                },
            ))
        })
        .await
    }

    /// Retires a service: it is no longer suggested; its history stays.
    async fn retire_service(
        &self,
        ctx: &Context<'_>,
        input: RetireServiceInput,
    ) -> Result<ServicePayload> {
        run(ctx, &input.options, |_| {
            Ok((service_id(&input.service_id)?, DirectoryAction::Retire))
        })
        .await
    }
}
