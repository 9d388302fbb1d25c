//! Administrators create, list and delete webhook subscriptions.
//!
//! The secret comes from the administrator and is never recorded, logged or
//! shown again: it is sealed in the key vault under a key of the subscription's
//! own (named by its id, which no care recipient shares), bound to that id, and
//! the event records only the sealed form. Sealing is deterministic, so a retried
//! creation (same idempotency key, same input) decides the same event and is
//! answered as the retry. Everything is checked before the secret is sealed, so a
//! refused subscription makes no key. Deleting records the deletion, then
//! destroys the key: the secret is gone for good (crypto-shredding).

use crate::policy::{Access, Action};
use crate::{App, AppError, CommandContext, Executed};
use careledger_domain::ids::{NoteId, RecipientId};
use careledger_domain::need_case::NoteText;
use careledger_domain::personal::{Sealed, VaultError};
use careledger_domain::store::StreamName;
use careledger_domain::webhook::{
    WebhookAction, WebhookError, WebhookFilter, WebhookSecret, WebhookSubscription,
    check_subscription,
};
use careledger_projections::casework::webhooks::WebhookView;
use uuid::Uuid;

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub name: String,
    pub endpoint: String,
    pub filter: WebhookFilter,
    pub secret: WebhookSecret,
}

fn refused(e: WebhookError) -> AppError {
    AppError::rejected(e.field(), e.code(), e.to_string())
}

/// The vault's names for a subscription's key and sealed secret.
fn vault_ids(id: Uuid) -> (RecipientId, NoteId) {
    (RecipientId::from_uuid(id), NoteId::from_uuid(id))
}

/// Seals `secret` under subscription `id`'s key.
async fn seal(app: &App, id: Uuid, secret: &WebhookSecret) -> Result<Sealed, AppError> {
    let text = NoteText::new(secret.expose()).map_err(|_| refused(WebhookError::InvalidSecret))?;
    let (key, note) = vault_ids(id);
    app.vault
        .seal_note(key, note, &text)
        .await
        .map_err(|e| match e {
            // The key of a deleted subscription is destroyed for good.
            VaultError::Erased => refused(WebhookError::Exists {
                subscription_id: id,
            }),
            e => AppError::unavailable(e),
        })
}

/// Opens a subscription's secret: `None` once it was deleted (its key destroyed).
///
/// # Errors
/// The vault is unavailable, or the sealed secret does not open (tampered).
pub async fn open_secret(app: &App, view: &WebhookView) -> Result<Option<String>, AppError> {
    let (key, note) = vault_ids(view.id);
    let text = app
        .vault
        .open_note(key, note, &view.secret)
        .await
        .map_err(AppError::unavailable)?;
    Ok(text.map(|t| t.as_str().to_string()))
}

impl App {
    /// Creates a webhook subscription (administrators). Its id is the command's
    /// idempotency key when there is one, so a retry names the same subscription.
    ///
    /// # Errors
    /// `FORBIDDEN` for anyone but administrators; the aggregate's refusals
    /// (`INVALID_WEBHOOK_ENDPOINT`, `UNSUPPORTED_WEBHOOK_SCHEME`, …); the store's
    /// and the vault's failures.
    pub async fn create_webhook_subscription(
        &self,
        access: &Access,
        ctx: &CommandContext,
        new: NewSubscription,
    ) -> Result<(Uuid, Executed), AppError> {
        access.check(Action::ManageWebhooks)?;
        self.check_time(ctx)?;
        let (name, endpoint, filter) =
            check_subscription(&new.name, &new.endpoint, &new.filter).map_err(refused)?;
        let scheme = endpoint.split("://").next().unwrap_or_default();
        if !self.settings.webhook_schemes.contains(&scheme) {
            return Err(refused(WebhookError::UnsupportedScheme {
                supported: self.settings.webhook_schemes.join(" and "),
            }));
        }
        let id = ctx.idempotency_key.unwrap_or_else(Uuid::now_v7);
        let secret = seal(self, id, &new.secret).await?;
        let action = WebhookAction::Create {
            subscription_id: id,
            name,
            endpoint,
            filter,
            secret,
        };
        let x = self
            .execute::<WebhookSubscription>(StreamName::webhook(id), action, ctx, |_| Ok(()))
            .await?;
        Ok((id, x))
    }

    /// Deletes a webhook subscription (administrators): deliveries stop, and its
    /// secret's key is destroyed. Deleting it again changes nothing (`unchanged`).
    ///
    /// # Errors
    /// `FORBIDDEN`; `WEBHOOK_SUBSCRIPTION_NOT_FOUND`; the store's failures. A
    /// vault that cannot destroy the key now is logged, not refused: the deletion
    /// is recorded, and a repeated deletion destroys it.
    pub async fn delete_webhook_subscription(
        &self,
        access: &Access,
        ctx: &CommandContext,
        id: Uuid,
    ) -> Result<Executed, AppError> {
        access.check(Action::ManageWebhooks)?;
        let x = self
            .execute::<WebhookSubscription>(
                StreamName::webhook(id),
                WebhookAction::Delete,
                ctx,
                |_| Ok(()),
            )
            .await?;
        if let Err(e) = self.vault.destroy(vault_ids(id).0).await {
            tracing::warn!(subscription = %id, error = %e, "cannot destroy a deleted webhook subscription's key yet");
        }
        Ok(x)
    }

    /// Every webhook subscription the read model holds, deleted ones included,
    /// by id (administrators).
    ///
    /// # Errors
    /// `FORBIDDEN`.
    pub fn webhook_subscriptions(&self, access: &Access) -> Result<Vec<WebhookView>, AppError> {
        access.check(Action::ManageWebhooks)?;
        Ok(self.projector.read().webhooks().cloned().collect())
    }
}
