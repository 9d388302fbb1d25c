//! The `EventStore` port over the store: reads, decoding a row, and subscriptions
//! (woken by `pg_notify`, with a fallback re-read).

use super::connection::{db_err, unavailable};
use super::request::AppendRequest;
use super::row::{decode_row, micros};
use super::schema::COLUMNS;
use super::store::PgEventStore;
use crate::group_commit::WriteMsg;
use careledger_domain::store::{
    Appended, BoxFuture, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, StreamName, Subscription,
};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

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
