//! The aggregates the command path runs commands on, and how each one's domain
//! refusals become [`AppError::Rejected`] with the input field they concern.

use crate::AppError;
use careledger_domain::DomainEvent;
use careledger_domain::aggregate::Aggregate;
use careledger_domain::directory::{DirectoryError, Service, ServiceEvent};
use careledger_domain::need_case::{NeedCase, NeedCaseError, NeedCaseEvent};
use careledger_domain::recipient::{CareRecipient, RecipientError, RecipientEvent};
use careledger_domain::store::RecordedEvent;
use careledger_domain::values::SiteId;

/// An aggregate the application can run commands on.
pub trait StreamAggregate: Aggregate + Send + Sync {
    fn event_of(e: &DomainEvent) -> Option<&Self::Event>;
    fn wrap(e: Self::Event) -> DomainEvent;
    fn refusal(e: Self::Error) -> AppError;
    /// The site the aggregate belongs to, once it exists.
    fn site(&self) -> Option<SiteId>;
}

impl StreamAggregate for NeedCase {
    fn event_of(e: &DomainEvent) -> Option<&NeedCaseEvent> {
        match e {
            DomainEvent::NeedCase(e) => Some(e),
            _ => None,
        }
    }
    fn wrap(e: NeedCaseEvent) -> DomainEvent {
        DomainEvent::NeedCase(e)
    }
    fn refusal(e: NeedCaseError) -> AppError {
        let field = match &e {
            NeedCaseError::ReferralNotFound { .. } | NeedCaseError::ReferralIdTaken { .. } => {
                Some("referralId")
            }
            NeedCaseError::NotIdentified | NeedCaseError::AlreadyIdentified { .. } => {
                Some("needCaseId")
            }
            NeedCaseError::NoSuggestions
            | NeedCaseError::TooManySuggestions { .. }
            | NeedCaseError::DuplicateSuggestion { .. } => Some("services"),
            NeedCaseError::Time(_) | NeedCaseError::OccurredBeforePrevious { .. } => {
                Some("occurredAt")
            }
            _ => None,
        };
        AppError::rejected(field, e.code(), e.to_string())
    }
    fn site(&self) -> Option<SiteId> {
        self.data().map(|d| d.recipient.site.clone())
    }
}

impl StreamAggregate for careledger_domain::credential::ApiKey {
    fn event_of(e: &DomainEvent) -> Option<&careledger_domain::credential::CredentialEvent> {
        match e {
            DomainEvent::Credential(e) => Some(e),
            _ => None,
        }
    }
    fn wrap(e: careledger_domain::credential::CredentialEvent) -> DomainEvent {
        DomainEvent::Credential(e)
    }
    fn refusal(e: careledger_domain::credential::CredentialError) -> AppError {
        use careledger_domain::credential::CredentialError as E;
        let field = match &e {
            E::InvalidName | E::ControlCharacter { .. } => Some("name"),
            E::NotFound | E::Exists { .. } => Some("apiKeyId"),
            E::InvalidHash => None,
            E::Time(_) => Some("occurredAt"),
        };
        AppError::rejected(field, e.code(), e.to_string())
    }
    /// Credentials belong to no site.
    fn site(&self) -> Option<SiteId> {
        None
    }
}

impl StreamAggregate for careledger_domain::webhook::WebhookSubscription {
    fn event_of(e: &DomainEvent) -> Option<&careledger_domain::webhook::WebhookEvent> {
        match e {
            DomainEvent::Webhook(e) => Some(e),
            _ => None,
        }
    }
    fn wrap(e: careledger_domain::webhook::WebhookEvent) -> DomainEvent {
        DomainEvent::Webhook(e)
    }
    fn refusal(e: careledger_domain::webhook::WebhookError) -> AppError {
        AppError::rejected(e.field(), e.code(), e.to_string())
    }
    /// Webhook subscriptions belong to no site.
    fn site(&self) -> Option<SiteId> {
        None
    }
}

impl StreamAggregate for Service {
    fn event_of(e: &DomainEvent) -> Option<&ServiceEvent> {
        match e {
            DomainEvent::Service(e) => Some(e),
            _ => None,
        }
    }
    fn wrap(e: ServiceEvent) -> DomainEvent {
        DomainEvent::Service(e)
    }
    fn refusal(e: DirectoryError) -> AppError {
        AppError::rejected(e.field(), e.code(), e.to_string())
    }
    /// Services belong to no site: the directory is shared.
    fn site(&self) -> Option<SiteId> {
        None
    }
}

impl StreamAggregate for CareRecipient {
    fn event_of(e: &DomainEvent) -> Option<&RecipientEvent> {
        match e {
            DomainEvent::Recipient(e) => Some(e),
            _ => None,
        }
    }
    fn wrap(e: RecipientEvent) -> DomainEvent {
        DomainEvent::Recipient(e)
    }
    fn refusal(e: RecipientError) -> AppError {
        let field = match &e {
            RecipientError::AlreadyRegistered { .. } => Some("recipientId"),
            RecipientError::NotRegistered { .. } => Some("recipientId"),
            RecipientError::Erased { .. } => Some("recipientId"),
            RecipientError::RelativeOfThemself => Some("patientId"),
            RecipientError::BirthYearInFuture { .. } => Some("birthYear"),
            RecipientError::Time(_) => Some("occurredAt"),
        };
        AppError::rejected(field, e.code(), e.to_string())
    }
    fn site(&self) -> Option<SiteId> {
        self.profile().map(|p| p.site.clone())
    }
}

/// Folds a stream's events into an aggregate's state.
pub fn fold<A: StreamAggregate>(history: &[RecordedEvent]) -> A {
    let mut state = A::default();
    for e in history {
        if let Some(ev) = A::event_of(&e.event) {
            state.apply(ev, e.metadata.occurred_at);
        }
    }
    state
}
