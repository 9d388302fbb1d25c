//! Webhook subscriptions (issue 17), administrators only: notifications of
//! referrals' `Task` changes to another system, shaped like the FHIR R4
//! Subscription backport's `rest-hook` channel with `id-only` payloads
//! (`careledger_app::webhooks`). The secret is given once, at creation, and never
//! shown again.

use super::casework::types::ReferralStatus;
use super::support::commands::{CommandOptions, Invalid, command_context, invalid, refusal};
use super::support::scalars::{Position, UserError};
use super::support::{access, allow, app, app_error};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use careledger_app::policy::Action;
use careledger_app::webhooks::manage::NewSubscription;
use careledger_domain::ids::OrganisationId;
use careledger_domain::values::SiteId;
use careledger_domain::webhook::{WebhookFilter, WebhookSecret};
use careledger_projections::casework::webhooks::WebhookView;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A webhook subscription (never its secret).
#[derive(SimpleObject, Clone)]
pub struct WebhookSubscription {
    pub id: String,
    pub name: String,
    /// Where notifications are POSTed.
    pub endpoint: String,
    /// The FHIR Subscription channel: always `rest-hook`.
    pub channel_type: String,
    /// The FHIR Subscription payload content: always `id-only`.
    pub payload: String,
    /// The topic's canonical URI (changes of referrals' `Task`s).
    pub topic: String,
    /// Only referrals addressed to these organisations (empty: any).
    pub owner_organisation_ids: Vec<String>,
    /// Only referrals requested at these sites (empty: any).
    pub requester_sites: Vec<String>,
    /// Only changes moving a referral to these statuses (empty: any).
    pub statuses: Vec<ReferralStatus>,
    pub created_at: DateTime<Utc>,
    /// The subject of the administrator who created it.
    pub created_by: String,
    /// Until it is deleted.
    pub active: bool,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The stream's version (`expectedVersion` for deleting it).
    pub version: u64,
}

impl From<&WebhookView> for WebhookSubscription {
    fn from(v: &WebhookView) -> Self {
        WebhookSubscription {
            id: v.id.to_string(),
            name: v.name.clone(),
            endpoint: v.endpoint.clone(),
            channel_type: "rest-hook".into(),
            payload: "id-only".into(),
            topic: careledger_app::webhooks::notification::TOPIC.into(),
            owner_organisation_ids: v.filter.owners.iter().map(ToString::to_string).collect(),
            requester_sites: v
                .filter
                .requester_sites
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            statuses: v.filter.statuses.iter().map(|s| (*s).into()).collect(),
            created_at: v.created_at,
            created_by: v.created_by.clone(),
            active: v.deleted_at.is_none(),
            deleted_at: v.deleted_at,
            version: v.version,
        }
    }
}

#[derive(InputObject)]
pub struct CreateWebhookSubscriptionInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    /// What it is for (shown to administrators), 1 to 100 characters.
    pub name: String,
    /// An absolute `http://` URL (no user name or password, no fragment).
    pub endpoint: String,
    /// 32 to 256 printable ASCII characters; each notification carries
    /// `X-CareLedger-Signature: sha256=<HMAC-SHA256 of the body under it>`.
    /// Never shown again.
    pub secret: String,
    #[graphql(default)]
    pub owner_organisation_ids: Vec<String>,
    #[graphql(default)]
    pub requester_sites: Vec<String>,
    #[graphql(default)]
    pub statuses: Vec<ReferralStatus>,
}

#[derive(InputObject)]
pub struct DeleteWebhookSubscriptionInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub subscription_id: String,
}

#[derive(SimpleObject, Default)]
pub struct WebhookSubscriptionPayload {
    pub webhook_subscription: Option<WebhookSubscription>,
    pub position: Option<Position>,
    pub duplicate: bool,
    /// Nothing was written (e.g. it was already deleted).
    pub unchanged: bool,
    pub user_errors: Vec<UserError>,
}

impl WebhookSubscriptionPayload {
    fn refused(e: UserError) -> Self {
        Self {
            user_errors: vec![e],
            ..Default::default()
        }
    }
}

fn view(ctx: &Context<'_>, id: Uuid) -> Option<WebhookSubscription> {
    app(ctx)
        .projector
        .read()
        .webhook(id)
        .map(WebhookSubscription::from)
}

/// The input's filter and secret as domain values.
fn parse(input: CreateWebhookSubscriptionInput) -> Result<NewSubscription, Invalid> {
    let owners = input
        .owner_organisation_ids
        .iter()
        .map(|o| {
            OrganisationId::parse(o.trim()).map_err(|_| {
                invalid(
                    "ownerOrganisationIds",
                    "INVALID_ID",
                    "an organisation id is a UUID",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let requester_sites = input
        .requester_sites
        .iter()
        .map(|s| {
            SiteId::parse(s.trim())
                .map_err(|e| invalid("requesterSites", "INVALID_SITE", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let secret = WebhookSecret::new(input.secret)
        .map_err(|e| invalid(e.field().unwrap_or("secret"), e.code(), e.to_string()))?;
    Ok(NewSubscription {
        name: input.name,
        endpoint: input.endpoint,
        filter: WebhookFilter {
            owners,
            requester_sites,
            statuses: input.statuses.into_iter().map(Into::into).collect(),
        },
        secret,
    })
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook subscription, deleted ones included, by id (administrators).
    async fn webhook_subscriptions(&self, ctx: &Context<'_>) -> Result<Vec<WebhookSubscription>> {
        allow(ctx, Action::ManageWebhooks)?;
        let subs = app(ctx)
            .webhook_subscriptions(access(ctx)?)
            .map_err(app_error)?;
        Ok(subs.iter().map(WebhookSubscription::from).collect())
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes an endpoint to changes of referrals' Tasks (administrators).
    /// Its id is the idempotency key when one is given.
    async fn create_webhook_subscription(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookSubscriptionInput,
    ) -> Result<WebhookSubscriptionPayload> {
        allow(ctx, Action::ManageWebhooks)?;
        let prepared = command_context(access(ctx)?, &input.options)
            .and_then(|c| parse(input).map(|n| (c, n)));
        let (cctx, new) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(WebhookSubscriptionPayload::refused(e)),
        };
        let app = app(ctx);
        match app
            .create_webhook_subscription(access(ctx)?, &cctx, new)
            .await
        {
            Ok((id, x)) => {
                let _ = app
                    .projector
                    .wait_for(x.position, app.settings.consistency_timeout)
                    .await;
                Ok(WebhookSubscriptionPayload {
                    webhook_subscription: view(ctx, id),
                    position: Some(Position(x.position.raw())),
                    duplicate: x.duplicate,
                    unchanged: x.unchanged,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(WebhookSubscriptionPayload::refused(refusal(e)?)),
        }
    }

    /// Deletes a webhook subscription (administrators): notifications stop and
    /// its secret is destroyed. Deleting it again changes nothing.
    async fn delete_webhook_subscription(
        &self,
        ctx: &Context<'_>,
        input: DeleteWebhookSubscriptionInput,
    ) -> Result<WebhookSubscriptionPayload> {
        allow(ctx, Action::ManageWebhooks)?;
        let prepared = command_context(access(ctx)?, &input.options).and_then(|c| {
            Uuid::try_parse(input.subscription_id.trim())
                .map(|id| (c, id))
                .map_err(|_| {
                    invalid(
                        "subscriptionId",
                        "INVALID_ID",
                        "a subscription id is a UUID",
                    )
                })
        });
        let (cctx, id) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => return Ok(WebhookSubscriptionPayload::refused(e)),
        };
        let app = app(ctx);
        match app
            .delete_webhook_subscription(access(ctx)?, &cctx, id)
            .await
        {
            Ok(x) => {
                let _ = app
                    .projector
                    .wait_for(x.position, app.settings.consistency_timeout)
                    .await;
                Ok(WebhookSubscriptionPayload {
                    webhook_subscription: view(ctx, id),
                    position: Some(Position(x.position.raw())),
                    duplicate: x.duplicate,
                    unchanged: x.unchanged,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(WebhookSubscriptionPayload::refused(refusal(e)?)),
        }
    }
}
