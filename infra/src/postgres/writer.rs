//! The writer task: group commit in three round trips, positions numbered under the
//! head row's lock (so commits are in position order), idempotent retries.

use super::connection::{channel, connect, db_err, unavailable};
use super::request::AppendRequest;
use super::row::micros;
use crate::group_commit::{Queue, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{Appended, Clock, ExpectedVersion, Position, StoreError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{Client, Config};
use uuid::Uuid;

pub(super) struct Writer {
    pub(super) client: Client,
    pub(super) config: Config,
    pub(super) schema: String,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) head: Arc<watch::Sender<u64>>,
    pub(super) max_batch: usize,
}

/// Where a stored (or just written) event sits.
#[derive(Clone)]
struct Placed {
    stream: String,
    version: u64,
    position: u64,
}

/// The rows of one INSERT, column by column (borrowing the batch's data).
#[derive(Default)]
struct Columns<'a> {
    position: Vec<i64>,
    id: Vec<Uuid>,
    stream: Vec<&'a str>,
    version: Vec<i64>,
    event_type: Vec<&'static str>,
    schema_version: Vec<i32>,
    payload: Vec<&'a [u8]>,
    occurred_at: Vec<i64>,
    actor_subject: Vec<&'a str>,
    actor_role: Vec<&'static str>,
    site: Vec<Option<&'a str>>,
    correlation_id: Vec<Uuid>,
    causation_id: Vec<Option<Uuid>>,
}

impl Writer {
    pub(super) async fn run(mut self, rx: mpsc::Receiver<WriteMsg<AppendRequest>>) {
        let mut queue = Queue::new(rx, self.max_batch);
        while let Some(round) = queue.next().await {
            if !round.batch.is_empty() {
                self.commit_batch(round.batch).await;
            }
            if let Some(ack) = round.shutdown {
                queue.close(ack);
                return;
            }
        }
    }

    async fn commit_batch(&mut self, batch: Vec<AppendRequest>) {
        if self.client.is_closed() {
            // The connection died (database restart, network): try a new one.
            match connect(&self.config, &self.schema, None).await {
                Ok((c, _driver)) => self.client = c,
                Err(e) => {
                    for req in batch {
                        let _ = req.reply.send(Err(e.clone()));
                    }
                    return;
                }
            }
        }
        let recorded_at = micros(self.clock.now());
        let replies = match self.transaction(&batch, recorded_at).await {
            Ok((replies, new_head)) => {
                // Publish the head before answering: a caller reading `head()` or
                // subscribing after its append returned must see its own write.
                self.head.send_if_modified(|h| {
                    let moved = new_head > *h;
                    *h = (*h).max(new_head);
                    moved
                });
                replies
            }
            Err(e) => batch.iter().map(|_| Err(e.clone())).collect(),
        };
        for (req, reply) in batch.into_iter().zip(replies) {
            let _ = req.reply.send(reply);
        }
    }

    async fn transaction(
        &mut self,
        batch: &[AppendRequest],
        recorded_at: i64,
    ) -> Result<(Vec<Result<Appended, StoreError>>, u64), StoreError> {
        let result = self.transaction_body(batch, recorded_at).await;
        if result.is_err() && !self.client.is_closed() {
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        result
    }

    /// The batch's transaction in three round trips: (1) BEGIN, lock the head, read
    /// the streams' versions, set a savepoint — one simple-protocol message; (2)
    /// the INSERT of every row from arrays; (3) move the head, NOTIFY, COMMIT — one
    /// message. Retries and conflicts cost a few more. The literals spliced into the
    /// simple messages are stream names (`<category>-<uuid>`, validated), integers
    /// and the channel name (a validated schema name), never user text.
    async fn transaction_body(
        &mut self,
        batch: &[AppendRequest],
        recorded_at: i64,
    ) -> Result<(Vec<Result<Appended, StoreError>>, u64), StoreError> {
        use tokio_postgres::SimpleQueryMessage as M;
        let streams: HashSet<&str> = batch.iter().map(|r| r.stream.as_str()).collect();
        let list = streams
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",");
        // Row-locks the head until COMMIT: appends commit in position order.
        let opening = format!(
            "BEGIN;
             UPDATE log_head SET position = position WHERE only_row RETURNING position;
             SELECT stream, max(version) FROM events WHERE stream IN ({list}) GROUP BY stream;
             SAVEPOINT optimistic"
        );
        let messages = self
            .client
            .simple_query(&opening)
            .await
            .map_err(db_err("starting an append"))?;
        let mut statement = 0;
        let mut head: Option<u64> = None;
        let mut versions: HashMap<String, u64> = HashMap::new();
        for m in &messages {
            match m {
                M::CommandComplete(_) => statement += 1,
                M::Row(r) if statement == 1 => head = r.get(0).and_then(|v| v.parse().ok()),
                M::Row(r) if statement == 2 => {
                    if let (Some(s), Some(v)) = (r.get(0), r.get(1).and_then(|v| v.parse().ok())) {
                        versions.insert(s.to_string(), v);
                    }
                }
                _ => {}
            }
        }
        let head = head.ok_or_else(|| unavailable("the log head row is missing"))?;

        // First assume no event id is stored yet (a retry is rare): the INSERT skips
        // any row whose id exists, and if it skipped one, the batch is decided
        // again, this time knowing where the stored ids are.
        let mut placed: HashMap<Uuid, Placed> = HashMap::new();
        let mut next = head;
        let mut cols = Columns::default();
        let mut trial_versions = versions.clone();
        let mut replies: Vec<_> = batch
            .iter()
            .map(|req| decide(req, &mut trial_versions, &mut placed, &mut next, &mut cols))
            .collect();
        // An append refused for its version may be the retry of one that committed
        // (its stream moved on since): that needs the stored ids too.
        let refused: Vec<Uuid> = batch
            .iter()
            .zip(&replies)
            .filter(|(_, r)| matches!(r, Err(StoreError::WrongExpectedVersion { .. })))
            .flat_map(|(req, _)| req.events.iter().map(|e| e.id))
            .collect();
        let retry_suspected = !refused.is_empty()
            && self
                .client
                .query_opt(
                    "SELECT 1 FROM events WHERE event_id = ANY($1) LIMIT 1",
                    &[&refused],
                )
                .await
                .map_err(db_err("checking event ids"))?
                .is_some();
        let done = !retry_suspected && insert(&self.client, &cols, recorded_at).await?;
        if !done {
            self.client
                .batch_execute("ROLLBACK TO SAVEPOINT optimistic")
                .await
                .map_err(db_err("undoing an append"))?;
            let ids: Vec<Uuid> = batch
                .iter()
                .flat_map(|r| r.events.iter().map(|e| e.id))
                .collect();
            placed = self
                .client
                .query(
                    "SELECT event_id, stream, version, position FROM events WHERE event_id = ANY($1)",
                    &[&ids],
                )
                .await
                .map_err(db_err("checking event ids"))?
                .iter()
                .map(|r| {
                    (
                        r.get::<_, Uuid>(0),
                        Placed {
                            stream: r.get(1),
                            version: r.get::<_, i64>(2) as u64,
                            position: r.get::<_, i64>(3) as u64,
                        },
                    )
                })
                .collect();
            next = head;
            cols = Columns::default();
            replies = batch
                .iter()
                .map(|req| decide(req, &mut versions, &mut placed, &mut next, &mut cols))
                .collect();
            if !insert(&self.client, &cols, recorded_at).await? {
                return Err(unavailable(
                    "an event id appeared while its batch held the log lock",
                ));
            }
        }
        let closing = if next > head {
            format!(
                "UPDATE log_head SET position = {next} WHERE only_row;
                 SELECT pg_notify('{}', '{next}');
                 COMMIT",
                channel(&self.schema)
            )
        } else {
            "COMMIT".to_string()
        };
        self.client
            .batch_execute(&closing)
            .await
            .map_err(db_err("committing an append"))?;
        Ok((replies, next))
    }
}

/// Inserts the rows. `Ok(false)`: an event id is stored already (the statement
/// failed and the caller rolls back to its savepoint). A plain INSERT, not ON
/// CONFLICT: speculative insertion costs every row, a retry is rare.
async fn insert(client: &Client, cols: &Columns<'_>, recorded_at: i64) -> Result<bool, StoreError> {
    if cols.position.is_empty() {
        return Ok(true);
    }
    let result = client
        .execute(
            "INSERT INTO events (position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id)
             SELECT p, i, s, v, t, sv, pl, o, $9, a, ar, st, c, ca
             FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::integer[], $7::bytea[], $8::bigint[], $10::text[], $11::text[], $12::text[], $13::uuid[], $14::uuid[])
             AS u(p, i, s, v, t, sv, pl, o, a, ar, st, c, ca)",
            &[
                &cols.position,
                &cols.id,
                &cols.stream,
                &cols.version,
                &cols.event_type,
                &cols.schema_version,
                &cols.payload,
                &cols.occurred_at,
                &recorded_at,
                &cols.actor_subject,
                &cols.actor_role,
                &cols.site,
                &cols.correlation_id,
                &cols.causation_id,
            ],
        )
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_db_error().is_some_and(|d| {
                d.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                    && d.constraint() == Some("events_event_id_key")
            }) =>
        {
            Ok(false)
        }
        Err(e) => Err(db_err("inserting events")(e)),
    }
}

/// One append's answer inside the batch, given the streams' versions and the event
/// ids already placed (stored before, or earlier in this batch). Writes its rows to
/// `cols` and moves `next` (the last position given) when it appends.
fn decide<'a>(
    req: &'a AppendRequest,
    versions: &mut HashMap<String, u64>,
    placed: &mut HashMap<Uuid, Placed>,
    next: &mut u64,
    cols: &mut Columns<'a>,
) -> Result<Appended, StoreError> {
    let stream = req.stream.as_str();
    if req.events.iter().any(|e| placed.contains_key(&e.id)) {
        return idempotent_answer(req, placed);
    }
    let actual = versions.get(stream).copied();
    let matches = match req.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => actual.is_none(),
        ExpectedVersion::Exact(v) => actual == Some(v),
    };
    if !matches {
        return Err(StoreError::WrongExpectedVersion {
            stream: stream.to_string(),
            expected: req.expected,
            actual,
        });
    }
    let first_version = actual.map_or(0, |v| v + 1);
    let mut positions = Vec::with_capacity(req.events.len());
    for (i, e) in req.events.iter().enumerate() {
        *next += 1;
        let version = first_version + i as u64;
        positions.push(Position::new(*next));
        placed.insert(
            e.id,
            Placed {
                stream: stream.to_string(),
                version,
                position: *next,
            },
        );
        cols.position.push(*next as i64);
        cols.id.push(e.id);
        cols.stream.push(stream);
        cols.version.push(version as i64);
        cols.event_type.push(e.event_type);
        cols.schema_version.push(e.schema_version);
        cols.payload.push(&e.payload);
        cols.occurred_at.push(e.occurred_at);
        cols.actor_subject.push(&e.actor_subject);
        cols.actor_role.push(e.actor_role);
        cols.site.push(e.site.as_deref());
        cols.correlation_id.push(e.correlation_id);
        cols.causation_id.push(e.causation_id);
    }
    versions.insert(
        stream.to_string(),
        first_version + req.events.len() as u64 - 1,
    );
    Ok(Appended {
        first_version,
        positions,
        duplicate: false,
    })
}

/// A retry: every event stored in this stream, in this order → the original
/// answer; otherwise a mismatch naming the first offending event.
fn idempotent_answer(
    req: &AppendRequest,
    placed: &HashMap<Uuid, Placed>,
) -> Result<Appended, StoreError> {
    let mismatch =
        |event_id: Uuid, stored_in: &str, detail: String| StoreError::IdempotencyMismatch {
            event_id: EventId::from_uuid(event_id),
            stored_in: stored_in.to_string(),
            detail,
        };
    let stored = req
        .events
        .iter()
        .filter(|e| placed.contains_key(&e.id))
        .count();
    if stored < req.events.len() {
        let first = req
            .events
            .iter()
            .find(|e| placed.contains_key(&e.id))
            .expect("called because one is stored");
        return Err(mismatch(
            first.id,
            &placed[&first.id].stream,
            format!(
                "only {stored} of the {} events of this append are stored",
                req.events.len()
            ),
        ));
    }
    let mut positions = Vec::with_capacity(req.events.len());
    let mut first_version = 0;
    for (i, e) in req.events.iter().enumerate() {
        let p = &placed[&e.id];
        if p.stream != req.stream.as_str() {
            return Err(mismatch(
                e.id,
                &p.stream,
                format!("it is stored in stream {}, not {}", p.stream, req.stream),
            ));
        }
        if i == 0 {
            first_version = p.version;
        } else if p.version != first_version + i as u64 {
            return Err(mismatch(
                e.id,
                &p.stream,
                format!(
                    "it is stored at version {}, out of this append's order",
                    p.version
                ),
            ));
        }
        positions.push(Position::new(p.position));
    }
    Ok(Appended {
        first_version,
        positions,
        duplicate: true,
    })
}
