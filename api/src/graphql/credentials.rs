//! API keys for external applications: issued and revoked by administrators, the
//! secret shown once, only its SHA-256 stored (`crate::credentials`).

use super::support::commands::{CommandOptions, Invalid, command_context, invalid, refusal};
use super::support::scalars::{Position, UserError};
use super::support::{access, allow, app, app_error};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use careledger_app::policy::Action;
use careledger_projections::ApiKeyView;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An API key (never its secret).
#[derive(SimpleObject, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub issued_at: DateTime<Utc>,
    /// The subject of the administrator who issued it.
    pub issued_by: String,
    pub revoked: bool,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKeyView> for ApiKey {
    fn from(v: &ApiKeyView) -> Self {
        ApiKey {
            id: v.id.to_string(),
            name: v.name.clone(),
            issued_at: v.issued_at,
            issued_by: v.issued_by.clone(),
            revoked: v.revoked_at.is_some(),
            revoked_at: v.revoked_at,
        }
    }
}

#[derive(InputObject)]
pub struct IssueApiKeyInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    /// What the key is for (shown to administrators), 1 to 100 characters.
    pub name: String,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    #[graphql(flatten)]
    pub options: CommandOptions,
    pub api_key_id: String,
}

#[derive(SimpleObject, Default)]
pub struct ApiKeyPayload {
    pub api_key: Option<ApiKey>,
    /// The key to send as `Authorization: Bearer <secret>`. Shown once: null on a
    /// replayed idempotency key and on revocation.
    pub secret: Option<String>,
    pub position: Option<Position>,
    pub duplicate: bool,
    /// Nothing was written (e.g. the key was already revoked).
    pub unchanged: bool,
    pub user_errors: Vec<UserError>,
}

fn admin_only(ctx: &Context<'_>) -> Result<()> {
    allow(ctx, Action::ManageCredentials).map(|_| ())
}

fn view(ctx: &Context<'_>, id: Uuid) -> Option<ApiKey> {
    app(ctx).projector.read().api_key(id).map(ApiKey::from)
}

#[derive(Default)]
pub struct CredentialQuery;

#[Object]
impl CredentialQuery {
    /// Every API key, oldest first (administrators).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        admin_only(ctx)?;
        let keys = careledger_app::credentials::list(app(ctx), access(ctx)?).map_err(app_error)?;
        Ok(keys.iter().map(ApiKey::from).collect())
    }
}

#[derive(Default)]
pub struct CredentialMutation;

#[Object]
impl CredentialMutation {
    /// Issues an API key for an external application (administrators). The answer
    /// holds the secret, shown this once.
    async fn issue_api_key(
        &self,
        ctx: &Context<'_>,
        input: IssueApiKeyInput,
    ) -> Result<ApiKeyPayload> {
        admin_only(ctx)?;
        let cctx = match command_context(access(ctx)?, &input.options) {
            Ok(c) => c,
            Err(Invalid(e)) => {
                return Ok(ApiKeyPayload {
                    user_errors: vec![e],
                    ..Default::default()
                });
            }
        };
        let app = app(ctx);
        match careledger_app::credentials::issue(app, access(ctx)?, &cctx, &input.name).await {
            Ok(issued) => {
                let _ = app
                    .projector
                    .wait_for(issued.position, app.settings.consistency_timeout)
                    .await;
                Ok(ApiKeyPayload {
                    api_key: view(ctx, issued.key_id),
                    secret: issued.secret,
                    position: Some(Position(issued.position.raw())),
                    duplicate: issued.duplicate,
                    unchanged: false,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(ApiKeyPayload {
                user_errors: vec![refusal(e)?],
                ..Default::default()
            }),
        }
    }

    /// Revokes an API key (administrators): it stops working at once. Revoking a
    /// revoked key changes nothing.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> Result<ApiKeyPayload> {
        admin_only(ctx)?;
        let prepared = command_context(access(ctx)?, &input.options).and_then(|c| {
            Uuid::try_parse(input.api_key_id.trim())
                .map(|id| (c, id))
                .map_err(|_| invalid("apiKeyId", "INVALID_ID", "an API key id is a UUID"))
        });
        let (cctx, id) = match prepared {
            Ok(p) => p,
            Err(Invalid(e)) => {
                return Ok(ApiKeyPayload {
                    user_errors: vec![e],
                    ..Default::default()
                });
            }
        };
        let app = app(ctx);
        match careledger_app::credentials::revoke(app, access(ctx)?, &cctx, id).await {
            Ok(x) => {
                // Read your write: the key's view below is the read model's.
                let _ = app
                    .projector
                    .wait_for(x.position, app.settings.consistency_timeout)
                    .await;
                Ok(ApiKeyPayload {
                    api_key: view(ctx, id),
                    secret: None,
                    position: Some(Position(x.position.raw())),
                    duplicate: x.duplicate,
                    unchanged: x.unchanged,
                    user_errors: vec![],
                })
            }
            Err(e) => Ok(ApiKeyPayload {
                user_errors: vec![refusal(e)?],
                ..Default::default()
            }),
        }
    }
}
