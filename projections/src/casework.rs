//! The coordinators' read model: one view per need case, one per care recipient,
//! the set of unfinished need cases that worklists and overdue filters scan, and
//! the service directory with each service's load ([`Directory`]).
//!
//! A need-case view is the domain's own `NeedCase` state (folded with the same
//! `apply` the command side uses) plus what only the log's metadata knows: the
//! stream version, the global position, when it last changed in care, and who
//! identified it and who requested its latest referral (pseudonymous subjects).

use crate::directory::Directory;
use crate::equity::cube::Cube;
use careledger_domain::DomainEvent;
use careledger_domain::aggregate::Aggregate;
use careledger_domain::ids::{NeedCaseId, RecipientId, ReferralId, ServiceId};
use careledger_domain::need_case::{NeedCase, NeedCaseData, NeedCaseEvent, NeedStatus, Referral};
use careledger_domain::recipient::RecipientEvent;
use careledger_domain::store::{Position, RecordedEvent};
use careledger_domain::values::{NeedCode, NeedDomain, SiteId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

pub(crate) use parts::CubeRow;
pub use parts::{Rejections, view_version};
pub use recipient_view::{PersonalData, RecipientView};

/// One need case as the API shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NeedCaseView {
    pub state: NeedCase,
    /// The stream's version: the `expectedVersion` for the next command. Four
    /// bytes (a view is one of a million): a need case's stream would need
    /// 2^32 events, hundreds of gigabytes, to reach its ceiling, where it stays.
    #[serde(deserialize_with = "parts::saturating_u32")]
    pub version: u32,
    /// Global position of the latest event.
    pub position: u64,
    /// When the latest event happened in care (what "overdue" measures from).
    #[serde(with = "careledger_domain::timestamp::compact")]
    pub updated_at: DateTime<Utc>,
    /// Actor subjects are interned: a handful of accounts write a million need cases.
    pub identified_by: careledger_domain::values::Atom,
    /// Who requested the latest referral.
    pub referred_by: Option<careledger_domain::values::Atom>,
    /// Rejected referrals by reason (`equity::cube::REJECTION_REASONS` order).
    #[serde(default)]
    pub rejections: Rejections,
    /// Its row in the equity cube (which holds its cells' key), once interned.
    #[serde(default)]
    pub(crate) equity_row: CubeRow,
    /// What the log knows of each referral and the state does not keep (its
    /// version, server time, end reason: see [`referral_log`]).
    #[serde(default)]
    /// A boxed slice, not a `Vec`: 8 bytes less in every view (it grows by one
    /// referral at a time, rarely).
    pub referral_log: Box<[referral_log::ReferralLog]>,
    /// The server's time of the latest event (when this version became readable).
    #[serde(default)]
    #[serde(with = "careledger_domain::timestamp::compact")]
    pub recorded_at: DateTime<Utc>,
}

impl NeedCaseView {
    /// Folds one event of the need case's stream.
    pub fn apply(
        &mut self,
        event: &NeedCaseEvent,
        version: u64,
        position: Position,
        occurred_at: DateTime<Utc>,
        actor_subject: &str,
    ) {
        self.state.apply(event, occurred_at);
        self.version = parts::view_version(version);
        self.position = position.raw();
        self.updated_at = self.updated_at.max(occurred_at);
        match event {
            NeedCaseEvent::NeedIdentified(_) => {
                self.identified_by = actor_subject.into();
                self.updated_at = occurred_at;
            }
            NeedCaseEvent::ReferralRequested(_) => {
                self.referred_by = Some(actor_subject.into());
            }
            NeedCaseEvent::ReferralRejected(r) => {
                self.rejections
                    .add(crate::equity::cube::rejection_index(r.reason));
            }
            _ => {}
        }
    }

    /// Folds `ev`, the domain event of the recorded event `e`.
    pub fn apply_recorded(&mut self, ev: &NeedCaseEvent, e: &RecordedEvent) {
        self.apply(
            ev,
            e.version,
            e.position,
            e.metadata.occurred_at,
            &e.metadata.actor.subject,
        );
        referral_log::record(&mut self.referral_log, ev, e);
        self.recorded_at = e.recorded_at;
    }

    /// Folds a whole stream (or its beginning). Events of other aggregates are ignored.
    pub fn from_history<'a>(events: impl IntoIterator<Item = &'a RecordedEvent>) -> Self {
        let mut view = Self::default();
        for e in events {
            if let DomainEvent::NeedCase(ev) = &e.event {
                view.apply_recorded(ev, e);
            }
        }
        view
    }

    /// The need case's data; `None` only for a view no event was folded into.
    pub fn data(&self) -> Option<&NeedCaseData> {
        self.state.data()
    }

    pub fn status(&self) -> NeedStatus {
        self.state.status().unwrap_or(NeedStatus::Identified)
    }

    pub fn site(&self) -> Option<&SiteId> {
        self.data().map(|d| &d.recipient.site)
    }

    pub fn open_referral(&self) -> Option<&Referral> {
        self.state.open_referral()
    }

    /// The log facts of one of its referrals.
    pub fn referral_log(&self, id: ReferralId) -> Option<&referral_log::ReferralLog> {
        self.referral_log.iter().find(|l| l.referral == id)
    }

    /// Its row in the equity cube, once its labels were interned there.
    pub fn equity_row(&self) -> Option<u32> {
        self.equity_row.get()
    }

    /// Unfinished, and nothing happened to it for `days` days before `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>, days: u32) -> bool {
        !self.status().is_finished() && self.updated_at < now - Duration::days(i64::from(days))
    }
}

/// What a `needCases` listing filters on. Every field narrows; `None` does not.
#[derive(Debug, Clone, Default)]
pub struct NeedCaseFilter {
    /// Only these sites (the caller's, once authorisation narrows it).
    pub sites: Option<Vec<SiteId>>,
    pub statuses: Option<Vec<NeedStatus>>,
    pub domain: Option<NeedDomain>,
    pub need: Option<NeedCode>,
    /// `Some(true)`: only overdue cases; `Some(false)`: only cases that are not.
    pub overdue: Option<bool>,
    pub recipient: Option<RecipientId>,
}

/// How "overdue" is judged: nothing happened for `days` days before `now`.
#[derive(Debug, Clone, Copy)]
pub struct Overdue {
    pub now: DateTime<Utc>,
    pub days: u32,
}

impl NeedCaseFilter {
    fn matches(&self, v: &NeedCaseView, overdue: Overdue) -> bool {
        let Some(d) = v.data() else { return false };
        if let Some(sites) = &self.sites
            && !sites.contains(&d.recipient.site)
        {
            return false;
        }
        if let Some(statuses) = &self.statuses
            && !statuses.contains(&v.status())
        {
            return false;
        }
        if self.domain.is_some_and(|x| x != d.domain) {
            return false;
        }
        if self.need.as_ref().is_some_and(|x| *x != d.need) {
            return false;
        }
        if self.recipient.is_some_and(|x| x != d.recipient.recipient) {
            return false;
        }
        if let Some(want) = self.overdue
            && v.is_overdue(overdue.now, overdue.days) != want
        {
            return false;
        }
        true
    }

    /// True when only unfinished need cases can match, so the scan can walk the
    /// (much smaller) set of open ones.
    fn only_unfinished(&self) -> bool {
        self.overdue == Some(true)
            || self
                .statuses
                .as_ref()
                .is_some_and(|s| s.iter().all(|s| !s.is_finished()))
    }
}

/// A page of a listing, in key order.
#[derive(Debug)]
pub struct Page<'a, K> {
    pub items: Vec<(K, &'a NeedCaseView)>,
    pub has_previous: bool,
    pub has_next: bool,
}

/// Which slice of a listing to return (Relay cursor pagination, already validated).
#[derive(Debug, Clone, Copy)]
pub enum Slice<K> {
    First { n: usize, after: Option<K> },
    Last { n: usize, before: Option<K> },
}

/// Where a worklist item sorts: the oldest update first (so the overdue lead), ties by id.
pub type WorklistKey = (DateTime<Utc>, NeedCaseId);

/// The read model. `position` is the checkpoint: every event up to it is folded in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Casework {
    position: u64,
    need_cases: BTreeMap<NeedCaseId, Box<NeedCaseView>>,
    /// Boxed: a hash table keeps up to twice its entries' room, which at a
    /// million recipients cost ~600 MB when the views were inline; found by
    /// the id each view holds (see `recipients.rs`).
    recipients: recipients::Recipients,
    /// Need cases that are not finished.
    open: BTreeSet<NeedCaseId>,
    directory: Directory,
    equity: Cube,
    /// API keys by id (their secrets' hashes, never the secrets).
    #[serde(default)]
    api_keys: BTreeMap<uuid::Uuid, ApiKeyView>,
    /// Notes on referrals, sealed, by need case (see [`notes`]).
    #[serde(default)]
    notes: BTreeMap<NeedCaseId, Vec<notes::NoteView>>,
    /// Webhook subscriptions by id (see [`webhooks`]).
    #[serde(default)]
    webhooks: BTreeMap<uuid::Uuid, webhooks::WebhookView>,
}

/// An API key as the API and the authentication check see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: uuid::Uuid,
    pub name: String,
    pub secret_sha256: String,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub position: u64,
}

/// The snapshot format; a snapshot of another format is discarded and rebuilt.
/// 13: MessagePack in sections, each with a checksum (see [`checkpoint`]),
/// instants as integers ([`careledger_domain::timestamp`]); 12 wrote them as
/// strings; up to 11 it was JSON.
const SNAPSHOT_FORMAT: u32 = 13;

impl Casework {
    pub const NAME: &'static str = "casework";

    /// Every event up to this position is folded in.
    pub fn position(&self) -> Position {
        Position::new(self.position)
    }

    pub fn need_case(&self, id: NeedCaseId) -> Option<&NeedCaseView> {
        self.need_cases.get(&id).map(|v| &**v)
    }

    pub fn recipient(&self, id: RecipientId) -> Option<&RecipientView> {
        self.recipients.get(id)
    }

    /// The need cases in id order, from `from` (inclusive) on.
    pub fn need_cases_from(
        &self,
        from: Option<NeedCaseId>,
    ) -> impl Iterator<Item = &NeedCaseView> + '_ {
        let start = from.map_or(Bound::Unbounded, Bound::Included);
        self.need_cases
            .range((start, Bound::Unbounded))
            .map(|(_, v)| &**v)
    }

    pub fn need_case_count(&self) -> usize {
        self.need_cases.len()
    }

    pub fn recipient_count(&self) -> usize {
        self.recipients.len()
    }

    /// Folds one recorded event. Events at or before the checkpoint are skipped, so
    /// a subscription that restarts a little early does no harm.
    pub fn apply(&mut self, e: &RecordedEvent) {
        if e.position.raw() <= self.position {
            return;
        }
        self.position = e.position.raw();
        match &e.event {
            DomainEvent::Recipient(RecipientEvent::CareRecipientRegistered(r)) => {
                self.recipients.insert(Box::new(RecipientView::registered(
                    std::sync::Arc::new(r.profile.clone()),
                    r.personal.clone(),
                    e,
                )));
            }
            DomainEvent::Recipient(RecipientEvent::CareRecipientErased(_)) => {
                let id = e
                    .stream
                    .as_str()
                    .strip_prefix("recipient-")
                    .and_then(|s| RecipientId::parse(s).ok());
                if let Some(r) = id.and_then(|id| self.recipients.get_mut(id)) {
                    r.personal = PersonalData::Erased(e.metadata.occurred_at);
                    r.version = parts::view_version(e.version);
                    r.position = e.position.raw();
                }
                if let Some(id) = id {
                    self.erase_notes(id);
                }
            }
            DomainEvent::NeedCase(ev) => self.need_case_event(ev, e),
            DomainEvent::Credential(ev) => {
                use careledger_domain::credential::CredentialEvent as C;
                match ev {
                    C::ApiKeyIssued(k) => {
                        self.api_keys.insert(
                            k.key_id,
                            ApiKeyView {
                                id: k.key_id,
                                name: k.name.clone(),
                                secret_sha256: k.secret_sha256.clone(),
                                issued_at: e.metadata.occurred_at,
                                issued_by: e.metadata.actor.subject.clone(),
                                revoked_at: None,
                                position: e.position.raw(),
                            },
                        );
                    }
                    C::ApiKeyRevoked(k) => {
                        if let Some(v) = self.api_keys.get_mut(&k.key_id) {
                            v.revoked_at = Some(e.metadata.occurred_at);
                            v.position = e.position.raw();
                        }
                    }
                }
            }
            DomainEvent::Webhook(ev) => self.webhook_event(ev, e),
            DomainEvent::Service(ev) => {
                if let Some(id) = e
                    .stream
                    .as_str()
                    .strip_prefix("service-")
                    .and_then(|s| ServiceId::parse(s).ok())
                {
                    self.directory.apply_service(id, ev, e);
                }
            }
        }
    }

    /// An API key by id.
    pub fn api_key(&self, id: uuid::Uuid) -> Option<&ApiKeyView> {
        self.api_keys.get(&id)
    }

    /// Every API key, by id.
    pub fn api_keys(&self) -> impl Iterator<Item = &ApiKeyView> {
        self.api_keys.values()
    }

    /// The equity-of-access cube.
    pub fn equity(&self) -> &Cube {
        &self.equity
    }

    /// A two-way equity table (stratifier × stratifier), summed over the need
    /// cases' cube keys.
    pub fn equity_two_way(
        &self,
        rows: crate::equity::cube::Stratifier,
        columns: crate::equity::cube::Stratifier,
        filter: &crate::equity::cube::CubeFilter,
    ) -> Vec<((String, String), crate::equity::cube::Counts)> {
        self.equity.two_way(rows, columns, filter)
    }

    /// The service directory and each service's load.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Need cases matching `filter`, in id order (ids are UUIDv7, so that is the
    /// order they were created in).
    pub fn need_cases(
        &self,
        filter: &NeedCaseFilter,
        overdue: Overdue,
        slice: Slice<NeedCaseId>,
    ) -> Page<'_, NeedCaseId> {
        let get = |id: &NeedCaseId| self.need_cases.get(id).map(|v| (*id, &**v));
        let keep = |&(_, v): &(NeedCaseId, &NeedCaseView)| filter.matches(v, overdue);
        let (lo, hi) = match slice {
            Slice::First { after, .. } => (
                after.map_or(Bound::Unbounded, Bound::Excluded),
                Bound::Unbounded,
            ),
            Slice::Last { before, .. } => (
                Bound::Unbounded,
                before.map_or(Bound::Unbounded, Bound::Excluded),
            ),
        };
        let scan: Box<dyn DoubleEndedIterator<Item = (NeedCaseId, &NeedCaseView)>> =
            if filter.only_unfinished() {
                Box::new(self.open.range((lo, hi)).filter_map(get))
            } else {
                Box::new(self.need_cases.range((lo, hi)).map(|(k, v)| (*k, &**v)))
            };
        match slice {
            Slice::First { n, after } => {
                let mut items: Vec<_> = scan.filter(keep).take(n + 1).collect();
                let has_next = items.len() > n;
                items.truncate(n);
                Page {
                    items,
                    has_previous: after.is_some(),
                    has_next,
                }
            }
            Slice::Last { n, before } => {
                let mut items: Vec<_> = scan.rev().filter(keep).take(n + 1).collect();
                let has_previous = items.len() > n;
                items.truncate(n);
                items.reverse();
                Page {
                    items,
                    has_previous,
                    has_next: before.is_some(),
                }
            }
        }
    }

    /// How many need cases match `filter`.
    pub fn count_need_cases(&self, filter: &NeedCaseFilter, overdue: Overdue) -> usize {
        if filter.only_unfinished() {
            self.open
                .iter()
                .filter_map(|id| self.need_cases.get(id))
                .filter(|v| filter.matches(v, overdue))
                .count()
        } else {
            self.need_cases
                .values()
                .filter(|v| filter.matches(v, overdue))
                .count()
        }
    }

    /// A coordinator's worklist at the given sites: every unfinished need case with
    /// an open referral or overdue (nothing happened for `overdue.days` days), the
    /// longest-untouched first. `referred_by` narrows it to the referrals one
    /// coordinator requested.
    pub fn worklist(
        &self,
        sites: &[SiteId],
        referred_by: Option<&str>,
        overdue: Overdue,
        slice: Slice<WorklistKey>,
    ) -> (Page<'_, WorklistKey>, usize) {
        let mut all: Vec<(WorklistKey, &NeedCaseView)> = self
            .open
            .iter()
            .filter_map(|id| self.need_cases.get(id).map(|v| ((v.updated_at, *id), &**v)))
            .filter(|(_, v)| v.site().is_some_and(|s| sites.contains(s)))
            .filter(|(_, v)| v.open_referral().is_some() || v.is_overdue(overdue.now, overdue.days))
            .filter(|(_, v)| {
                referred_by.is_none_or(|who| {
                    v.referred_by.as_deref() == Some(who) && v.open_referral().is_some()
                })
            })
            .collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        let total = all.len();
        let page = match slice {
            Slice::First { n, after } => {
                let start = after.map_or(0, |a| all.partition_point(|(k, _)| *k <= a));
                let rest = &all[start..];
                Page {
                    items: rest.iter().take(n).copied().collect(),
                    has_previous: start > 0,
                    has_next: rest.len() > n,
                }
            }
            Slice::Last { n, before } => {
                let end = before.map_or(all.len(), |b| all.partition_point(|(k, _)| *k < b));
                let start = end.saturating_sub(n);
                Page {
                    items: all[start..end].to_vec(),
                    has_previous: start > 0,
                    has_next: end < all.len(),
                }
            }
        };
        (page, total)
    }

    /// The model as checkpoint bytes (see [`checkpoint`]: MessagePack with a
    /// format number and a checksum).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.write_snapshot(&mut bytes)
            .expect("the read model serialises");
        bytes
    }

    /// Writes the checkpoint bytes of [`Self::to_snapshot`] to `w` as they are made.
    ///
    /// # Errors
    /// `w`'s I/O errors.
    pub fn write_snapshot(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        checkpoint::write(self, w)
    }

    /// A model from checkpoint bytes; `None` when they are of another format,
    /// damaged or unreadable (the caller then rebuilds from the log).
    pub fn from_snapshot(bytes: &[u8]) -> Option<Self> {
        Self::from_source(&bytes)
    }

    /// A model from a saved checkpoint, read a part at a time (two threads);
    /// `None` as for [`Self::from_snapshot`].
    pub fn from_source(src: &dyn careledger_domain::store::SnapshotSource) -> Option<Self> {
        let t = std::time::Instant::now();
        let mut m = checkpoint::read(src)?;
        let decoded = t.elapsed();
        m.compact_after_load();
        m.directory.share_profiles();
        tracing::info!(
            decode_ms = decoded.as_millis() as u64,
            compact_ms = (t.elapsed() - decoded).as_millis() as u64,
            "checkpoint decoded"
        );
        Some(m)
    }

    /// The same model at another position (tests of the runner's resumption).
    #[cfg(test)]
    pub(crate) fn at_position(mut self, position: u64) -> Self {
        self.position = position;
        self
    }
}

mod checkpoint;
mod fold;
mod footprint;
pub mod inbox;
pub mod notes;
mod parts;
mod recipient_view;
mod recipients;
pub mod referral_log;
pub mod webhooks;

#[cfg(test)]
mod tests;
