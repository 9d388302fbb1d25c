//! The change feed live subscriptions follow: what each folded event of a need
//! case changed, by topic (a site, or the organisation a referral is addressed
//! to), kept in a bounded ring of recent changes.
//!
//! * [`change_of`] — the change one recorded event makes, from the event and the
//!   model's stable facts (a need case's site, a service's organisation): the same
//!   answer whether the event is folded now or read again from the log later, so a
//!   subscriber replaying from the log sees what a live one saw.
//! * [`ChangeFeed`] — the recent changes, in log order, and one `watch` channel per
//!   topic that somebody follows. The projection runner records each change before
//!   it publishes the position it reached and wakes the change's topics after, so
//!   a follower that reads the position and then the ring never misses a change
//!   ([`ChangeFeed::since`]); a follower whose position fell out of the ring (a slow
//!   consumer, or a replay from long ago) reads the log instead — the ring is a
//!   cache, never the only copy. With nobody following, nothing is kept.
//!
//! A change carries identifiers and codes only: no names, no free text.

use crate::casework::Casework;
use careledger_domain::DomainEvent;
use careledger_domain::ids::{NeedCaseId, OrganisationId, ReferralId, ServiceId};
use careledger_domain::need_case::{ErrorTarget, NeedCaseEvent, ReferralStatus};
use careledger_domain::store::{Position, RecordedEvent};
use careledger_domain::values::SiteId;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// What one event changed in a need case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub position: Position,
    pub need_case: NeedCaseId,
    /// The need case's site (fixed when it was identified).
    pub site: SiteId,
    /// The event's type, e.g. `ReferralAccepted`.
    pub event_type: &'static str,
    /// When it happened in care.
    pub occurred_at: DateTime<Utc>,
    /// The referral the event moved, if it moved one.
    pub referral: Option<ReferralChange>,
    /// What the edge rendered of this change, kept with it so that every
    /// subscriber asking for the same shape shares one rendering.
    pub rendered: Renderings,
}

/// Renderings of one [`Change`], each under the key of its shape (e.g. the
/// selection a subscription asked for), at most [`Renderings::MAX`] of them. Not
/// part of the change's value: a clone starts empty, and any two compare equal.
#[derive(Default)]
pub struct Renderings(Mutex<Vec<(Arc<str>, Arc<str>)>>);

impl Renderings {
    /// Shapes kept per change; a rarer one is rendered each time it is asked.
    pub const MAX: usize = 8;

    /// The rendering of shape `key`, made by `render` the first time it is asked.
    pub fn get_or_render(&self, key: &Arc<str>, render: impl FnOnce() -> String) -> Arc<str> {
        let mut kept = lock(&self.0);
        if let Some((_, r)) = kept
            .iter()
            .find(|(k, _)| Arc::ptr_eq(k, key) || **k == **key)
        {
            return r.clone();
        }
        let r: Arc<str> = render().into();
        if kept.len() < Self::MAX {
            kept.push((key.clone(), r.clone()));
        }
        r
    }
}

impl Clone for Renderings {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for Renderings {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Renderings {}

impl std::fmt::Debug for Renderings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderings")
    }
}

/// The referral part of a [`Change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralChange {
    pub referral: ReferralId,
    pub service: ServiceId,
    /// The service's organisation, as the directory records it.
    pub organisation: Option<OrganisationId>,
    /// The status the event moved the referral to; `None` when it did not move
    /// it (a note, a consent withdrawal, an answer link).
    pub status: Option<ReferralStatus>,
}

/// Who follows a change: everyone reading a site's case work, or the staff of the
/// organisation a referral is addressed to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Site(SiteId),
    Organisation(OrganisationId),
}

impl Change {
    /// Whether the change belongs to `topic`.
    pub fn concerns(&self, topic: &Topic) -> bool {
        match topic {
            Topic::Site(s) => *s == self.site,
            Topic::Organisation(o) => self
                .referral
                .as_ref()
                .is_some_and(|r| r.organisation == Some(*o)),
        }
    }

    fn topics(&self) -> impl Iterator<Item = Topic> + '_ {
        let org = self
            .referral
            .as_ref()
            .and_then(|r| r.organisation)
            .map(Topic::Organisation);
        std::iter::once(Topic::Site(self.site.clone())).chain(org)
    }
}

/// The referral an event concerns and the status it moves it to, as the event
/// alone says.
fn referral_moved_by(ev: &NeedCaseEvent) -> Option<(ReferralId, Option<ReferralStatus>)> {
    use NeedCaseEvent as E;
    use ReferralStatus as S;
    Some(match ev {
        E::ReferralRequested(e) => (e.referral, Some(S::Requested)),
        E::ReferralAccepted(e) => (e.referral, Some(S::Accepted)),
        E::ReferralRejected(e) => (e.referral, Some(S::Rejected)),
        E::ReferralWaitlisted(e) => (e.referral, Some(S::OnHold)),
        E::ReferralStarted(e) => (e.referral, Some(S::InProgress)),
        E::ReferralCompleted(e) => (e.referral, Some(S::Completed)),
        E::ReferralFailed(e) => (e.referral, Some(S::Failed)),
        E::ReferralCancelled(e) => (e.referral, Some(S::Cancelled)),
        E::ReferralConsentWithdrawn(e) => (e.referral, None),
        E::ReferralNoteAdded(e) => (e.referral, None),
        E::AnswerLinkIssued(e) => (e.referral, None),
        E::EnteredInError(e) => match e.target {
            ErrorTarget::Referral { referral } => (referral, Some(S::EnteredInError)),
            ErrorTarget::NeedCase => return None,
        },
        E::NeedIdentified(_) | E::ServicesSuggested(_) | E::NeedClosed(_) => return None,
    })
}

/// The change `e` makes, if it is an event of a need case the model holds.
/// The referral's status comes from the event (so a replay from the log gives
/// what was live); the site and the service's organisation from `model`.
pub fn change_of(model: &Casework, e: &RecordedEvent) -> Option<Change> {
    let DomainEvent::NeedCase(ev) = &e.event else {
        return None;
    };
    let need_case = e
        .stream
        .as_str()
        .strip_prefix(NeedCaseId::PREFIX)
        .and_then(|s| s.strip_prefix('-'))
        .and_then(|s| NeedCaseId::parse(s).ok())?;
    let view = model.need_case(need_case)?;
    let site = view.site()?.clone();
    let referral = referral_moved_by(ev).and_then(|(id, status)| {
        let r = view.state.referral(id)?;
        Some(ReferralChange {
            referral: id,
            service: r.service,
            organisation: model
                .directory()
                .service(r.service)
                .and_then(|s| s.state.data())
                .and_then(|d| d.profile.organisation_id),
            status,
        })
    });
    Some(Change {
        position: e.position,
        need_case,
        site,
        event_type: e.event.event_type(),
        occurred_at: e.metadata.occurred_at,
        referral,
        rendered: Renderings::default(),
    })
}

/// Recent changes and who is waiting for them.
pub struct ChangeFeed {
    ring: Mutex<Ring>,
    topics: Mutex<HashMap<Topic, watch::Sender<Position>>>,
}

struct Ring {
    changes: VecDeque<Arc<Change>>,
    /// Every change after this position is in `changes`.
    floor: Position,
    capacity: usize,
    /// Live followers; with none, nothing is kept.
    followers: usize,
}

/// How many recent changes are kept while somebody follows.
pub const RING_CAPACITY: usize = 16_384;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ChangeFeed {
    /// An empty feed whose changes start after `start` (the model's position).
    pub fn new(start: Position, capacity: usize) -> Self {
        Self {
            ring: Mutex::new(Ring {
                changes: VecDeque::new(),
                floor: start,
                capacity: capacity.max(1),
                followers: 0,
            }),
            topics: Mutex::new(HashMap::new()),
        }
    }

    /// Records the change the event at `position` made (computed only when
    /// somebody follows). Call before publishing `position`; then [`Self::notify`].
    pub fn record(
        &self,
        position: Position,
        change: impl FnOnce() -> Option<Change>,
    ) -> Option<Arc<Change>> {
        let mut ring = lock(&self.ring);
        if ring.followers == 0 {
            ring.changes.clear();
            ring.floor = position;
            return None;
        }
        let c = Arc::new(change()?);
        ring.changes.push_back(c.clone());
        while ring.changes.len() > ring.capacity {
            if let Some(old) = ring.changes.pop_front() {
                ring.floor = old.position;
            }
        }
        Some(c)
    }

    /// Wakes the followers of the change's topics (after the position is published).
    pub fn notify(&self, change: &Change) {
        let mut topics = lock(&self.topics);
        for t in change.topics() {
            if let Some(tx) = topics.get(&t) {
                if tx.receiver_count() == 0 {
                    topics.remove(&t);
                } else {
                    tx.send_replace(change.position);
                }
            }
        }
    }

    /// Starts following `topic`: a receiver woken by each of its changes, and a
    /// guard that keeps the ring filling while it lives.
    pub fn follow(self: &Arc<Self>, topic: &Topic) -> (watch::Receiver<Position>, Following) {
        lock(&self.ring).followers += 1;
        let following = Following(self.clone());
        let rx = lock(&self.topics)
            .entry(topic.clone())
            .or_insert_with(|| watch::channel(Position::START).0)
            .subscribe();
        (rx, following)
    }

    /// The changes of `topic` after `after` up to `until`, in log order, or `None`
    /// when some of them are no longer kept (read the log instead).
    pub fn since(
        &self,
        after: Position,
        until: Position,
        topic: &Topic,
    ) -> Option<Vec<Arc<Change>>> {
        let ring = lock(&self.ring);
        if after < ring.floor {
            return None;
        }
        let start = ring.changes.partition_point(|c| c.position <= after);
        Some(
            ring.changes
                .range(start..)
                .take_while(|c| c.position <= until)
                .filter(|c| c.concerns(topic))
                .cloned()
                .collect(),
        )
    }

    /// Live followers now.
    pub fn followers(&self) -> usize {
        lock(&self.ring).followers
    }
}

/// Keeps the feed's ring filling; dropped when a follower stops.
pub struct Following(Arc<ChangeFeed>);

impl Drop for Following {
    fn drop(&mut self) {
        let mut ring = lock(&self.0.ring);
        ring.followers = ring.followers.saturating_sub(1);
    }
}
