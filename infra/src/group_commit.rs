//! The queue both group-committing writers (SQLite's thread, PostgreSQL's task)
//! drain: take the first message, then everything already queued up to a bound of
//! events, stopping at a shutdown; on shutdown, refuse what raced it.

use careledger_domain::store::StoreError;
use tokio::sync::{mpsc, oneshot};

/// What a writer is sent.
pub(crate) enum WriteMsg<R> {
    Append(R),
    Shutdown(oneshot::Sender<()>),
}

/// A queued append: how many events it holds, and how to refuse it.
pub(crate) trait Queued {
    fn events(&self) -> usize;
    fn refuse(self, e: StoreError);
}

/// One round of the writer: the appends to commit together, and the shutdown
/// acknowledgement if a shutdown ended the round.
pub(crate) struct Round<R> {
    pub batch: Vec<R>,
    pub shutdown: Option<oneshot::Sender<()>>,
}

pub(crate) struct Queue<R> {
    rx: mpsc::Receiver<WriteMsg<R>>,
    /// An append that did not fit the last batch; it starts the next.
    pending: Option<WriteMsg<R>>,
    max_batch: usize,
}

impl<R: Queued> Queue<R> {
    pub fn new(rx: mpsc::Receiver<WriteMsg<R>>, max_batch: usize) -> Self {
        Self {
            rx,
            pending: None,
            max_batch: max_batch.max(1),
        }
    }

    /// The next round, waiting on this thread (`None`: every sender dropped).
    pub fn next_blocking(&mut self) -> Option<Round<R>> {
        let first = match self.pending.take() {
            Some(m) => m,
            None => self.rx.blocking_recv()?,
        };
        Some(self.gather(first))
    }

    /// The next round (`None`: every sender dropped).
    pub async fn next(&mut self) -> Option<Round<R>> {
        let first = match self.pending.take() {
            Some(m) => m,
            None => self.rx.recv().await?,
        };
        Some(self.gather(first))
    }

    fn gather(&mut self, first: WriteMsg<R>) -> Round<R> {
        let mut round = Round {
            batch: Vec::new(),
            shutdown: None,
        };
        let mut events = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriteMsg::Shutdown(ack) => {
                    round.shutdown = Some(ack);
                    break;
                }
                WriteMsg::Append(req) => {
                    if events > 0 && events + req.events() > self.max_batch {
                        self.pending = Some(WriteMsg::Append(req));
                        break;
                    }
                    events += req.events();
                    round.batch.push(req);
                }
            }
            next = self.rx.try_recv().ok();
        }
        round
    }

    /// Closes the queue: appends that raced the shutdown are refused, not lost
    /// silently; then the shutdown is acknowledged.
    pub fn close(&mut self, ack: oneshot::Sender<()>) {
        self.rx.close();
        if let Some(WriteMsg::Append(req)) = self.pending.take() {
            req.refuse(closed());
        }
        while let Ok(msg) = self.rx.try_recv() {
            if let WriteMsg::Append(req) = msg {
                req.refuse(closed());
            }
        }
        let _ = ack.send(());
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable {
        detail: "the store is closed".into(),
    }
}
