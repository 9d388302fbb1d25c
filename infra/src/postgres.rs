//! The PostgreSQL event store (DESIGN §3), for a network of hospitals that has
//! outgrown one machine. Several `careledger serve` processes may share one database.
//!
//! ## Positions that commit in order
//! A global position taken from a sequence can commit out of order: writer A takes
//! 41, writer B takes 42 and commits first, a subscriber reads 42, moves its cursor
//! past 41, and never sees A's event when it commits. Here positions are not taken
//! from a sequence. Every append transaction first updates the single row of
//! `log_head` (`UPDATE … RETURNING position`), which row-locks it until COMMIT, then
//! numbers its events from that head and stores the new head in the same row. A
//! second writer — in this process or another — blocks on that row until the first
//! has committed (or rolled back, leaving no gap), so transactions commit in
//! position order: when a reader sees position *p*, everything below *p* is
//! already visible. PostgreSQL marks a transaction committed in its snapshot
//! bookkeeping before it releases the transaction's row locks, so the next writer
//! cannot even start numbering before the previous commit is visible. A subscriber
//! therefore reads `position > last_seen` and can never skip or repeat an event.
//!
//! ## Group commit
//! The lock serialises commits, so throughput comes from batching: one writer task
//! per process owns one connection; appends from every task are queued to it and
//! everything queued (up to a bound) is decided and inserted in one transaction — one
//! multi-row INSERT from arrays, one WAL flush — before each caller is answered. A
//! conflicting append fails alone; the others commit.
//!
//! ## Waking subscribers
//! The append transaction sends `NOTIFY` with the new head; PostgreSQL delivers it at
//! COMMIT to every listening connection, in this process and in the others. Each
//! store keeps one `LISTEN` connection feeding a `watch` of the head; a subscription
//! that has caught up sleeps on it (with a slow fallback re-read, should a
//! notification be lost with its connection), never in a tight polling loop.
//!
//! ## Schema
//! All tables live in one PostgreSQL schema (`careledger` unless configured), created
//! and migrated at open under an advisory lock, so two processes starting together
//! do not race. A schema written by a newer CareLedger is refused with a clear error.

use crate::codec::{Codec, StoredAt};
use crate::group_commit::{Queue, Queued, WriteMsg};
use careledger_domain::ids::EventId;
use careledger_domain::store::{
    Actor, Appended, BoxFuture, Clock, EventMetadata, EventStore, ExpectedVersion, NewEvent,
    Position, RecordedEvent, Role, SnapshotStore, StoreError, StreamName, Subscription,
};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row};
use uuid::Uuid;

/// The schema version this build writes; a database with a higher one is refused.
pub const PG_SCHEMA_VERSION: i32 = 3;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE events (
    position bigint PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    stream text NOT NULL,
    version bigint NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    payload bytea NOT NULL,
    occurred_at bigint NOT NULL,
    recorded_at bigint NOT NULL,
    actor_subject text NOT NULL,
    actor_role text NOT NULL,
    site text,
    correlation_id uuid NOT NULL,
    causation_id uuid,
    CONSTRAINT events_stream_version UNIQUE (stream, version)
);
CREATE TABLE log_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    position bigint NOT NULL
);
INSERT INTO log_head (position) VALUES (0);
CREATE TABLE snapshots (
    name text PRIMARY KEY,
    bytes bytea NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
",
    "
CREATE INDEX events_actor ON events (actor_subject, position);
CREATE INDEX events_site ON events (site, position);
",
    "
CREATE TABLE recipient_keys (
    recipient uuid PRIMARY KEY,
    key bytea,
    destroyed_at timestamptz
);
",
];

const COLUMNS: &str = "position, event_id, stream, version, event_type, schema_version, payload, occurred_at, recorded_at, actor_subject, actor_role, site, correlation_id, causation_id";

/// How the store connects.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The PostgreSQL schema holding CareLedger's tables.
    pub schema: String,
    /// The most events one group-commit transaction takes.
    pub max_batch: usize,
    /// Connections for reads (each pipelines many queries).
    pub readers: usize,
    /// How long to wait for the database at open.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: "careledger".into(),
            max_batch: 4_096,
            readers: 2,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The store. Cheap to clone: clones share the connections and the writer.
#[derive(Clone)]
pub struct PgEventStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    schema: String,
    codec: Codec,
    writer: mpsc::Sender<WriteMsg<AppendRequest>>,
    readers: Vec<Client>,
    next_reader: AtomicUsize,
    head: watch::Receiver<u64>,
    /// Connection drivers, the writer and the listener, stopped at close.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Kept open for `LISTEN`.
    _listener: Client,
}

impl Queued for AppendRequest {
    fn events(&self) -> usize {
        self.events.len()
    }
    fn refuse(self, e: StoreError) {
        let _ = self.reply.send(Err(e));
    }
}

struct AppendRequest {
    stream: StreamName,
    expected: ExpectedVersion,
    events: Vec<EncodedNew>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

struct EncodedNew {
    id: Uuid,
    event_type: &'static str,
    schema_version: i32,
    payload: Vec<u8>,
    occurred_at: i64,
    actor_subject: String,
    actor_role: &'static str,
    site: Option<String>,
    correlation_id: Uuid,
    causation_id: Option<Uuid>,
}

fn unavailable(detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        detail: detail.to_string(),
    }
}

/// A database error in words: the server's message when it sent one, else the
/// client's error with its causes (connection refused, timeout, …).
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn db_err(what: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| unavailable(format!("{what}: {}", describe(&e)))
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// Where a URL points, without its password (for messages).
pub fn redacted(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{}:{port}/{}",
        config.get_user().unwrap_or("?"),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The notification channel of a schema (stores on other schemas are not woken).
fn channel(schema: &str) -> String {
    format!("careledger_events_{schema}")
}

/// Connects, drives the connection on a task, and puts the schema first on the
/// search path. Notifications, if any, go to `notify`.
async fn connect(
    config: &Config,
    schema: &str,
    notify: Option<Arc<watch::Sender<u64>>>,
) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| {
        unavailable(format!(
            "cannot connect to PostgreSQL at {}: {}",
            redacted(config),
            describe(&e)
        ))
    })?;
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let (Some(tx), Ok(p)) = (&notify, n.payload().parse::<u64>()) {
                        tx.send_if_modified(|h| {
                            let moved = p > *h;
                            *h = (*h).max(p);
                            moved
                        });
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %describe(&e), "PostgreSQL connection lost");
                    return;
                }
                None => return,
            }
        }
    });
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .map_err(db_err("setting the search path"))?;
    Ok((client, driver))
}

/// Creates the schema if need be and runs the migrations this build knows, under an
/// advisory lock (processes starting together take turns). Refuses a schema newer
/// than this build.
async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(db_err("starting the migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('careledger-migrate:' || $1))",
        &[&schema],
    )
    .await
    .map_err(db_err("taking the migration lock"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         SET LOCAL search_path TO \"{schema}\";
         CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);"
    ))
    .await
    .map_err(db_err("creating the schema"))?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(db_err("reading the schema version"))?
        .get(0);
    if current > PG_SCHEMA_VERSION {
        return Err(unavailable(format!(
            "the database schema \"{schema}\" is at version {current}, written by a newer CareLedger; this build knows versions up to {PG_SCHEMA_VERSION}. Upgrade CareLedger, or use another schema"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(db_err("running a migration"))?;
        tx.execute("INSERT INTO schema_version VALUES ($1)", &[&version])
            .await
            .map_err(db_err("recording the schema version"))?;
        tracing::info!(schema, version, "PostgreSQL schema migrated");
    }
    tx.commit()
        .await
        .map_err(db_err("committing the migration"))
}

impl PgEventStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), migrates the
    /// schema and starts the writer and the listener.
    ///
    /// # Errors
    /// `Unavailable`, in words: a malformed URL, an unreachable server, refused
    /// credentials, a schema from a newer CareLedger.
    pub async fn open(
        url: &str,
        clock: Arc<dyn Clock>,
        options: PgOptions,
    ) -> Result<Self, StoreError> {
        if !valid_schema(&options.schema) {
            return Err(unavailable(format!(
                "'{}' is not a usable schema name: lowercase letters, digits and '_', at most 63",
                options.schema
            )));
        }
        let mut config: Config = url.parse().map_err(|e: tokio_postgres::Error| {
            unavailable(format!(
                "'{}' is not a PostgreSQL URL: {}",
                url.split('@').next_back().unwrap_or(""),
                describe(&e)
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        config.application_name("careledger");
        let schema = options.schema.clone();
        let mut tasks = Vec::new();

        let (mut admin, driver) = connect(&config, "public", None).await?;
        migrate(&mut admin, &schema).await?;
        drop(admin);
        driver.abort();

        let (writer_client, d) = connect(&config, &schema, None).await?;
        tasks.push(d);
        let head: i64 = writer_client
            .query_one("SELECT position FROM log_head", &[])
            .await
            .map_err(db_err("reading the log head"))?
            .get(0);
        let (head_tx, head_rx) = watch::channel(head as u64);
        let head_tx = Arc::new(head_tx);

        let (listener, d) = connect(&config, &schema, Some(head_tx.clone())).await?;
        tasks.push(d);
        listener
            .batch_execute(&format!("LISTEN \"{}\"", channel(&schema)))
            .await
            .map_err(db_err("listening for new events"))?;

        let mut readers = Vec::new();
        for _ in 0..options.readers.max(1) {
            let (c, d) = connect(&config, &schema, None).await?;
            tasks.push(d);
            readers.push(c);
        }

        let (tx, rx) = mpsc::channel(4_096);
        let writer = Writer {
            client: writer_client,
            config: config.clone(),
            schema: schema.clone(),
            clock,
            head: head_tx,
            max_batch: options.max_batch.max(1),
        };
        tasks.push(tokio::spawn(writer.run(rx)));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                schema,
                codec: Codec::default(),
                writer: tx,
                readers,
                next_reader: AtomicUsize::new(0),
                head: head_rx,
                tasks: Mutex::new(tasks),
                _listener: listener,
            }),
        })
    }

    /// Where the store is, without credentials.
    pub fn describe(&self) -> String {
        format!(
            "{} (schema {})",
            redacted(&self.inner.config),
            self.inner.schema
        )
    }

    /// Stops the writer (appends queued before are committed and answered) and
    /// closes the connections.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.writer.send(WriteMsg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
        for t in self.inner.tasks.lock().expect("not poisoned").drain(..) {
            t.abort();
        }
    }

    /// A connection of the read pool (its `search_path` is the store's schema).
    pub(crate) fn client(&self) -> &Client {
        self.reader()
    }

    fn reader(&self) -> &Client {
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        &self.inner.readers[i % self.inner.readers.len()]
    }

    fn encode(&self, events: &[NewEvent]) -> Vec<EncodedNew> {
        events
            .iter()
            .map(|e| {
                let encoded = self.inner.codec.encode(&e.event);
                EncodedNew {
                    id: e.id.as_uuid(),
                    event_type: encoded.event_type,
                    schema_version: encoded.schema_version as i32,
                    payload: encoded.payload,
                    occurred_at: micros(e.metadata.occurred_at),
                    actor_subject: e.metadata.actor.subject.clone(),
                    actor_role: e.metadata.actor.role.name(),
                    site: e.metadata.site.as_ref().map(|s| s.to_string()),
                    correlation_id: e.metadata.correlation_id,
                    causation_id: e.metadata.causation_id,
                }
            })
            .collect()
    }

    /// Up to `limit` events after `after`, stopping at the first that fails to
    /// decode: what decoded before it, and the error.
    async fn read_all_partial(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<(Vec<RecordedEvent>, Option<StoreError>), StoreError> {
        let rows = self
            .reader()
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
                ),
                &[
                    &(after.raw() as i64),
                    &(limit.min(i64::MAX as usize) as i64),
                ],
            )
            .await
            .map_err(db_err("reading the log"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode_row(row, &self.inner.codec) {
                Ok(e) => out.push(e),
                Err(e) => return Ok((out, Some(e))),
            }
        }
        Ok((out, None))
    }

    /// Read-model checkpoints kept in this database.
    pub fn snapshots(&self) -> PgSnapshots {
        PgSnapshots {
            store: self.clone(),
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// Tries to become the one process running the projection `name`: a session
    /// advisory lock on a connection of its own, held as long as the returned
    /// [`Leadership`] lives (and released by PostgreSQL when this process dies).
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    pub async fn try_lead(&self, name: &str) -> Result<Option<Leadership>, StoreError> {
        let (client, driver) = connect(&self.inner.config, &self.inner.schema, None).await?;
        let key = format!("careledger-projection:{}:{name}", self.inner.schema);
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key])
            .await
            .map_err(db_err("taking the projection lock"))?
            .get(0);
        if got {
            Ok(Some(Leadership {
                client,
                _driver: DropAbort(driver),
            }))
        } else {
            driver.abort();
            Ok(None)
        }
    }
}

struct DropAbort(JoinHandle<()>);

impl Drop for DropAbort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This process runs a projection while this lives (see [`PgEventStore::try_lead`]).
pub struct Leadership {
    client: Client,
    _driver: DropAbort,
}

impl Leadership {
    /// False once the lock's connection is gone (the database restarted, the network
    /// failed): another process may lead now.
    pub fn is_held(&self) -> bool {
        !self.client.is_closed()
    }
}

fn decode_row(row: &Row, codec: &Codec) -> Result<RecordedEvent, StoreError> {
    let get_err = |e: tokio_postgres::Error| unavailable(format!("reading a stored event: {e}"));
    let stream: &str = row.try_get(2).map_err(get_err)?;
    let version = row.try_get::<_, i64>(3).map_err(get_err)? as u64;
    let event_type: &str = row.try_get(4).map_err(get_err)?;
    let schema_version = row.try_get::<_, i32>(5).map_err(get_err)? as u32;
    let corrupt = |detail: String| StoreError::Corrupt {
        stream: stream.to_string(),
        version,
        event_type: event_type.to_string(),
        schema_version,
        detail,
    };
    let payload: &[u8] = row.try_get(6).map_err(get_err)?;
    let event = codec.decode(
        StoredAt { stream, version },
        event_type,
        schema_version,
        payload,
    )?;
    let role_name: &str = row.try_get(10).map_err(get_err)?;
    let role = Role::from_name(role_name)
        .ok_or_else(|| corrupt(format!("unknown actor role '{role_name}'")))?;
    let site = match row.try_get::<_, Option<&str>>(11).map_err(get_err)? {
        None => None,
        Some(s) => Some(SiteId::parse(s).map_err(|e| corrupt(e.to_string()))?),
    };
    let stream_name =
        StreamName::parse_owned(stream.to_string()).map_err(|e| corrupt(e.to_string()))?;
    Ok(RecordedEvent {
        id: EventId::from_uuid(row.try_get(1).map_err(get_err)?),
        stream: stream_name,
        version,
        position: Position::new(row.try_get::<_, i64>(0).map_err(get_err)? as u64),
        recorded_at: from_micros(row.try_get(8).map_err(get_err)?),
        event,
        metadata: EventMetadata {
            occurred_at: from_micros(row.try_get(7).map_err(get_err)?),
            actor: Actor {
                subject: row.try_get::<_, &str>(9).map_err(get_err)?.to_string(),
                role,
            },
            site,
            correlation_id: row.try_get(12).map_err(get_err)?,
            causation_id: row.try_get(13).map_err(get_err)?,
        },
    })
}

// ---------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------

struct Writer {
    client: Client,
    config: Config,
    schema: String,
    clock: Arc<dyn Clock>,
    head: Arc<watch::Sender<u64>>,
    max_batch: usize,
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
    async fn run(mut self, rx: mpsc::Receiver<WriteMsg<AppendRequest>>) {
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

// ---------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------

impl EventStore for PgEventStore {
    fn append(
        &self,
        stream: StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'_, Result<Appended, StoreError>> {
        Box::pin(async move {
            careledger_domain::store::check_append(&stream, &events)?;
            let events = self.encode(&events);
            let (reply, answer) = oneshot::channel();
            self.inner
                .writer
                .send(WriteMsg::Append(AppendRequest {
                    stream,
                    expected,
                    events,
                    reply,
                }))
                .await
                .map_err(|_| unavailable("the store is closed"))?;
            answer
                .await
                .map_err(|_| unavailable("the writer stopped before answering"))?
        })
    }

    fn read_stream(
        &self,
        stream: StreamName,
        from_version: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .reader()
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM events WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3"
                    ),
                    &[
                        &stream.as_str(),
                        &(from_version.min(i64::MAX as u64) as i64),
                        &(limit.min(i64::MAX as usize) as i64),
                    ],
                )
                .await
                .map_err(db_err("reading a stream"))?;
            rows.iter()
                .map(|r| decode_row(r, &self.inner.codec))
                .collect()
        })
    }

    fn read_audit(
        &self,
        filter: careledger_domain::store::AuditFilter,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            let after = after.raw() as i64;
            let limit = limit.min(i64::MAX as usize) as i64;
            let stream = filter.stream.as_ref().map(|s| s.to_string());
            let from = filter.from.map(micros);
            let to = filter.to.map(micros);
            let sites: Option<Vec<String>> = filter
                .sites
                .as_ref()
                .map(|v| v.iter().map(|s| s.to_string()).collect());
            let mut sql = format!("SELECT {COLUMNS} FROM events WHERE position > $1");
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&after];
            if let Some(s) = &stream {
                params.push(s);
                sql.push_str(&format!(" AND stream = ${}", params.len()));
            }
            if let Some(a) = &filter.actor {
                params.push(a);
                sql.push_str(&format!(" AND actor_subject = ${}", params.len()));
            }
            if let Some(t) = &from {
                params.push(t);
                sql.push_str(&format!(" AND recorded_at >= ${}", params.len()));
            }
            if let Some(t) = &to {
                params.push(t);
                sql.push_str(&format!(" AND recorded_at < ${}", params.len()));
            }
            if let Some(s) = &sites {
                params.push(s);
                sql.push_str(&format!(" AND site = ANY(${})", params.len()));
            }
            params.push(&limit);
            sql.push_str(&format!(" ORDER BY position LIMIT ${}", params.len()));
            let rows = self
                .reader()
                .query(&sql, &params)
                .await
                .map_err(db_err("reading the audit trail"))?;
            rows.iter()
                .map(|r| decode_row(r, &self.inner.codec))
                .collect()
        })
    }

    fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        Box::pin(async move {
            match self.read_all_partial(after, limit).await? {
                (events, None) => Ok(events),
                (_, Some(e)) => Err(e),
            }
        })
    }

    fn subscribe_all(&self, after: Position) -> Box<dyn Subscription> {
        Box::new(PgSubscription {
            store: self.clone(),
            after,
            buffer: VecDeque::new(),
            error: None,
            head: self.inner.head.clone(),
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<Position, StoreError>> {
        Box::pin(async move {
            let head: i64 = self
                .reader()
                .query_one("SELECT position FROM log_head", &[])
                .await
                .map_err(db_err("reading the log head"))?
                .get(0);
            Ok(Position::new(head as u64))
        })
    }
}

/// Events a subscription reads per page.
pub const PG_PAGE: usize = 4_096;
/// A caught-up subscription re-reads this often even without a notification.
const FALLBACK_POLL: Duration = Duration::from_millis(500);

struct PgSubscription {
    store: PgEventStore,
    after: Position,
    buffer: VecDeque<RecordedEvent>,
    /// The error that stopped the last page, returned once its good events are out.
    error: Option<StoreError>,
    head: watch::Receiver<u64>,
}

impl Subscription for PgSubscription {
    fn next(&mut self) -> BoxFuture<'_, Result<RecordedEvent, StoreError>> {
        Box::pin(async move {
            loop {
                if let Some(e) = self.buffer.pop_front() {
                    self.after = e.position;
                    return Ok(e);
                }
                if let Some(e) = self.error.take() {
                    return Err(e);
                }
                // Mark the head seen before reading, so a commit between the read
                // and the wait still wakes us.
                self.head.borrow_and_update();
                let (page, error) = self.store.read_all_partial(self.after, PG_PAGE).await?;
                if page.is_empty() && error.is_none() {
                    let _ = tokio::time::timeout(FALLBACK_POLL, self.head.changed()).await;
                    continue;
                }
                self.buffer.extend(page);
                self.error = error;
            }
        })
    }
}

/// Read-model checkpoints in the `snapshots` table. The port is synchronous (the
/// runner saves from a blocking task), so calls block on the store's runtime.
pub struct PgSnapshots {
    store: PgEventStore,
    handle: tokio::runtime::Handle,
}

impl PgSnapshots {
    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(|| self.handle.block_on(f)),
            Err(_) => self.handle.block_on(f),
        }
    }
}

fn io_err(e: tokio_postgres::Error) -> std::io::Error {
    std::io::Error::other(describe(&e))
}

impl SnapshotStore for PgSnapshots {
    fn load(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.block(async {
            let row = self
                .store
                .reader()
                .query_opt("SELECT bytes FROM snapshots WHERE name = $1", &[&name])
                .await
                .map_err(io_err)?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })
    }
    fn save(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.block(async {
            self.store
                .reader()
                .execute(
                    "INSERT INTO snapshots (name, bytes) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, saved_at = now()",
                    &[&name, &bytes],
                )
                .await
                .map_err(io_err)?;
            Ok(())
        })
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.block(async {
            self.store
                .reader()
                .execute("DELETE FROM snapshots WHERE name = $1", &[&name])
                .await
                .map_err(io_err)?;
            Ok(())
        })
    }
}
