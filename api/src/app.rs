//! The application layer: the one path every command takes (the API's mutations,
//! the demo loader, the benchmark), and the context queries read from.
//!
//! A command is: read the stream, fold it, `decide`, append with the version read
//! as the expected version. Errors come in the three layers of the style guide:
//! the domain's typed refusals → [`CommandError`] → (in `graphql`) `userErrors` or
//! a top-level error with `extensions.code`.
//!
//! **Idempotency.** The key a client sends is a UUIDv7 it mints when it first tries
//! the command; it becomes the id of the (first) event written, so the store's own
//! duplicate detection guards retries, and ids stay time-ordered (scattered ids
//! cost the store more than half its append rate). A retry finds its event in the
//! stream it reads: the command is decided again against the state *before* that
//! event, and only if it yields the same events is the original answer returned
//! (same position, nothing written); the same key on another command is refused.

use careledger_domain::DomainEvent;
use careledger_domain::aggregate::{Aggregate, Command};
use careledger_domain::catalogue::Catalogue;
use careledger_domain::ids::{EventId, RecipientId};
use careledger_domain::need_case::{NeedCase, NeedCaseError, NeedCaseEvent};
use careledger_domain::recipient::{CareRecipient, RecipientError, RecipientEvent};
use careledger_domain::store::{
    Actor, Clock, EventMetadata, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, StreamName,
};
use careledger_domain::values::SiteId;
use careledger_projections::runner::Projector;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Settings queries and commands share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A need case with no event for this many days is overdue.
    pub overdue_days: u32,
    /// The longest a query waits for projections to reach a requested position.
    pub consistency_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            overdue_days: 14,
            consistency_timeout: Duration::from_secs(5),
        }
    }
}

/// Everything a request needs. Cheap to share (`Arc`).
pub struct App {
    pub store: Arc<dyn EventStore>,
    pub clock: Arc<dyn Clock>,
    pub catalogue: Arc<Catalogue>,
    pub projector: Arc<Projector>,
    pub settings: Settings,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// How a command is to be carried out, besides what it orders.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub idempotency_key: Option<Uuid>,
    /// The stream version the caller last saw; the command is refused if it moved.
    pub expected_version: Option<u64>,
    /// When it happened in care (defaults to now).
    pub occurred_at: Option<DateTime<Utc>>,
    pub correlation_id: Uuid,
}

/// Why a command wrote nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// Bad input or a business rule: the caller can fix it. Shown as a `userError`.
    #[error("{message}")]
    Rejected {
        field: Option<&'static str>,
        code: &'static str,
        message: String,
    },
    /// The record belongs to a site the caller's credentials do not cover.
    #[error("forbidden")]
    Forbidden,
    /// The store cannot be reached; retrying later may work.
    #[error("the event store is unavailable")]
    Unavailable(String),
    /// A fault of ours. The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl CommandError {
    pub fn rejected(
        field: Option<&'static str>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        CommandError::Rejected {
            field,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { detail } => CommandError::Unavailable(detail),
            other => CommandError::Internal(other.to_string()),
        }
    }
}

/// An aggregate the application can run commands on.
pub trait StreamAggregate: Aggregate + Send + Sync {
    fn event_of(e: &DomainEvent) -> Option<&Self::Event>;
    fn wrap(e: Self::Event) -> DomainEvent;
    fn refusal(e: Self::Error) -> CommandError;
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
    fn refusal(e: NeedCaseError) -> CommandError {
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
            NeedCaseError::OccurredInFuture { .. }
            | NeedCaseError::OccurredBeforePrevious { .. } => Some("occurredAt"),
            _ => None,
        };
        CommandError::rejected(field, e.code(), e.to_string())
    }
    fn site(&self) -> Option<SiteId> {
        self.data().map(|d| d.recipient.site.clone())
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
    fn refusal(e: RecipientError) -> CommandError {
        let field = match &e {
            RecipientError::AlreadyRegistered { .. } => Some("recipientId"),
            RecipientError::NotRegistered { .. } => Some("recipientId"),
            RecipientError::RelativeOfThemself => Some("patientId"),
            RecipientError::BirthYearInFuture { .. } => Some("birthYear"),
            RecipientError::OccurredInFuture { .. } => Some("occurredAt"),
        };
        CommandError::rejected(field, e.code(), e.to_string())
    }
    fn site(&self) -> Option<SiteId> {
        self.profile().map(|p| p.site.clone())
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Executed {
    /// The stream's events after the command (for a duplicate: as read).
    pub history: Vec<RecordedEvent>,
    /// Global position of the last event the command wrote (or wrote before).
    pub position: Position,
    /// An idempotent retry: nothing new was written.
    pub duplicate: bool,
}

/// How often a command is re-decided when another writer moved the stream between
/// our read and our append (only when the caller gave no expected version).
const MAX_ATTEMPTS: usize = 5;

/// The id of the `i`-th event a command writes: the idempotency key itself for the
/// first, the key with its low bits advanced for the rest (still time-ordered).
fn event_id(key: Uuid, i: usize) -> EventId {
    if i == 0 {
        return EventId::from_uuid(key);
    }
    let (hi, lo) = key.as_u64_pair();
    EventId::from_uuid(Uuid::from_u64_pair(hi, lo.wrapping_add(i as u64)))
}

fn stale(expected: u64, actual: Option<u64>) -> CommandError {
    CommandError::rejected(
        Some("expectedVersion"),
        "STALE_VERSION",
        match actual {
            Some(v) => format!(
                "expected version {expected}, but the stream is at version {v}: reload and retry"
            ),
            None => format!("expected version {expected}, but the stream does not exist"),
        },
    )
}

fn key_reused() -> CommandError {
    CommandError::rejected(
        Some("idempotencyKey"),
        "IDEMPOTENCY_KEY_REUSED",
        "this idempotency key was already used for a different command: use a fresh key for each new command",
    )
}

impl App {
    /// Reads a whole stream (streams are short: one need case, one recipient).
    pub async fn read_stream(
        &self,
        stream: &StreamName,
    ) -> Result<Vec<RecordedEvent>, CommandError> {
        Ok(self
            .store
            .read_stream(stream.clone(), 0, usize::MAX)
            .await?)
    }

    /// A recipient's state as the log has it now (not as projections lag behind).
    pub async fn load_recipient(&self, id: RecipientId) -> Result<CareRecipient, CommandError> {
        let history = self.read_stream(&StreamName::recipient(id)).await?;
        Ok(fold::<CareRecipient>(&history))
    }

    /// Runs one command on one stream: see the module documentation.
    pub async fn execute<A: StreamAggregate>(
        &self,
        stream: StreamName,
        action: A::Action,
        ctx: &CommandContext,
        authorize: impl Fn(Option<&SiteId>) -> Result<(), CommandError>,
    ) -> Result<Executed, CommandError>
    where
        A::Action: Clone,
    {
        for _ in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let history = self.read_stream(&stream).await?;
            let current = history.last().map(|e| e.version);

            if let Some(key) = ctx.idempotency_key
                && let Some(i) = history.iter().position(|e| e.id.as_uuid() == key)
            {
                let before = fold::<A>(&history[..i]);
                authorize(before.site().as_ref())?;
                let original = &history[i];
                let cmd = Command {
                    action: action.clone(),
                    occurred_at: ctx.occurred_at.unwrap_or(original.metadata.occurred_at),
                    now: original.recorded_at.max(now),
                };
                let same = before.decide(&cmd).is_ok_and(|events| {
                    events.len() <= history.len() - i
                        && events
                            .iter()
                            .zip(&history[i..])
                            .all(|(new, old)| A::event_of(&old.event) == Some(new))
                });
                if !same {
                    return Err(key_reused());
                }
                let position = history[i].position;
                return Ok(Executed {
                    history,
                    position,
                    duplicate: true,
                });
            }
            if let Some(expected) = ctx.expected_version
                && Some(expected) != current
            {
                return Err(stale(expected, current));
            }

            let state = fold::<A>(&history);
            authorize(state.site().as_ref())?;
            let occurred_at = ctx.occurred_at.unwrap_or(now);
            let events = state
                .decide(&Command {
                    action: action.clone(),
                    occurred_at,
                    now,
                })
                .map_err(A::refusal)?;
            let mut after = state;
            for e in &events {
                after.apply(e, occurred_at);
            }
            authorize(after.site().as_ref())?;
            let metadata = EventMetadata {
                occurred_at,
                actor: ctx.actor.clone(),
                site: after.site(),
                correlation_id: ctx.correlation_id,
                causation_id: None,
            };
            let key = ctx.idempotency_key.unwrap_or_else(Uuid::now_v7);
            let new: Vec<NewEvent> = events
                .into_iter()
                .enumerate()
                .map(|(i, e)| NewEvent {
                    id: event_id(key, i),
                    event: A::wrap(e),
                    metadata: metadata.clone(),
                })
                .collect();
            let expected = current.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
            match self
                .store
                .append(stream.clone(), expected, new.clone())
                .await
            {
                Ok(appended) if appended.duplicate => {
                    // A retry with the same key committed between our read and our
                    // append: answer as for any retry.
                    let history = self.read_stream(&stream).await?;
                    return Ok(Executed {
                        history,
                        position: appended.last_position(),
                        duplicate: true,
                    });
                }
                Ok(appended) => {
                    self.metrics.appended(appended.positions.len());
                    let mut history = history;
                    for (i, (n, position)) in new.into_iter().zip(&appended.positions).enumerate() {
                        history.push(RecordedEvent {
                            id: n.id,
                            stream: stream.clone(),
                            version: appended.first_version + i as u64,
                            position: *position,
                            recorded_at: now,
                            event: n.event,
                            metadata: n.metadata,
                        });
                    }
                    return Ok(Executed {
                        history,
                        position: appended.last_position(),
                        duplicate: false,
                    });
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    if let Some(expected) = ctx.expected_version {
                        return Err(stale(expected, actual));
                    }
                    // Someone else moved the stream: decide again on the new state.
                    continue;
                }
                Err(StoreError::IdempotencyMismatch { .. }) => return Err(key_reused()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::rejected(
            None,
            "CONFLICT",
            "the record kept changing while this command was decided; retry",
        ))
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
