//! A provider's inbox: the open referrals addressed to their organisations —
//! unanswered (requested) first, then the rest, each group oldest first — read
//! from the need cases the model already holds and the directory it folds (a
//! referral's organisation is its service's, as the directory records it).

use super::{Casework, Slice};
use careledger_domain::ids::{NeedCaseId, OrganisationId, ReferralId};
use careledger_domain::need_case::{Referral, ReferralStatus};
use chrono::{DateTime, Utc};

/// Where an inbox entry sorts: unanswered first, then by when it was requested,
/// ties by referral id.
pub type InboxKey = (bool, DateTime<Utc>, ReferralId);

/// One entry: the referral and the need case it belongs to (the edge shows the
/// provider only the minimum necessary of it).
#[derive(Debug, Clone, Copy)]
pub struct InboxEntry<'a> {
    pub need_case: NeedCaseId,
    pub referral: &'a Referral,
    pub view: &'a super::NeedCaseView,
}

/// A page of an inbox, and how many entries it holds in all.
#[derive(Debug)]
pub struct InboxPage<'a> {
    pub items: Vec<(InboxKey, InboxEntry<'a>)>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: usize,
}

impl Casework {
    /// The open referrals addressed to `organisation`, in `statuses` (all open
    /// ones when `None`), as a page, and how many there are in all.
    pub fn inbox(
        &self,
        organisation: OrganisationId,
        statuses: Option<&[ReferralStatus]>,
        slice: Slice<InboxKey>,
    ) -> InboxPage<'_> {
        let org_of = |r: &Referral| {
            self.directory
                .service(r.service)
                .and_then(|s| s.state.data())
                .and_then(|d| d.profile.organisation_id)
        };
        let mut all: Vec<(InboxKey, InboxEntry<'_>)> = self
            .open
            .iter()
            .filter_map(|id| self.need_cases.get(id).map(|v| (*id, &**v)))
            .filter_map(|(id, v)| v.open_referral().map(|r| (id, v, r)))
            .filter(|(_, _, r)| org_of(r) == Some(organisation))
            .filter(|(_, _, r)| statuses.is_none_or(|s| s.contains(&r.status)))
            .map(|(id, v, r)| {
                let answered = r.status != ReferralStatus::Requested;
                (
                    (answered, r.requested_at, r.id),
                    InboxEntry {
                        need_case: id,
                        referral: r,
                        view: v,
                    },
                )
            })
            .collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        let total = all.len();
        let (start, end) = match slice {
            Slice::First { n, after } => {
                let start = after.map_or(0, |a| all.partition_point(|(k, _)| *k <= a));
                (start, (start + n).min(all.len()))
            }
            Slice::Last { n, before } => {
                let end = before.map_or(all.len(), |b| all.partition_point(|(k, _)| *k < b));
                (end.saturating_sub(n), end)
            }
        };
        InboxPage {
            has_previous: start > 0,
            has_next: end < all.len(),
            items: all.drain(start..end).collect(),
            total,
        }
    }
}
