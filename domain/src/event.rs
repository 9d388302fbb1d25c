//! All domain events, and the names they are stored under.

use crate::credential::CredentialEvent;
use crate::directory::ServiceEvent;
use crate::need_case::NeedCaseEvent;
use crate::recipient::RecipientEvent;
use crate::webhook::WebhookEvent;

/// Every event of every aggregate. The variant names of the inner enums are the
/// stored event type names (`NeedIdentified`, `ReferralAccepted`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    Recipient(RecipientEvent),
    NeedCase(NeedCaseEvent),
    Service(ServiceEvent),
    Credential(CredentialEvent),
    Webhook(WebhookEvent),
}

impl DomainEvent {
    /// The event's type name: past tense, stable, part of the stored contract.
    pub fn event_type(&self) -> &'static str {
        use NeedCaseEvent as N;
        match self {
            DomainEvent::Recipient(RecipientEvent::CareRecipientRegistered(_)) => {
                "CareRecipientRegistered"
            }
            DomainEvent::Recipient(RecipientEvent::CareRecipientErased(_)) => "CareRecipientErased",
            DomainEvent::Service(e) => match e {
                ServiceEvent::ServiceRegistered(_) => "ServiceRegistered",
                ServiceEvent::ServiceUpdated(_) => "ServiceUpdated",
                ServiceEvent::ServiceCapacityChanged(_) => "ServiceCapacityChanged",
                ServiceEvent::ServiceRetired(_) => "ServiceRetired",
            },
            DomainEvent::Credential(e) => match e {
                CredentialEvent::ApiKeyIssued(_) => "ApiKeyIssued",
                CredentialEvent::ApiKeyRevoked(_) => "ApiKeyRevoked",
            },
            DomainEvent::Webhook(e) => match e {
                WebhookEvent::WebhookSubscriptionCreated(_) => "WebhookSubscriptionCreated",
                WebhookEvent::WebhookSubscriptionDeleted(_) => "WebhookSubscriptionDeleted",
            },
            DomainEvent::NeedCase(e) => match e {
                N::NeedIdentified(_) => "NeedIdentified",
                N::ServicesSuggested(_) => "ServicesSuggested",
                N::ReferralRequested(_) => "ReferralRequested",
                N::ReferralAccepted(_) => "ReferralAccepted",
                N::ReferralRejected(_) => "ReferralRejected",
                N::ReferralWaitlisted(_) => "ReferralWaitlisted",
                N::ReferralStarted(_) => "ReferralStarted",
                N::ReferralCompleted(_) => "ReferralCompleted",
                N::ReferralFailed(_) => "ReferralFailed",
                N::ReferralCancelled(_) => "ReferralCancelled",
                N::NeedClosed(_) => "NeedClosed",
                N::EnteredInError(_) => "EnteredInError",
                N::ReferralConsentWithdrawn(_) => "ReferralConsentWithdrawn",
                N::ReferralNoteAdded(_) => "ReferralNoteAdded",
                N::AnswerLinkIssued(_) => "AnswerLinkIssued",
            },
        }
    }
}

impl From<RecipientEvent> for DomainEvent {
    fn from(e: RecipientEvent) -> Self {
        DomainEvent::Recipient(e)
    }
}

impl From<NeedCaseEvent> for DomainEvent {
    fn from(e: NeedCaseEvent) -> Self {
        DomainEvent::NeedCase(e)
    }
}

impl From<ServiceEvent> for DomainEvent {
    fn from(e: ServiceEvent) -> Self {
        DomainEvent::Service(e)
    }
}

impl From<CredentialEvent> for DomainEvent {
    fn from(e: CredentialEvent) -> Self {
        DomainEvent::Credential(e)
    }
}

impl From<WebhookEvent> for DomainEvent {
    fn from(e: WebhookEvent) -> Self {
        DomainEvent::Webhook(e)
    }
}
