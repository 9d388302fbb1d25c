//! The `EventStore` port over the store, and subscriptions: pages after a position,
//! then waiting on the writer's head (read ahead while catching up).

use super::read::read_rows;
use super::request::AppendRequest;
use super::schema::SELECT_COLUMNS;
use super::schema::{micros, unavailable};
use super::store::SqliteEventStore;
use crate::group_commit::WriteMsg;
use careledger_domain::store::{
    Appended, BoxFuture, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent,
    StoreError, StreamName, Subscription,
};
use rusqlite::params;
use std::collections::VecDeque;
use tokio::sync::{oneshot, watch};

impl EventStore for SqliteEventStore {
    fn append(
        &self,
        stream: StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'_, Result<Appended, StoreError>> {
        Box::pin(async move {
            careledger_domain::store::check_append(&stream, &events)?;
            // Encoding happens here, on the caller's task, so it runs in parallel
            // with the writer's inserts instead of inside the batch.
            let events = self.encode(&events);
            let (reply, answer) = oneshot::channel();
            let request = AppendRequest {
                stream,
                expected,
                events,
                reply,
            };
            self.inner
                .writer()
                .send(WriteMsg::Append(request))
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
        // Nothing past the published head: it may not be durable yet.
        let head = self.inner.durable_head();
        Box::pin(self.with_reader(move |inner, conn| {
            read_rows(
                conn,
                &inner.codec,
                &format!(
                    "{SELECT_COLUMNS} WHERE stream = ?1 AND version >= ?2 AND position <= ?4 ORDER BY version LIMIT ?3"
                ),
                params![
                    stream.as_str(),
                    from_version as i64,
                    limit.min(i64::MAX as usize) as i64,
                    head
                ],
            )
        }))
    }

    fn read_audit(
        &self,
        filter: careledger_domain::store::AuditFilter,
        after: Position,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>> {
        use rusqlite::types::Value;
        // Nothing past the published head: it may not be durable yet.
        let mut sql = format!("{SELECT_COLUMNS} WHERE position > ?1 AND position <= ?2");
        let mut params: Vec<Value> = vec![
            Value::Integer(after.raw() as i64),
            Value::Integer(self.inner.durable_head()),
        ];
        let mut bind = |sql: &mut String, clause: &str, v: Value| {
            params.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
        };
        if let Some(st) = &filter.stream {
            bind(&mut sql, " AND stream = ?", Value::Text(st.to_string()));
        }
        if let Some(a) = &filter.actor {
            bind(&mut sql, " AND actor_subject = ?", Value::Text(a.clone()));
        }
        if let Some(t) = filter.from {
            bind(&mut sql, " AND recorded_at >= ?", Value::Integer(micros(t)));
        }
        if let Some(t) = filter.to {
            bind(&mut sql, " AND recorded_at < ?", Value::Integer(micros(t)));
        }
        if let Some(sites) = &filter.sites {
            let mut list = Vec::new();
            for s in sites {
                params.push(Value::Text(s.to_string()));
                list.push(format!("?{}", params.len()));
            }
            if list.is_empty() {
                sql.push_str(" AND 0");
            } else {
                sql.push_str(&format!(" AND site IN ({})", list.join(",")));
            }
        }
        params.push(Value::Integer(limit.min(i64::MAX as usize) as i64));
        sql.push_str(&format!(" ORDER BY position LIMIT ?{}", params.len()));
        Box::pin(self.with_reader(move |inner, conn| {
            read_rows(
                conn,
                &inner.codec,
                &sql,
                rusqlite::params_from_iter(params.iter()),
            )
        }))
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
        Box::new(SqliteSubscription {
            store: self.clone(),
            after,
            buffer: VecDeque::new(),
            head: self.inner.head.clone(),
            ahead: None,
        })
    }

    fn head(&self) -> BoxFuture<'_, Result<Position, StoreError>> {
        let head = *self.inner.head.borrow();
        Box::pin(async move { Ok(Position::new(head)) })
    }
}

/// How many events a subscription reads per page while catching up; also a good
/// page size for callers replaying the log with `read_all` (large enough to amortise
/// the parallel read's set-up, small enough to keep a page's memory to a few MB).
pub const REPLAY_PAGE: usize = 16_384;

/// A page read: the events that decoded, and the error that stopped it, if any.
type PartialPage = (Vec<RecordedEvent>, Option<StoreError>);

struct SqliteSubscription {
    store: SqliteEventStore,
    after: Position,
    buffer: VecDeque<RecordedEvent>,
    head: watch::Receiver<u64>,
    /// While catching up, the next page is read while the consumer drains this one.
    ahead: Option<tokio::task::JoinHandle<Result<PartialPage, StoreError>>>,
}

impl SqliteSubscription {
    /// Delivers a page: fills the buffer and, when the page was full (more is likely
    /// waiting), starts reading the one after it. Returns the page's error when
    /// nothing before it decoded.
    fn take_page(&mut self, (page, error): PartialPage) -> Option<StoreError> {
        if page.is_empty() {
            return error;
        }
        if error.is_none() && page.len() == REPLAY_PAGE {
            let store = self.store.clone();
            let last = page.last().expect("not empty").position;
            self.ahead = Some(tokio::spawn(async move {
                store.read_all_partial(last, REPLAY_PAGE).await
            }));
        }
        // Deliver what decoded; a bad event is read (and fails) again next time.
        self.buffer.extend(page);
        None
    }
}

impl Drop for SqliteSubscription {
    fn drop(&mut self) {
        if let Some(h) = self.ahead.take() {
            h.abort();
        }
    }
}

impl Subscription for SqliteSubscription {
    fn next(&mut self) -> BoxFuture<'_, Result<RecordedEvent, StoreError>> {
        Box::pin(async move {
            loop {
                if let Some(e) = self.buffer.pop_front() {
                    self.after = e.position;
                    return Ok(e);
                }
                // The buffer is drained, so a page read ahead starts exactly after it.
                if let Some(ahead) = self.ahead.take() {
                    let page = ahead
                        .await
                        .map_err(|e| unavailable(format!("read task failed: {e}")))??;
                    if let Some(e) = self.take_page(page) {
                        return Err(e);
                    }
                    continue;
                }
                // Mark the head as seen *before* reading, so a commit that lands
                // between the read and the wait still wakes us.
                let head = *self.head.borrow_and_update();
                if head > self.after.raw() {
                    let page = self.store.read_all_partial(self.after, REPLAY_PAGE).await?;
                    let delivered = !page.0.is_empty();
                    if let Some(e) = self.take_page(page) {
                        return Err(e);
                    }
                    if delivered {
                        continue;
                    }
                }
                if self.head.changed().await.is_err() {
                    // The writer is gone (store closed): nothing more will commit.
                    return Err(unavailable("the store is closed"));
                }
            }
        })
    }
}
