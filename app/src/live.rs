//! Live updates (issue 16): a caller follows a topic — a site's case work, or
//! the referrals addressed to one of their organisations — from a position of the
//! log: first what it missed after that position, then each change as the
//! projection folds it, each change once, in log order, across reconnects (a
//! client resumes with the position of the last change it received).
//!
//! The changes come from the projection's ring of recent changes
//! ([`careledger_projections::changes`]); a follower whose position is older
//! than the ring (a replay from long ago, or a consumer slower than the ring is
//! long) reads the log instead, page by page, and then returns to the ring. No
//! follower ever makes the projection wait: a slow one only falls back to the log.
//!
//! At most two followers read the log at once (`App::log_readers`); the others
//! wait their turn. A change read again from the log names the service's
//! organisation as the directory records it now (as the inbox does), which
//! differs from what was sent live only if the service changed organisation.
//!
//! Authorisation is checked once, when following starts, with the rules of the
//! matching read ([`Action::ReadCasework`] at the site, [`Action::ReadInbox`] for
//! the organisation); the edge ends a subscription when its credential expires.

use crate::policy::{Access, Action};
use crate::{App, AppError};
use careledger_domain::store::{EventStore, Position};
use careledger_projections::changes::{Change, Following, Topic, change_of};
use careledger_projections::runner::Projector;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::watch;

/// Events read per page when a follower reads the log.
const PAGE: usize = 1_024;

/// One caller following one topic. Dropping it stops following.
pub struct Follower {
    store: Arc<dyn EventStore>,
    projector: Arc<Projector>,
    topic: Topic,
    wake: watch::Receiver<Position>,
    _following: Following,
    /// Every change up to here was examined: delivered, or in `pending`.
    scanned: Position,
    pending: VecDeque<Arc<Change>>,
    readers: Arc<tokio::sync::Semaphore>,
}

impl App {
    /// Follows `topic` after `after` (from now when `None`).
    ///
    /// # Errors
    /// [`AppError::Forbidden`] when the caller may not read the topic's data.
    pub fn follow(
        &self,
        access: &Access,
        topic: Topic,
        after: Option<Position>,
    ) -> Result<Follower, AppError> {
        match &topic {
            Topic::Site(site) => access.check_at(Action::ReadCasework, site)?,
            Topic::Organisation(org) => access.check_for(Action::ReadInbox, org)?,
        }
        let (wake, following) = self.projector.feed().follow(&topic);
        let scanned = after.unwrap_or_else(|| self.projector.position());
        Ok(Follower {
            store: self.store.clone(),
            projector: self.projector.clone(),
            topic,
            wake,
            _following: following,
            scanned,
            pending: VecDeque::new(),
            readers: self.log_readers.clone(),
        })
    }
}

impl Follower {
    /// The next change of the topic, waiting for it as long as it takes.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the log cannot be read (the follower may
    /// be asked again: it resumes where it stopped).
    pub async fn next(&mut self) -> Result<Arc<Change>, AppError> {
        loop {
            if let Some(c) = self.pending.pop_front() {
                return Ok(c);
            }
            // Marked seen before the position is read: a change published after
            // this wakes the wait below; one published before is within `reached`.
            self.wake.borrow_and_update();
            let reached = self.projector.position();
            if reached > self.scanned {
                match self
                    .projector
                    .feed()
                    .since(self.scanned, reached, &self.topic)
                {
                    Some(changes) => {
                        self.pending.extend(changes);
                        self.scanned = reached;
                    }
                    None => self.read_log(reached).await?,
                }
                continue;
            }
            if self.wake.changed().await.is_err() {
                // The feed is gone (the server is stopping): wait for nothing.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The position up to which every change was delivered or is pending.
    pub fn position(&self) -> Position {
        self.scanned
    }

    /// Reads one page of the log after `scanned`, no further than `reached`
    /// (the model folded up to there, so it knows every need case it names).
    async fn read_log(&mut self, reached: Position) -> Result<(), AppError> {
        let _turn = self
            .readers
            .clone()
            .acquire_owned()
            .await
            .map_err(AppError::unavailable)?;
        let page = self
            .store
            .read_all(self.scanned, PAGE)
            .await
            .map_err(AppError::unavailable)?;
        let m = self.projector.read();
        let mut last = self.scanned;
        for e in page.iter().take_while(|e| e.position <= reached) {
            last = e.position;
            if let Some(c) = change_of(&m, e).filter(|c| c.concerns(&self.topic)) {
                self.pending.push_back(Arc::new(c));
            }
        }
        // A page that ends before `reached` leaves the rest for the next call;
        // an empty one (the log holds nothing more) means everything is scanned.
        self.scanned = if page.last().is_some_and(|e| e.position < reached) {
            last
        } else {
            reached
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests;
