//! Webhook subscriptions (issue 17) as the API lists them and the outbox
//! delivers to them: kept beside the need cases, by id, with the position of the
//! event that created each (deliveries start after it). The secret stays sealed.

use super::Casework;
use careledger_domain::personal::Sealed;
use careledger_domain::store::RecordedEvent;
use careledger_domain::webhook::{WebhookEvent, WebhookFilter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One webhook subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: Uuid,
    pub name: String,
    pub endpoint: String,
    pub filter: WebhookFilter,
    /// The secret notifications are signed with, sealed under the
    /// subscription's key.
    pub secret: Sealed,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The log position of its creation: it is notified of what follows.
    pub created_position: u64,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The stream's version (the `expectedVersion` of a deletion).
    pub version: u64,
}

impl Casework {
    pub(super) fn webhook_event(&mut self, ev: &WebhookEvent, e: &RecordedEvent) {
        match ev {
            WebhookEvent::WebhookSubscriptionCreated(c) => {
                self.webhooks.insert(
                    c.subscription_id,
                    WebhookView {
                        id: c.subscription_id,
                        name: c.name.clone(),
                        endpoint: c.endpoint.clone(),
                        filter: c.filter.clone(),
                        secret: c.secret.clone(),
                        created_at: e.metadata.occurred_at,
                        created_by: e.metadata.actor.subject.clone(),
                        created_position: e.position.raw(),
                        deleted_at: None,
                        version: e.version,
                    },
                );
            }
            WebhookEvent::WebhookSubscriptionDeleted(d) => {
                if let Some(v) = self.webhooks.get_mut(&d.subscription_id) {
                    v.deleted_at = Some(e.metadata.occurred_at);
                    v.version = e.version;
                }
            }
        }
    }

    /// A webhook subscription by id (deleted ones included).
    pub fn webhook(&self, id: Uuid) -> Option<&WebhookView> {
        self.webhooks.get(&id)
    }

    /// Every webhook subscription, by id (deleted ones included).
    pub fn webhooks(&self) -> impl Iterator<Item = &WebhookView> {
        self.webhooks.values()
    }
}
