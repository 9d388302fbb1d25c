//! [`PgEventStore`]: opening (connections, migration, the writer task, the
//! listener), reading pages, and projection leadership.

use super::connection::{
    channel, connect, db_err, describe, migrate, redacted, unavailable, valid_schema,
};
use super::request::{AppendRequest, EncodedNew};
use super::row::decode_row;
use super::row::micros;
use super::schema::{COLUMNS, PgOptions};
use super::writer::Writer;
use crate::codec::Codec;
use crate::group_commit::WriteMsg;
use careledger_domain::store::{Clock, NewEvent, Position, RecordedEvent, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config};

/// The store. Cheap to clone: clones share the connections and the writer.
#[derive(Clone)]
pub struct PgEventStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    config: Config,
    schema: String,
    pub(super) codec: Codec,
    pub(super) writer: mpsc::Sender<WriteMsg<AppendRequest>>,
    readers: Vec<Client>,
    next_reader: AtomicUsize,
    pub(super) head: watch::Receiver<u64>,
    /// Connection drivers, the writer and the listener, stopped at close.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Kept open for `LISTEN`.
    _listener: Client,
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

    pub(super) fn reader(&self) -> &Client {
        let i = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        &self.inner.readers[i % self.inner.readers.len()]
    }

    pub(super) fn encode(&self, events: &[NewEvent]) -> Vec<EncodedNew> {
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
    pub(super) async fn read_all_partial(
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
