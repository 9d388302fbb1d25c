//! The one path every command takes (the API's mutations, the CLI, the demo
//! loader, imports), and the stream cache it reads through.
//!
//! A command is: read the stream, fold it, `decide`, append with the version read
//! as the expected version. Errors come in the three layers of the style guide:
//! the domain's typed refusals → [`AppError`] → (in `graphql`) `userErrors` or
//! a top-level error with `extensions.code`.
//!
//! **Idempotency.** The key a client sends is a UUIDv7 it mints when it first tries
//! the command; it becomes the id of the (first) event written, so the store's own
//! duplicate detection guards retries, and ids stay time-ordered (scattered ids
//! cost the store more than half its append rate). A retry finds its event in the
//! stream it reads: the command is decided again against the state *before* that
//! event, and only if it yields the same events is the original answer returned
//! (same position, nothing written); the same key on another command is refused.

use crate::aggregates::{StreamAggregate, fold};
use crate::{App, AppError};
use careledger_domain::aggregate::Command;
use careledger_domain::ids::{EventId, RecipientId};
use careledger_domain::recipient::CareRecipient;
use careledger_domain::store::{
    Actor, EventMetadata, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
    StreamName,
};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

type StreamMap = std::collections::HashMap<StreamName, Arc<Vec<RecordedEvent>>>;

/// The streams this process read or wrote lately, so a command on a record that
/// was just changed does not read it back from the store.
///
/// It is only ever a guess of the stream's state: every append still names the
/// version it decided on, so a stale entry (another writer moved the stream) costs
/// a refused append, after which the entry is dropped and the stream read afresh;
/// it never costs a lost update. Before refusing a caller's `expectedVersion`, or
/// an idempotency key as reused, the stream is read afresh too. Bounded: past
/// `capacity` streams, an arbitrary eighth is forgotten.
pub struct StreamCache {
    map: std::sync::Mutex<StreamMap>,
    capacity: usize,
}

impl Default for StreamCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl StreamCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Default::default(),
            capacity: capacity.max(8),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamMap> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, stream: &StreamName) -> Option<Arc<Vec<RecordedEvent>>> {
        self.lock().get(stream).cloned()
    }

    /// Remembers a stream's events, unless a longer history is already known.
    pub fn put(&self, stream: &StreamName, history: Arc<Vec<RecordedEvent>>) {
        let mut map = self.lock();
        if map.get(stream).is_some_and(|h| h.len() >= history.len()) {
            return;
        }
        if map.len() >= self.capacity && !map.contains_key(stream) {
            let evict: Vec<StreamName> = map.keys().take(self.capacity / 8).cloned().collect();
            for k in evict {
                map.remove(&k);
            }
        }
        map.insert(stream.clone(), history);
    }

    pub fn forget(&self, stream: &StreamName) {
        self.lock().remove(stream);
    }
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

/// What a command did.
#[derive(Debug)]
pub struct Executed {
    /// The stream's events after the command (for a duplicate: as read).
    pub history: Arc<Vec<RecordedEvent>>,
    /// Global position of the last event the command wrote (or wrote before).
    pub position: Position,
    /// An idempotent retry: nothing new was written.
    pub duplicate: bool,
    /// The command changed nothing, so nothing was written.
    pub unchanged: bool,
}

/// How often a command is re-decided when another writer moved the stream between
/// our read and our append (only when the caller gave no expected version).
const MAX_ATTEMPTS: usize = 8;

/// The id of the `i`-th event a command writes: the idempotency key itself for the
/// first, the key with its low bits advanced for the rest (still time-ordered).
fn event_id(key: Uuid, i: usize) -> EventId {
    if i == 0 {
        return EventId::from_uuid(key);
    }
    let (hi, lo) = key.as_u64_pair();
    EventId::from_uuid(Uuid::from_u64_pair(hi, lo.wrapping_add(i as u64)))
}

fn stale(expected: u64, actual: Option<u64>) -> AppError {
    AppError::conflict(
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

fn key_reused() -> AppError {
    AppError::conflict(
        Some("idempotencyKey"),
        "IDEMPOTENCY_KEY_REUSED",
        "this idempotency key was already used for a different command: use a fresh key for each new command",
    )
}

impl App {
    /// Reads a whole stream from the store (streams are short: one need case, one
    /// recipient) and remembers it.
    pub async fn read_stream(
        &self,
        stream: &StreamName,
    ) -> Result<Arc<Vec<RecordedEvent>>, AppError> {
        let history = Arc::new(
            self.store
                .read_stream(stream.clone(), 0, usize::MAX)
                .await?,
        );
        self.streams.put(stream, history.clone());
        Ok(history)
    }

    /// A stream as this process last saw it, else as the store has it.
    pub(crate) async fn recent_stream(
        &self,
        stream: &StreamName,
    ) -> Result<Arc<Vec<RecordedEvent>>, AppError> {
        match self.streams.get(stream) {
            Some(h) => Ok(h),
            None => self.read_stream(stream).await,
        }
    }

    /// A recipient's state as the log has it (not as projections lag behind).
    pub async fn load_recipient(&self, id: RecipientId) -> Result<CareRecipient, AppError> {
        let stream = StreamName::recipient(id);
        let mut history = self.recent_stream(&stream).await?;
        if history.is_empty() {
            // Registered by another writer since we looked? Ask the store.
            history = self.read_stream(&stream).await?;
        }
        Ok(fold::<CareRecipient>(&history))
    }

    /// Runs one command on one stream: see the module documentation.
    pub async fn execute<A: StreamAggregate>(
        &self,
        stream: StreamName,
        action: A::Action,
        ctx: &CommandContext,
        authorize: impl Fn(Option<&SiteId>) -> Result<(), AppError>,
    ) -> Result<Executed, AppError>
    where
        A::Action: Clone,
    {
        let mut fresh = false;
        for attempt in 0..MAX_ATTEMPTS {
            let now = self.clock.now();
            let history = if fresh {
                self.read_stream(&stream).await?
            } else {
                self.recent_stream(&stream).await?
            };
            let current = history.last().map(|e| e.version);

            // Authorisation first, always: nothing about this stream (whether the
            // key or the expected version matches it) is answered to a caller who
            // may not act on it. A key equal to another site's record id names
            // that record's stream (ids default to the key), whose first event
            // carries the key: judged against the state before that event (none),
            // it used to pass and answer IDEMPOTENCY_KEY_REUSED — an existence
            // oracle. A record's site never changes, so a stale cached copy can
            // only hide a site, and then the append fails and the stream is read
            // afresh and judged again.
            let state = fold::<A>(&history);
            authorize(state.site().as_ref())?;

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
                    unchanged: false,
                });
            }
            if let Some(expected) = ctx.expected_version
                && Some(expected) != current
            {
                if !fresh {
                    // Our copy may be the stale one: look again before refusing.
                    fresh = true;
                    continue;
                }
                return Err(stale(expected, current));
            }

            let occurred_at = ctx.occurred_at.unwrap_or(now);
            let decided = state.decide(&Command {
                action: action.clone(),
                occurred_at,
                now,
            });
            // A refusal, or "nothing to change", judged on a cached copy may be
            // the copy's fault (another server moved the record since): judge
            // again on the stream as stored before answering.
            let events = match decided {
                Err(_) if !fresh => {
                    fresh = true;
                    continue;
                }
                Ok(e) if e.is_empty() && !fresh => {
                    fresh = true;
                    continue;
                }
                d => d.map_err(A::refusal)?,
            };
            if events.is_empty() {
                // Nothing to change (an update that says what is already known).
                let position = history.last().map_or(Position::START, |e| e.position);
                return Ok(Executed {
                    history,
                    position,
                    duplicate: false,
                    unchanged: true,
                });
            }
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
                    // append: check it as any retry, against the stream as stored.
                    self.streams.forget(&stream);
                    fresh = true;
                    continue;
                }
                Ok(appended) => {
                    self.telemetry.appended(appended.positions.len());
                    let mut history = Vec::clone(&history);
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
                    let history = Arc::new(history);
                    self.streams.put(&stream, history.clone());
                    return Ok(Executed {
                        history,
                        position: appended.last_position(),
                        duplicate: false,
                        unchanged: false,
                    });
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    self.streams.forget(&stream);
                    if let Some(expected) = ctx.expected_version
                        && fresh
                    {
                        return Err(stale(expected, actual));
                    }
                    // Someone else moved the stream: decide again on what the store
                    // holds, after a short random pause so contenders spread out.
                    fresh = true;
                    let jitter = Uuid::new_v4().as_u64_pair().1 % (500 * (attempt as u64 + 1));
                    tokio::time::sleep(Duration::from_micros(jitter)).await;
                    continue;
                }
                Err(StoreError::IdempotencyMismatch { stored_in, .. }) => {
                    if !fresh {
                        // Perhaps our copy misses the event with this key: look again.
                        self.streams.forget(&stream);
                        fresh = true;
                        continue;
                    }
                    // The key is an event id of another stream: say so only to a
                    // caller who may act on that stream (authorisation first).
                    if stored_in != stream.as_str() {
                        self.authorize_stream(&stored_in, &authorize).await?;
                    }
                    return Err(key_reused());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::conflict(
            None,
            "CONFLICT",
            "the record kept changing while this command was decided; retry",
        ))
    }
}

impl App {
    /// Asks `authorize` about a stream named by the store (the site its events
    /// were recorded at), whatever aggregate it holds.
    async fn authorize_stream(
        &self,
        name: &str,
        authorize: &impl Fn(Option<&SiteId>) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        let name = StreamName::parse(name).map_err(AppError::internal)?;
        let history = self.read_stream(&name).await?;
        match history.iter().find_map(|e| e.metadata.site.as_ref()) {
            Some(site) => authorize(Some(site)),
            None => authorize(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ports, Settings};
    use careledger_domain::ids::{NeedCaseId, ServiceId};
    use careledger_domain::need_case::NeedCase;
    use careledger_domain::need_case::{NeedCaseAction, SuggestedService};
    use careledger_domain::recipient::{RecipientAction, RecipientKind, RegisterCareRecipient};
    use careledger_domain::store::Role;
    use careledger_domain::values::*;
    use careledger_infra::clock::SystemClock;
    use careledger_infra::sqlite::{SqliteEventStore, SqliteOptions};
    use careledger_projections::Casework;

    /// Two applications over one store, each with its own stream cache: as two
    /// API replicas would be.
    fn two_apps(dir: &std::path::Path) -> (Arc<App>, Arc<App>, SqliteEventStore) {
        let store = SqliteEventStore::open(
            dir.join("s.sqlite"),
            Arc::new(SystemClock),
            SqliteOptions::default(),
        )
        .unwrap();
        let app = || {
            Arc::new(App::new(
                Ports {
                    store: Arc::new(store.clone()),
                    vault: Arc::new(careledger_infra::vault::SqliteKeyVault::in_dir(dir).unwrap()),
                    clock: Arc::new(SystemClock),
                    catalogue: Arc::new(careledger_infra::catalogue::default_catalogue().unwrap()),
                    projector: careledger_projections::runner::Projector::new(Casework::default()),
                },
                Settings::default(),
            ))
        };
        (app(), app(), store)
    }

    fn ctx(key: Option<Uuid>, expected: Option<u64>) -> CommandContext {
        CommandContext {
            actor: Actor {
                subject: "t".into(),
                role: Role::Coordinator,
            },
            idempotency_key: key,
            expected_version: expected,
            occurred_at: None,
            correlation_id: Uuid::now_v7(),
        }
    }

    async fn need_case(app: &App) -> NeedCaseId {
        let r = RecipientId::from_uuid(Uuid::now_v7());
        let register = RegisterCareRecipient {
            recipient: r,
            site: SiteId::parse("be-leuven").unwrap(),
            kind: RecipientKind::Patient,
            birth_year: BirthYear::parse(1970).unwrap(),
            sex: Sex::Female,
            postal_code: PostalCode::parse(Country::BE, "3000").unwrap(),
            language: LanguageTag::parse("nl").unwrap(),
            preferential_reimbursement: PreferentialReimbursement::No,
            deprivation_decile: None,
            cancer_site_group: CancerSiteGroup::Breast,
            personal: None,
        };
        app.execute::<CareRecipient>(
            StreamName::recipient(r),
            RecipientAction::Register(register),
            &ctx(None, None),
            |_| Ok(()),
        )
        .await
        .unwrap();
        let profile = app
            .load_recipient(r)
            .await
            .unwrap()
            .profile()
            .unwrap()
            .clone();
        let id = NeedCaseId::from_uuid(Uuid::now_v7());
        let action = NeedCaseAction::IdentifyNeed {
            need_case: id,
            recipient: profile,
            need: NeedCode::parse("med.pain").unwrap(),
        };
        app.execute::<NeedCase>(StreamName::need_case(id), action, &ctx(None, None), |_| {
            Ok(())
        })
        .await
        .unwrap();
        id
    }

    fn suggest() -> NeedCaseAction {
        NeedCaseAction::SuggestServices {
            ranked: None,
            services: vec![SuggestedService {
                score: None,
                service: ServiceId::from_uuid(Uuid::now_v7()),
                reasons: vec![],
            }],
        }
    }

    /// A stale cached copy (another writer moved the stream) never loses an update,
    /// never refuses a caller's correct expected version, and still recognises a
    /// retried idempotency key written by the other writer.
    #[tokio::test]
    async fn a_stale_stream_cache_costs_a_retry_never_an_update_or_a_false_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _store) = two_apps(dir.path());
        let id = need_case(&a).await;
        let stream = StreamName::need_case(id);
        // b caches the stream at version 0.
        b.read_stream(&stream).await.unwrap();
        // a moves it to version 1.
        a.execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, None), |_| Ok(()))
            .await
            .unwrap();
        // b, with its stale copy, writes: decided again on version 1, written as 2.
        let x = b
            .execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, None), |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(x.history.len(), 3);
        // a's copy is now stale; the caller's expected version (2) is right, not refused.
        let x = a
            .execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, Some(2)), |_| Ok(()))
            .await
            .unwrap();
        assert_eq!(x.history.last().unwrap().version, 3);
        // A really stale expected version is refused, after a fresh look.
        let e = b
            .execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, Some(2)), |_| Ok(()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                AppError::Conflict {
                    code: "STALE_VERSION",
                    ..
                }
            ),
            "{e:?}"
        );
        // A key written through a, retried through b (whose copy lacks it): same answer.
        let key = Uuid::now_v7();
        let first = a
            .execute::<NeedCase>(stream.clone(), suggest(), &ctx(Some(key), None), |_| Ok(()))
            .await
            .unwrap();
        let action = match &first.history.last().unwrap().event {
            careledger_domain::DomainEvent::NeedCase(
                careledger_domain::need_case::NeedCaseEvent::ServicesSuggested(s),
            ) => NeedCaseAction::SuggestServices {
                ranked: None,
                services: s
                    .suggestions
                    .iter()
                    .map(|x| SuggestedService {
                        score: None,
                        service: x.service,
                        reasons: x.reasons.iter().map(|r| r.to_string()).collect(),
                    })
                    .collect(),
            },
            other => panic!("{other:?}"),
        };
        let again = b
            .execute::<NeedCase>(stream.clone(), action, &ctx(Some(key), None), |_| Ok(()))
            .await
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(again.position, first.position);
        let stored = a.store.read_stream(stream, 0, 100).await.unwrap();
        assert_eq!(stored.len(), 5, "nothing written twice, nothing lost");
    }

    /// A command the stale copy would refuse (b's copy has no suggestion yet, so
    /// a referral "needs a suggestion first") is judged again on the stream as
    /// stored, where it is allowed: no false refusal from another server's move.
    #[tokio::test]
    async fn a_refusal_judged_on_a_stale_copy_is_judged_again_on_the_stored_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _store) = two_apps(dir.path());
        let id = need_case(&a).await;
        let stream = StreamName::need_case(id);
        b.read_stream(&stream).await.unwrap();
        let suggested = a
            .execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, None), |_| Ok(()))
            .await
            .unwrap();
        let service = match &suggested.history.last().unwrap().event {
            careledger_domain::DomainEvent::NeedCase(
                careledger_domain::need_case::NeedCaseEvent::ServicesSuggested(s),
            ) => s.suggestions[0].service,
            other => panic!("{other:?}"),
        };
        let refer = NeedCaseAction::RequestReferral {
            referral: careledger_domain::ids::ReferralId::from_uuid(Uuid::now_v7()),
            service,
            consent: careledger_domain::need_case::ShareConsent::ReferralOnly,
        };
        let x = b
            .execute::<NeedCase>(stream.clone(), refer, &ctx(None, None), |_| Ok(()))
            .await
            .expect("refused on b's stale copy");
        assert_eq!(x.history.len(), 3);
    }

    /// Many concurrent commands on one need case: each is decided on the state
    /// before it and written once; none is lost to a race.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_commands_on_one_record_are_all_written_in_some_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, _store) = two_apps(dir.path());
        let id = need_case(&a).await;
        let stream = StreamName::need_case(id);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let stream = stream.clone();
            tasks.push(tokio::spawn(async move {
                app.execute::<NeedCase>(stream, suggest(), &ctx(None, None), |_| Ok(()))
                    .await
            }));
        }
        let mut ok = 0;
        let mut gave_up = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                // Under heavy contention a command may give up after its retries: it
                // says so and wrote nothing.
                Err(AppError::Conflict {
                    code: "CONFLICT", ..
                }) => gave_up += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(ok >= 1, "contention never starves every command");
        let stored = a.store.read_stream(stream.clone(), 0, 100).await.unwrap();
        assert_eq!(
            stored.len(),
            1 + ok,
            "every successful command written exactly once, a refused one not at all"
        );
        // A command that gave up is safe to send again: without contention it goes through.
        for _ in 0..gave_up {
            a.execute::<NeedCase>(stream.clone(), suggest(), &ctx(None, None), |_| Ok(()))
                .await
                .unwrap();
        }
        let stored = a.store.read_stream(stream, 0, 100).await.unwrap();
        assert_eq!(stored.len(), 17, "all sixteen commands written in the end");
        let versions: Vec<u64> = stored.iter().map(|e| e.version).collect();
        assert_eq!(versions, (0..stored.len() as u64).collect::<Vec<_>>());
    }
}
